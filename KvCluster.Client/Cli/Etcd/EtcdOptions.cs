using System.CommandLine;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// The global options of the etcd-API path, named as etcdctl names them: <c>--via</c> (etcd, the default, or akka),
/// <c>-w/--write-out</c>, <c>--dial-timeout</c>, <c>--command-timeout</c>.
/// </summary>
internal sealed class EtcdOptions
{
    /// <summary>The default endpoint of the etcd API: a member on this machine's default client port.</summary>
    public const string DefaultEndpoint = "127.0.0.1:2379";

    /// <summary>Environment variable giving the default of <c>--via</c> (etcd or akka).</summary>
    public const string ViaVariable = "KV_VIA";

    /// <summary>Creates the options with their defaults and help.</summary>
    public EtcdOptions()
    {
        Via.AcceptOnlyFromAmong("etcd", "akka");
        WriteOut.AcceptOnlyFromAmong("simple", "json", "fields", "table");
    }

    /// <summary><c>--via</c>: which API the data commands use.</summary>
    public Option<string> Via { get; } = new("--via")
    {
        Description = "API of the data commands: etcd (the etcd v3 gRPC API, default) or akka (AkkaKv's Akka.NET ClusterClient; --endpoints are then node ports). Default: $KV_VIA, else etcd.",
        DefaultValueFactory = _ => "etcd",
        Recursive = true,
    };

    /// <summary><c>-w</c> / <c>--write-out</c>: etcdctl's output formats.</summary>
    public Option<string?> WriteOut { get; } = new("--write-out", "-w")
    {
        Description = "Output of the etcd-API commands: simple (default), json (etcdctl's JSON: header, base64 keys and values), fields, or table.",
        HelpName = "simple|json|fields|table",
        Recursive = true,
    };

    /// <summary><c>--dial-timeout</c>.</summary>
    public Option<TimeSpan> DialTimeout { get; } = new("--dial-timeout")
    {
        Description = "Bound on opening a connection to an endpoint.",
        DefaultValueFactory = _ => TimeSpan.FromSeconds(2),
        CustomParser = r => BenchCommand.ParseDurationArgument(r) ?? TimeSpan.Zero,
        HelpName = "duration",
        Recursive = true,
    };

    /// <summary><c>--command-timeout</c>.</summary>
    public Option<TimeSpan> CommandTimeout { get; } = new("--command-timeout")
    {
        Description = "Deadline of the command's requests (etcd API; --timeout is accepted too).",
        DefaultValueFactory = _ => TimeSpan.FromSeconds(5),
        CustomParser = r => BenchCommand.ParseDurationArgument(r) ?? TimeSpan.Zero,
        HelpName = "duration",
        Recursive = true,
    };

    /// <summary>Every option, to add to the root command.</summary>
    public IEnumerable<Option> All => [Via, WriteOut, DialTimeout, CommandTimeout];
}
