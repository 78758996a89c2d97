using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace KvCluster.Node.Hosting;

/// <summary>
/// The node's settings as the command line, the environment and appsettings.json spell them. Precedence, lowest first:
/// defaults, appsettings.json (beside the executable), the file of <c>--config</c>, the Lighthouse-style variables
/// (<c>ACTORSYSTEM</c>, <c>CLUSTER_IP</c>, <c>CLUSTER_PORT</c>, <c>CLUSTER_SEEDS</c>), <c>AKKAKV_Node__&lt;Name&gt;</c>
/// variables, flags.
/// </summary>
public static class NodeSettingsTable
{
    /// <summary>Prefix of the node's environment variables (<c>AKKAKV_Node__Port=4055</c>).</summary>
    public const string EnvironmentPrefix = "AKKAKV_";

    /// <summary>Exit code: the node ran and stopped in order.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code: the node failed while running (its Raft journal failed, for instance).</summary>
    public const int ExitFailed = 1;

    /// <summary>Exit code: a flag or setting is invalid.</summary>
    public const int ExitUsage = 2;

    /// <summary>Exit code: the data directory is unusable (corrupted, from another node, not writable).</summary>
    public const int ExitData = 3;

    /// <summary>Exit code: a port could not be bound (in use?).</summary>
    public const int ExitPort = 4;

    /// <summary>
    /// Exit code: the cluster downed this node (split-brain resolver or <c>cluster down</c>) and
    /// <see cref="NodeOptions.RestartWhenDowned"/> is false. Nothing is lost: restart it with the same data and it
    /// rejoins as a new incarnation.
    /// </summary>
    public const int ExitDowned = 5;

    /// <summary>Every setting: its key under <c>Node</c>, its flag, its Lighthouse alias if any, and what it does.</summary>
    public static IReadOnlyList<NodeSetting> All { get; } =
    [
        new(nameof(NodeOptions.Id), "--node-id", null, "Raft node id, unique in the cluster"),
        new(nameof(NodeOptions.Host), "--host", "CLUSTER_IP", "host to bind and advertise for peers and clients"),
        new(nameof(NodeOptions.Port), "--port", "CLUSTER_PORT", "remoting port for peers and clients"),
        new(nameof(NodeOptions.ClientPort), "--client-port", null, "etcd v3 gRPC API, /health, /version, /metrics (0: off)"),
        new(nameof(NodeOptions.AutoCompactionMode), "--auto-compaction-mode", null, "history compaction: revision (keep N revisions), periodic (keep an age), off"),
        new(nameof(NodeOptions.AutoCompactionRetention), "--auto-compaction-retention", null, "revisions kept (revision mode, 10000) or an age such as 1h (periodic)"),
        new(nameof(NodeOptions.SnapshotCount), "--snapshot-count", null, "entries applied between snapshots (the log before one is then compacted)"),
        new(nameof(NodeOptions.SnapshotBytes), "--snapshot-bytes", null, "log bytes applied that also trigger a snapshot (0: off)"),
        new(nameof(NodeOptions.SnapshotLogRatio), "--snapshot-log-ratio", null, "also snapshot once the log since the last snapshot is this many times its size (0: off)"),
        new(nameof(NodeOptions.SnapshotOnStopRatio), "--snapshot-on-stop-ratio", null, "an orderly stop snapshots first when the log since the last snapshot is this fraction of its size (0: off)"),
        new(nameof(NodeOptions.SnapshotCatchupEntries), "--snapshot-catchup-entries", null, "entries kept behind a snapshot for slow followers"),
        new(nameof(NodeOptions.CertFile), "--cert-file", null, "PEM certificate of the client port: TLS (https) when set, with --key-file"),
        new(nameof(NodeOptions.KeyFile), "--key-file", null, "PEM private key of --cert-file"),
        new(nameof(NodeOptions.TrustedCaFile), "--trusted-ca-file", null, "PEM CA that signs client certificates (--client-cert-auth)"),
        new(nameof(NodeOptions.ClientCertAuth), "--client-cert-auth", null, "true: clients must present a certificate signed by --trusted-ca-file"),
        new(nameof(NodeOptions.MaxRequestBytes), "--max-request-bytes", null, "largest etcd request (etcdserver: request is too large)"),
        new(nameof(NodeOptions.AuthTokenTtl), "--auth-token-ttl", null, "seconds an etcd auth token stays valid (etcd's default 300)"),
        new(nameof(NodeOptions.WatchProgressIntervalMs), "--watch-progress-interval-ms", null, "progress response to idle progress_notify watchers (600000 = etcd's 10 min)"),
        new(nameof(NodeOptions.WatchMaxPendingResponses), "--watch-max-pending", null, "unread responses per Watch stream before a watcher is cancelled as too slow"),
        new(nameof(NodeOptions.BindHost), "--bind-host", null, "IP to bind when Host is a name peers resolve (default then 0.0.0.0)"),
        new(nameof(NodeOptions.DataDir), "--data-dir", null, "directory of the journal (journal.db) and snapshots"),
        new(nameof(NodeOptions.Peers), "--peers", null, "initial Raft group id=host:port,... (empty: this node alone)"),
        new(nameof(NodeOptions.Join), "--join", null, "true: join an existing Raft group (raft add-member on the leader)"),
        new(nameof(NodeOptions.Seeds), "--seeds", "CLUSTER_SEEDS", "Akka.Cluster seeds akka.tcp://system@host:port,... (empty: the Raft group's members)"),
        new(nameof(NodeOptions.SystemName), "--system-name", "ACTORSYSTEM", "actor system name, the same on every node"),
        new(nameof(NodeOptions.ClusterName), "--cluster-name", null, "cluster name in the data directory's identity (node.id)"),
        new(nameof(NodeOptions.Sync), "--sync", null, "journal durability: full (fsync), normal, off (unsafe)"),
        new(nameof(NodeOptions.TickMs), "--tick-ms", null, "Raft tick in ms (a heartbeat every tick)"),
        new(nameof(NodeOptions.ElectionTicksMin), "--election-ticks-min", null, "election timeout range start, in ticks"),
        new(nameof(NodeOptions.ElectionTicksMax), "--election-ticks-max", null, "election timeout range end, in ticks"),
        new(nameof(NodeOptions.MaxKeyBytes), "--max-key-bytes", null, "largest key"),
        new(nameof(NodeOptions.MaxValueBytes), "--max-value-bytes", null, "largest value"),
        new(nameof(NodeOptions.RequestTimeoutMs), "--request-timeout-ms", null, "deadline of a request that names none"),
        new(nameof(NodeOptions.MaxInFlight), "--max-in-flight", null, "requests in flight before answering busy"),
        new(nameof(NodeOptions.ShutdownTimeoutMs), "--shutdown-timeout-ms", null, "graceful shutdown wait for requests in flight"),
        new(nameof(NodeOptions.PbmHost), "--pbm-host", null, "host of the pbm command listener"),
        new(nameof(NodeOptions.PbmPort), "--pbm-port", null, "port of the pbm command listener (0: off)"),
        new(nameof(NodeOptions.RestartWhenDowned), "--restart-when-downed", null, "true: a node downed by the cluster restarts in-process; false: exit 5"),
        new(nameof(NodeOptions.FaultInjection), "--fault-injection", null, "true: load Akka.Remote's throttler for the fault palette (every node alike)"),
    ];

    /// <summary>The text of <c>--help</c>: usage, every setting with its default, the exit codes.</summary>
    public static string HelpText()
    {
        var defaults = new NodeOptions();
        var text = new StringBuilder();
        text.AppendLine("akkakv node: one member of an AkkaKv cluster (Raft-replicated key-value store).");
        text.AppendLine();
        text.AppendLine("Usage: dotnet run --project KvCluster.Node -- [--flag value]...");
        text.AppendLine("       (no flags: a one-node store on 127.0.0.1:4054 with its data under ./data,");
        text.AppendLine("        etcd's v3 API and /health, /version, /metrics on 127.0.0.1:2379)");
        text.AppendLine();
        text.AppendLine("Settings (flag | appsettings key / AKKAKV_Node__<Name> variable | alias | default):");
        foreach (var setting in All)
        {
            var value = typeof(NodeOptions).GetProperty(setting.Key)!.GetValue(defaults);
            var shown = value is string s && s.Length == 0 ? "(empty)" : Convert.ToString(value, CultureInfo.InvariantCulture);
            text.AppendLine(CultureInfo.InvariantCulture, $"  {setting.Flag,-22} Node:{setting.Key,-18} {setting.Alias ?? string.Empty,-14} {shown}");
            text.AppendLine(CultureInfo.InvariantCulture, $"  {string.Empty,-22} {setting.Description}");
        }

        text.AppendLine("  --config <file>        a JSON file with a \"Node\" section, read after appsettings.json");
        text.AppendLine("  --help                 this text");
        text.AppendLine();
        text.AppendLine("Three nodes on one machine:");
        text.AppendLine("  --node-id 1 --port 4054 --client-port 2379 --data-dir data/n1 --pbm-port 9111 --peers 1=127.0.0.1:4054,2=127.0.0.1:4055,3=127.0.0.1:4056");
        text.AppendLine("  (and the same with ids 2 and 3, ports 4055 and 4056, client ports 2380 and 2381, data/n2 and data/n3, pbm 9112 and 9113)");
        text.AppendLine();
        text.AppendLine("Exit codes: 0 stopped in order, 1 failed while running, 2 invalid flag or setting,");
        text.AppendLine("            3 data directory unusable (corrupted, another node's, locked by a running node,");
        text.AppendLine("              written by the in-house runtime before Akka.NET, its compacted log covered by no valid");
        text.AppendLine("              snapshot, or a restore image beside an existing journal), 4 port in use,");
        text.AppendLine("            5 downed by the cluster with --restart-when-downed false (restart it with the same data).");
        return text.ToString();
    }

    /// <summary>
    /// Parses <paramref name="args"/> (<c>--flag value</c> or <c>--flag=value</c>) into configuration keys.
    /// </summary>
    /// <param name="args">The command line.</param>
    /// <param name="configFile">The file of <c>--config</c>, or null.</param>
    /// <exception cref="NodeConfigurationException">An unknown flag, or a flag without a value.</exception>
    public static IReadOnlyDictionary<string, string?> ParseFlags(string[] args, out string? configFile)
    {
        ArgumentNullException.ThrowIfNull(args);
        configFile = null;
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string flag;
            string? value = null;
            var equals = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                flag = arg[..equals];
                value = arg[(equals + 1)..];
            }
            else
            {
                flag = arg;
            }

            var setting = All.FirstOrDefault(s => string.Equals(s.Flag, flag, StringComparison.Ordinal));
            if (setting is null && flag != "--config")
            {
                throw new NodeConfigurationException("flags", $"'{arg}' is not a flag of the node (see --help)", isFlag: true);
            }

            if (value is null && setting is not null && IsSwitch(setting) && (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
            {
                value = "true"; // a boolean flag alone, as etcd's `--client-cert-auth`
            }

            if (value is null)
            {
                if (i + 1 >= args.Length)
                {
                    throw new NodeConfigurationException("flags", $"{flag} needs a value", isFlag: true);
                }

                value = args[++i];
            }

            if (setting is null)
            {
                configFile = value;
            }
            else
            {
                values["Node:" + setting.Key] = value;
            }
        }

        return values;
    }

    private static bool IsSwitch(NodeSetting setting) => typeof(NodeOptions).GetProperty(setting.Key)?.PropertyType == typeof(bool);

    /// <summary>Adds the node's configuration sources to <paramref name="configuration"/> in precedence order.</summary>
    /// <param name="configuration">The host's configuration manager.</param>
    /// <param name="flags">What <see cref="ParseFlags"/> returned.</param>
    /// <param name="configFile">The <c>--config</c> file, or null.</param>
    /// <param name="environment">The process environment (a parameter so tests can pass their own).</param>
    public static void AddSources(IConfigurationBuilder configuration, IReadOnlyDictionary<string, string?> flags, string? configFile, IReadOnlyDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        if (configFile is not null)
        {
            configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }

        var aliases = new Dictionary<string, string?>();
        foreach (var setting in All.Where(s => s.Alias is not null))
        {
            if (environment.TryGetValue(setting.Alias!, out var value) && !string.IsNullOrEmpty(value))
            {
                aliases["Node:" + setting.Key] = value;
            }
        }

        configuration.AddInMemoryCollection(aliases);
        var prefixed = environment
            .Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            .ToDictionary(kv => kv.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), kv => kv.Value);
        configuration.AddInMemoryCollection(prefixed);
        configuration.AddInMemoryCollection(flags);
    }

    /// <summary>Binds the <c>Node</c> section; an unknown key or a value of the wrong type is an error naming the key.</summary>
    /// <exception cref="NodeConfigurationException">A key is unknown or a value does not convert.</exception>
    public static NodeOptions Bind(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        try
        {
            return configuration.GetSection("Node").Get<NodeOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new NodeOptions();
        }
        catch (InvalidOperationException e)
        {
            throw new NodeConfigurationException("settings", e.Message.TrimEnd('.'), isFlag: true);
        }
    }

    /// <summary>The process environment as a dictionary.</summary>
    public static IReadOnlyDictionary<string, string?> ProcessEnvironment() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value);
}

/// <summary>One node setting.</summary>
/// <param name="Key">Its name in <see cref="NodeOptions"/> and under the <c>Node</c> configuration section.</param>
/// <param name="Flag">Its command-line flag.</param>
/// <param name="Alias">Its Lighthouse-style environment variable, or null.</param>
/// <param name="Description">What it does.</param>
public sealed record NodeSetting(string Key, string Flag, string? Alias, string Description);
