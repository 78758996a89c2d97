using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;

namespace KvCluster.Client.Cli;

/// <summary>
/// The `kv` command line: global options, the command tree and the exit-code contract.
/// A usage error (unknown command, bad or missing option) prints one error line and the
/// command's usage on standard error and exits 2; no stack trace.
/// </summary>
internal static class KvCli
{
    /// <summary>Environment variable holding the default <c>--endpoints</c>.</summary>
    public const string EndpointsVariable = "KV_ENDPOINTS";

    /// <summary>Builds the command tree; <paramref name="console"/> is captured by the command actions.</summary>
    public static Command CreateRoot(KvConsole console)
    {
        var endpoints = new Option<string?>("--endpoints")
        {
            Description = $"Cluster members as host:port,host:port... (default: ${EndpointsVariable}, else 127.0.0.1:2379 for the etcd API).",
            HelpName = "host:port,...",
            Recursive = true,
        };
        var output = new Option<string>("--output")
        {
            Description = "Result format: a table for people or one JSON object for scripts.",
            DefaultValueFactory = _ => "table",
            Recursive = true,
        };
        output.AcceptOnlyFromAmong("table", "json");

        var globals = new GlobalOptions(endpoints, output);
        var etcd = new Etcd.EtcdOptions();
        // A plain Command named "kv" rather than RootCommand, whose name would be the host
        // executable's ("testhost" in tests, "dotnet" under `dotnet kv.dll`).
        var root = new Command("kv", "kv: the AkkaKv console client. The data and admin commands speak the etcd v3 gRPC API " +
            "(any AkkaKv node's client port, or etcd; --endpoints default 127.0.0.1:2379) with etcdctl's flags and output; " +
            "--via akka sends the data commands through AkkaKv's Akka.NET ClusterClient instead.\n\n" + ExitCodes.HelpText)
        {
            Options = { new HelpOption(), new VersionOption(), endpoints, output },
        };
        foreach (var option in etcd.All)
        {
            root.Options.Add(option);
        }

        var session = new CliSession();
        DataCommands.AddTo(root, globals, etcd, console, session);
        root.Subcommands.Add(Etcd.TxnCommand.Create(globals, etcd, console));
        root.Subcommands.Add(Etcd.WatchCommand.Create(globals, etcd, console));
        Etcd.EtcdAdminCommands.AddTo(root, globals, etcd, console);
        Etcd.LeaseCommands.AddTo(root, globals, etcd, console);
        Etcd.AuthCommands.AddTo(root, globals, etcd, console);
        root.Subcommands.Add(Etcd.SnapshotCommand.Create(globals, etcd, console));
        root.Subcommands.Add(ShellCommand.Create(root, globals, console, session));
        root.Subcommands.Add(BenchCommand.Create(globals, console));
        root.Subcommands.Add(PbmCommand.Create(globals, console));
        return root;
    }

    /// <summary>Parses <paramref name="args"/>, runs the chosen command and returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, KvConsole console, CancellationToken cancellationToken = default)
    {
        var root = CreateRoot(console);
        var parseResult = root.Parse(args);
        if (parseResult.Action is ParseErrorAction)
        {
            return UsageError(parseResult, MostSpecificError(parseResult), console);
        }

        // Ctrl+C / SIGTERM cancel the command's token so it can stop and report what it measured;
        // a second signal terminates as usual. (System.CommandLine's own handling is switched off:
        // it exits 130 without waiting for the report.)
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = console.HandleSignals ? PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt) : null;
        using var sigterm = console.HandleSignals ? PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt) : null;
        var configuration = new InvocationConfiguration
        {
            Output = console.Out,
            Error = console.Error,
            ProcessTerminationTimeout = null,
        };
        return await parseResult.InvokeAsync(configuration, interrupt.Token).ConfigureAwait(false);

        void Interrupt(PosixSignalContext context)
        {
            context.Cancel = !interrupt.IsCancellationRequested;
            interrupt.Cancel();
        }
    }

    /// <summary>
    /// The parse error to show: an unrecognised token or bad value explains more than the
    /// "Required command was not provided." that accompanies it for <c>kv foo</c>.
    /// </summary>
    internal static string MostSpecificError(ParseResult parseResult)
    {
        var errors = parseResult.Errors;
        var chosen = errors.FirstOrDefault(e => e.SymbolResult is not System.CommandLine.Parsing.CommandResult) ?? errors[0];
        foreach (var error in errors)
        {
            if (error.Message.StartsWith("Unrecognized", StringComparison.Ordinal))
            {
                chosen = error;
                break;
            }
        }

        return chosen.Message;
    }

    /// <summary>
    /// Reports a usage error: <c>kv: error: {message}</c> on one line, then the usage of the
    /// command that was being parsed, all on standard error. Returns <see cref="ExitCodes.Usage"/>.
    /// </summary>
    public static int UsageError(ParseResult parseResult, string message, KvConsole console)
    {
        // One line, even for the parser's multi-line messages ("Must be one of:\n\t'a'\n\t'b'").
        var oneLine = string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        console.Error.WriteLine($"kv: error: {oneLine}");
        console.Error.WriteLine();

        // Render the help of the innermost recognised command by parsing "<path> --help".
        var path = new List<string>();
        for (var command = parseResult.CommandResult; command.Parent is System.CommandLine.Parsing.CommandResult parent; command = parent)
        {
            path.Insert(0, command.Command.Name);
        }

        path.Add("--help");
        var help = parseResult.RootCommandResult.Command.Parse(path);
        help.Invoke(new InvocationConfiguration { Output = console.Error, Error = console.Error });
        return ExitCodes.Usage;
    }
}

/// <summary>The options every command accepts.</summary>
/// <param name="Endpoints">The <c>--endpoints</c> option.</param>
/// <param name="Output">The <c>--output</c> option (<c>table</c> or <c>json</c>).</param>
internal sealed record GlobalOptions(Option<string?> Endpoints, Option<string> Output);
