using KvCluster.Client.Bench;
using Spectre.Console;

namespace KvCluster.Client.Cli;

internal static partial class BenchCommand
{
    /// <summary>The message for a known target that this build cannot drive.</summary>
    internal const string TargetNotAvailable = "not available in this build";

    /// <summary>
    /// Connects the target, runs the load and prints the report. Returns 0 when every request
    /// succeeded; 3/4/5 when the target is unreachable or requests failed (most frequent kind);
    /// 130 when interrupted, after printing what was measured until then.
    /// </summary>
    internal static async Task<int> RunAsync(BenchSettings settings, bool json, KvConsole console, CancellationToken cancellationToken)
    {
        var target = console.CreateBenchTarget(settings.Target);
        if (target is null)
        {
            console.Error.WriteLine($"kv: bench --target {settings.Target}: {TargetNotAvailable}");
            return ExitCodes.Unavailable;
        }

        await using (target.ConfigureAwait(false))
        {
            try
            {
                await target.ConnectAsync(settings, cancellationToken).ConfigureAwait(false);
            }
            catch (BenchTargetException e)
            {
                console.Error.WriteLine($"kv: bench: {e.Message}");
                return ExitCodes.For(e.Kind);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                console.Error.WriteLine("kv: bench: interrupted while connecting");
                return ExitCodes.Interrupted;
            }

            var ansi = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(console.Out),
                Ansi = console.IsInteractive ? AnsiSupport.Detect : AnsiSupport.No,
                ColorSystem = console.IsInteractive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
                Interactive = console.IsInteractive ? InteractionSupport.Yes : InteractionSupport.No,
            });
            if (!console.IsInteractive)
            {
                // Redirected output has no terminal width; keep report lines whole for scripts and logs.
                ansi.Profile.Width = 200;
            }

            var runner = new BenchRunner(settings, target);
            var result = console.IsInteractive && !json
                ? await RunWithProgressAsync(runner, settings, ansi, cancellationToken).ConfigureAwait(false)
                : await runner.RunAsync(cancellationToken).ConfigureAwait(false);

            if (json)
            {
                BenchReport.WriteJson(result, console.Out);
            }
            else
            {
                BenchReport.WriteTable(result, ansi);
            }

            if (result.ErrorCount > 0)
            {
                console.Error.WriteLine($"kv: bench: {result.ErrorCount} requests failed; first: {result.FirstError}");
            }

            if (cancellationToken.IsCancellationRequested)
            {
                console.Error.WriteLine("kv: bench: interrupted; the report covers the requests finished before that");
                return ExitCodes.Interrupted;
            }

            return result.ExitCode;
        }
    }

    private static Task<BenchResult> RunWithProgressAsync(BenchRunner runner, BenchSettings settings, IAnsiConsole ansi, CancellationToken cancellationToken) =>
        ansi.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("bench", maxValue: settings.Total ?? settings.Duration!.Value.TotalSeconds);
                var run = runner.RunAsync(cancellationToken);
                while (!run.IsCompleted)
                {
                    // Bounded: the run ends by itself at its deadline or total.
                    await Task.WhenAny(run, Task.Delay(250, CancellationToken.None)).ConfigureAwait(false);
                    if (runner.StartTimestamp == 0)
                    {
                        task.Description = "warming up";
                        continue;
                    }

                    var finished = runner.Finished;
                    task.Value = settings.Total is not null
                        ? finished
                        : Math.Min(task.MaxValue, TimeProvider.System.GetElapsedTime(runner.StartTimestamp).TotalSeconds);
                    task.Description = $"{finished} requests";
                }

                task.Value = task.MaxValue;
                return await run.ConfigureAwait(false);
            });
}
