using System.Runtime.InteropServices;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Hosting;

/// <summary>
/// The node executable: parse, validate, run a <see cref="KvNode"/> until SIGTERM or Ctrl-C, map failures to exit codes
/// (<see cref="NodeSettingsTable"/>). Scenarios:
/// <list type="number">
/// <item>SIGTERM or Ctrl-C at any time, start-up included: the node stops in order and the exit code is 0.</item>
/// <item>The cluster downs the node (<see cref="NodeExitReason.Downed"/>): with <see cref="NodeOptions.RestartWhenDowned"/>
/// (the default) a new incarnation starts in this process on the same data after <see cref="s_restartDelay"/> and joins
/// the cluster again; otherwise the exit code is <see cref="NodeSettingsTable.ExitDowned"/>.</item>
/// <item>The node left the cluster on request (<c>cluster leave</c>): exit code 0. The Raft node failed: exit code 1.</item>
/// </list>
/// </summary>
public static class NodeProgram
{
    /// <summary>Pause between a downed incarnation and the next (the cluster removes the old one meanwhile).</summary>
    private static readonly TimeSpan s_restartDelay = TimeSpan.FromSeconds(1);

    /// <summary>Runs the node until SIGTERM or Ctrl-C; returns the exit code (see <see cref="NodeSettingsTable"/>).</summary>
    /// <param name="args">The command line.</param>
    /// <param name="environment">The environment; null for the process's.</param>
    /// <param name="error">Where usage errors go; null for standard error.</param>
    /// <param name="output">Where --help goes; null for standard output.</param>
    /// <param name="stop">Stops the node like SIGTERM does (for tests); the process's signals stop it too.</param>
    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string?>? environment = null, TextWriter? error = null, TextWriter? output = null, CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        error ??= Console.Error;
        output ??= Console.Out;
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            await output.WriteAsync(NodeSettingsTable.HelpText()).ConfigureAwait(false);
            return NodeSettingsTable.ExitOk;
        }

        NodeOptions options;
        var configuration = new ConfigurationManager();
        try
        {
            var flags = NodeSettingsTable.ParseFlags(args, out var configFile);
            NodeSettingsTable.AddSources(configuration, flags, configFile, environment ?? NodeSettingsTable.ProcessEnvironment());
            options = NodeSettingsTable.Bind(configuration);
            options.Validate();
        }
        catch (Exception e) when (e is NodeConfigurationException or FileNotFoundException or InvalidDataException or FormatException)
        {
            await error.WriteLineAsync($"akkakv-node: error: {e.Message}").ConfigureAwait(false);
            await error.WriteLineAsync("Run with --help for every setting.").ConfigureAwait(false);
            return NodeSettingsTable.ExitUsage;
        }

        // The signals are ours from here on, before anything starts: a SIGTERM during start-up stops in order too.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigquit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Cancel);
        using var loggerFactory = LoggerFactory.Create(logging =>
        {
            logging.AddConfiguration(configuration.GetSection("Logging"));
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        });
        return await RunNodeAsync(options, loggerFactory, new KvNodeHooks(), stopping.Token).ConfigureAwait(false);

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stopping.Cancel();
        }
    }

    /// <summary>
    /// Runs a node until <paramref name="stop"/> and returns the exit code; a node the cluster downs is started again
    /// as a new incarnation on the same data (<see cref="NodeOptions.RestartWhenDowned"/>). The executable calls it with
    /// the process's signals; tests call it directly.
    /// </summary>
    /// <param name="options">Validated settings.</param>
    /// <param name="loggerFactory">Where the node logs.</param>
    /// <param name="hooks">Start-up extras (tests: extra HOCON).</param>
    /// <param name="stop">Stops the node in order (SIGTERM); also cancels a start-up in progress.</param>
    /// <param name="started">Called with each incarnation once it serves.</param>
    public static async Task<int> RunNodeAsync(NodeOptions options, ILoggerFactory loggerFactory, KvNodeHooks hooks, CancellationToken stop, Action<KvNode>? started = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(hooks);
        var log = loggerFactory.CreateLogger("KvCluster.Node");
        while (true)
        {
            KvNode node;
            try
            {
                node = await KvNode.StartAsync(options, loggerFactory, hooks, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                log.LogInformation("Stopped during start-up (SIGTERM or Ctrl-C).");
                return NodeSettingsTable.ExitOk;
            }
            catch (NodeDataException e)
            {
                log.LogCritical("Cannot start: {Reason}", e.Message);
                return NodeSettingsTable.ExitData;
            }
            catch (IOException e)
            {
                log.LogCritical("Cannot start: {Reason}. Is another node running? Use --port / --pbm-port / --client-port.", e.Message);
                return NodeSettingsTable.ExitPort;
            }
            catch (NodeConfigurationException e)
            {
                log.LogCritical("Cannot start: {Reason}", e.Message);
                return NodeSettingsTable.ExitUsage;
            }
            catch (Exception e)
            {
                log.LogCritical(e, "Cannot start: {Reason}", e.Message);
                return NodeSettingsTable.ExitFailed;
            }

            started?.Invoke(node);
            var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (stop.Register(() => signalled.TrySetResult()).ConfigureAwait(false))
            {
                await Task.WhenAny(node.Exited, signalled.Task).ConfigureAwait(false);
            }

            await node.StopAsync().ConfigureAwait(false);
            if (!node.Exited.IsCompleted || stop.IsCancellationRequested)
            {
                return NodeSettingsTable.ExitOk;
            }

            switch (await node.Exited.ConfigureAwait(false))
            {
                case NodeExitReason.Left:
                    log.LogInformation("Node {NodeId} left the cluster; not restarting (start it again to rejoin: the Raft leader adds it back).", options.Id);
                    return NodeSettingsTable.ExitOk;
                case NodeExitReason.Downed when options.RestartWhenDowned:
                    log.LogWarning("Node {NodeId} was downed by the cluster; starting a new incarnation on the same data in {Delay} ms.", options.Id, (int)s_restartDelay.TotalMilliseconds);
                    hooks = hooks with { Rejoining = true };
                    try
                    {
                        await Task.Delay(s_restartDelay, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return NodeSettingsTable.ExitOk;
                    }

                    continue;
                case NodeExitReason.Downed:
                    log.LogWarning("Node {NodeId} was downed by the cluster; exiting with code {Code} (restart it with the same data to rejoin).", options.Id, NodeSettingsTable.ExitDowned);
                    return NodeSettingsTable.ExitDowned;
                default:
                    // A RaftActor that cannot rebuild its state from the data directory (issue 17: the log was compacted
                    // and no valid snapshot covers it) is a data-directory failure: exit 3, as at claim time.
                    if (await node.RaftFailureAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false) is RaftUnrecoverableStateException unrecoverable)
                    {
                        log.LogCritical(
                            "Cannot start: the Raft state in {Journal} cannot be rebuilt: {Reason}",
                            RaftJournalConfig.DatabasePath(node.DataDirectory, new RaftJournalOptions()), unrecoverable.Message);
                        return NodeSettingsTable.ExitData;
                    }

                    return NodeSettingsTable.ExitFailed;
            }
        }
    }
}
