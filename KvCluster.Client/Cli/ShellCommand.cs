using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace KvCluster.Client.Cli;

/// <summary>
/// <c>kv shell</c>: an interactive prompt that runs the data commands over one connection. Lines are parsed exactly
/// like the command line (<c>put a b</c>, <c>get a --consistency s</c>); <c>history</c> lists the lines entered (kept
/// in <c>~/.kv_history</c> between sessions, or <c>$KV_HISTORY</c>), <c>help</c> shows the commands, <c>exit</c> or end
/// of input leaves. An error in one line prints its message and the prompt continues.
/// </summary>
internal static class ShellCommand
{
    /// <summary>Environment variable naming the history file.</summary>
    public const string HistoryVariable = "KV_HISTORY";

    /// <summary>Lines of history kept.</summary>
    private const int MaxHistory = 1000;

    /// <summary>Builds the <c>shell</c> command over <paramref name="root"/>'s commands.</summary>
    public static Command Create(Command root, GlobalOptions globals, KvConsole console, CliSession session)
    {
        var command = new Command("shell", "Interactive prompt: run put/get/del/scan/cas over one connection; history, help, exit.");
        command.SetAction((parse, token) => session.RunAsync(parse, globals, console, (client, _) => RunAsync(root, client, console, session, token), token));
        return command;
    }

    private static async Task<int> RunAsync(Command root, KvClient client, KvConsole console, CliSession session, CancellationToken token)
    {
        var historyFile = console.GetEnvironmentVariable(HistoryVariable)
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kv_history");
        var history = LoadHistory(historyFile);
        session.Shared = client;
        console.Out.WriteLine($"Connected to {string.Join(",", client.Endpoints)}. Type help for commands, exit to leave.");
        try
        {
            while (!token.IsCancellationRequested)
            {
                console.Out.Write("kv> ");
                console.Out.Flush();
                var line = await console.In.ReadLineAsync(token).ConfigureAwait(false);
                if (line is null)
                {
                    console.Out.WriteLine();
                    break;
                }

                line = line.Trim();
                if (line.Length == 0)
                {
                    continue;
                }

                if (line is "exit" or "quit")
                {
                    break;
                }

                Remember(history, historyFile, line);
                if (line == "history")
                {
                    for (var i = 0; i < history.Count; i++)
                    {
                        console.Out.WriteLine($"{i + 1,5}  {history[i]}");
                    }

                    continue;
                }

                var tokens = CommandLineParser.SplitCommandLine(line == "help" ? "--help" : line).ToArray();
                if (tokens.Length > 0 && tokens[0] is "shell" or "bench")
                {
                    console.Error.WriteLine($"kv: error: '{tokens[0]}' cannot run inside the shell");
                    continue;
                }

                var parse = root.Parse(tokens);
                if (parse.Action is ParseErrorAction)
                {
                    KvCli.UsageError(parse, KvCli.MostSpecificError(parse), console);
                    continue;
                }

                await parse.InvokeAsync(new InvocationConfiguration { Output = console.Out, Error = console.Error }, token).ConfigureAwait(false);
            }
        }
        finally
        {
            session.Shared = null;
        }

        return ExitCodes.Success;
    }

    private static List<string> LoadHistory(string file)
    {
        try
        {
            return File.Exists(file) ? [.. File.ReadLines(file).TakeLast(MaxHistory)] : [];
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static void Remember(List<string> history, string file, string line)
    {
        history.Add(line);
        if (history.Count > MaxHistory)
        {
            history.RemoveAt(0);
        }

        try
        {
            File.AppendAllLines(file, [line]);
        }
        catch (IOException)
        {
            // History is a convenience: an unwritable file must not break the shell.
        }
        catch (UnauthorizedAccessException)
        {
            // Same as above.
        }
    }
}
