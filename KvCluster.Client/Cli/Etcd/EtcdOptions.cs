using System.CommandLine;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// The global options of the etcd-API path, named as etcdctl names them: <c>--via</c> (etcd, the default, or akka),
/// <c>-w/--write-out</c>, <c>--dial-timeout</c>, <c>--command-timeout</c>, and TLS: <c>--cacert</c>, <c>--cert</c>,
/// <c>--key</c>, <c>--insecure-skip-tls-verify</c>, and etcd's auth: <c>--user</c>, <c>--password</c>.
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

    /// <summary><c>--cacert</c>: etcdctl's CA bundle flag.</summary>
    public Option<string?> CaCert { get; } = new("--cacert")
    {
        Description = "Verify the members' TLS certificates with this PEM CA bundle (TLS for every endpoint).",
        HelpName = "file",
        Recursive = true,
    };

    /// <summary><c>--cert</c>: a client certificate.</summary>
    public Option<string?> Cert { get; } = new("--cert")
    {
        Description = "PEM client certificate to present (with --key), for members started with --client-cert-auth.",
        HelpName = "file",
        Recursive = true,
    };

    /// <summary><c>--key</c>: the client certificate's key.</summary>
    public Option<string?> Key { get; } = new("--key")
    {
        Description = "PEM private key of --cert.",
        HelpName = "file",
        Recursive = true,
    };

    /// <summary><c>--insecure-skip-tls-verify</c>.</summary>
    public Option<bool> InsecureSkipTlsVerify { get; } = new("--insecure-skip-tls-verify")
    {
        Description = "Speak TLS without checking the members' certificates (tests only).",
        Recursive = true,
    };

    /// <summary><c>--user</c>: etcdctl's credentials flag.</summary>
    public Option<string?> User { get; } = new("--user")
    {
        Description = "Authenticate as this user (members with etcd's auth enabled): name:password, or name with --password.",
        HelpName = "name[:password]",
        Recursive = true,
    };

    /// <summary><c>--password</c>: the password of <c>--user</c>, when it may contain a colon.</summary>
    public Option<string?> Password { get; } = new("--password")
    {
        Description = "Password of --user (instead of name:password).",
        HelpName = "password",
        Recursive = true,
    };

    /// <summary>Every option, to add to the root command.</summary>
    public IEnumerable<Option> All => [Via, WriteOut, DialTimeout, CommandTimeout, CaCert, Cert, Key, InsecureSkipTlsVerify, User, Password];
}
