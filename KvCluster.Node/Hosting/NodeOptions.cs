using System.Globalization;
using System.Text.RegularExpressions;
using KvCluster.Client;

namespace KvCluster.Node.Hosting;

/// <summary>
/// Every setting of a node (configuration section <c>Node</c>: appsettings.json, <c>AKKAKV_Node__*</c> environment
/// variables, the Lighthouse-style aliases and flags; see <see cref="NodeSettingsTable"/>). Validate with
/// <see cref="Validate"/> before starting; the error names the setting.
/// </summary>
public sealed partial record NodeOptions
{
    /// <summary>This node's Raft id (1 or more), unique in the cluster.</summary>
    public ulong Id { get; init; } = 1;

    /// <summary>The actor system name; every node and client of one cluster uses the same.</summary>
    public string SystemName { get; init; } = KvWireTypes.DefaultSystemName;

    /// <summary>
    /// The cluster name written into the data directory's identity file (<c>node.id</c>): a directory of another
    /// cluster is refused. (Akka.Remote has no cluster name in its handshake; the actor system name plays that part.)
    /// </summary>
    public string ClusterName { get; init; } = "akkakv";

    /// <summary>The host the remoting listener binds and advertises (clients and peers dial it).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>
    /// The IP address to bind when it differs from <see cref="Host"/> (in a container: 0.0.0.0 while Host is the
    /// service name). Empty: bind Host when it is an IP address or localhost, else 0.0.0.0.
    /// </summary>
    public string BindHost { get; init; } = string.Empty;

    /// <summary>
    /// Start as a new member of an existing Raft group (it waits to be added with <c>raft add-member</c> on the
    /// leader) instead of bootstrapping the group of <see cref="Peers"/>.
    /// </summary>
    public bool Join { get; init; }

    /// <summary>The remoting port (clients and peers).</summary>
    public int Port { get; init; } = KvWireTypes.DefaultNodePort;

    /// <summary>The directory of the journal and snapshot files.</summary>
    public string DataDir { get; init; } = "./data";

    /// <summary>
    /// The initial Raft group as <c>id=host:port,...</c> (like etcd's --initial-cluster); must hold this node.
    /// Empty: a one-node group of this node.
    /// </summary>
    public string Peers { get; init; } = string.Empty;

    /// <summary>
    /// Akka.Cluster seed nodes as <c>akka.tcp://system@host:port,...</c> (the older <c>kv://system@host:port</c> form is
    /// accepted and read as akka.tcp); empty: the members of <see cref="Peers"/> seed each other, lowest id first.
    /// </summary>
    public string Seeds { get; init; } = string.Empty;

    /// <summary>SQLite durability of the journal: full (fsync every commit, default), normal, or off (unsafe).</summary>
    public string Sync { get; init; } = "full";

    /// <summary>The Raft tick in milliseconds (heartbeats every tick).</summary>
    public int TickMs { get; init; } = 100;

    /// <summary>The election timeout range in ticks: each election waits a random number of ticks in [min, max).</summary>
    public int ElectionTicksMin { get; init; } = 10;

    /// <summary>The upper end of the election timeout range in ticks.</summary>
    public int ElectionTicksMax { get; init; } = 20;

    /// <summary>The largest key in bytes.</summary>
    public int MaxKeyBytes { get; init; } = Kv.KvLimits.DefaultMaxKeyBytes;

    /// <summary>The largest value in bytes.</summary>
    public int MaxValueBytes { get; init; } = Kv.KvLimits.DefaultMaxValueBytes;

    /// <summary>The deadline of a request that names none, in milliseconds.</summary>
    public int RequestTimeoutMs { get; init; } = 5000;

    /// <summary>Requests a node holds in flight before it answers BUSY.</summary>
    public int MaxInFlight { get; init; } = 10_000;

    /// <summary>How long a graceful shutdown waits for requests in flight, in milliseconds.</summary>
    public int ShutdownTimeoutMs { get; init; } = 10_000;

    /// <summary>
    /// The client port: etcd's v3 gRPC API (cleartext HTTP/2, prior knowledge) and <c>/health</c>, <c>/version</c>,
    /// <c>/metrics</c> (HTTP/1.1) on one listener bound like the remoting port (<see cref="EffectiveBindHost"/>, else
    /// <see cref="Host"/>). 2379 by default, as etcd's; 0 turns it off.
    /// </summary>
    public int ClientPort { get; init; } = DefaultClientPort;

    /// <summary>
    /// The largest etcd request in bytes (its encoded protobuf message), as etcd's <c>--max-request-bytes</c> (1.5 MiB
    /// by default): a larger one is refused with <c>etcdserver: request is too large</c> before it reaches the log.
    /// </summary>
    public int MaxRequestBytes { get; init; } = DefaultMaxRequestBytes;

    /// <summary>
    /// How long a token from etcd's <c>Authenticate</c> stays valid, in seconds (etcd's <c>--auth-token-ttl</c>, 300 by
    /// default). A client authenticates again after it (etcdctl does at every run; clientv3 when told the token is invalid).
    /// </summary>
    public int AuthTokenTtl { get; init; } = 300;

    /// <summary>
    /// How often (ms) a watcher created with progress_notify and sent no event meanwhile gets a progress response, as
    /// etcd's <c>--experimental-watch-progress-notify-interval</c> (10 minutes by default).
    /// </summary>
    public int WatchProgressIntervalMs { get; init; } = 600_000;

    /// <summary>
    /// Responses one Watch stream may have queued for a client that does not read them; a watcher with more to send is
    /// cancelled with a reason (the client resumes from its last revision + 1).
    /// </summary>
    public int WatchMaxPendingResponses { get; init; } = 10_000;

    /// <summary>The watch hub's settings from these options.</summary>
    public KvCluster.Node.Watch.WatchHubSettings WatchHub() => new()
    {
        ProgressInterval = TimeSpan.FromMilliseconds(WatchProgressIntervalMs),
        MaxPendingResponses = WatchMaxPendingResponses,
        FragmentBytes = MaxRequestBytes,
    };

    /// <summary>The host of the pbm command listener.</summary>
    public string PbmHost { get; init; } = "127.0.0.1";

    /// <summary>The port of the pbm command listener; 0 turns it off.</summary>
    public int PbmPort { get; init; } = 9110;

    /// <summary>
    /// What the node does when the cluster downs it (the split-brain resolver, or <c>cluster down</c>): true (default)
    /// restarts its actor system in this process with the same data, as a new incarnation that joins again; false
    /// exits with <see cref="NodeSettingsTable.ExitDowned"/> for a supervisor (compose, systemd) to restart.
    /// </summary>
    public bool RestartWhenDowned { get; init; } = true;

    /// <summary>
    /// Loads Akka.Remote's throttler transport adapter so the <c>fault</c> pbm palette can black-hole links. Every node
    /// of the cluster must agree: addresses become <c>akka.trttl.tcp://</c>. Off by default (tests and chaos runs only).
    /// </summary>
    public bool FaultInjection { get; init; }

    /// <summary>The address the remoting listener binds (see <see cref="BindHost"/>), or null to bind <see cref="Host"/>.</summary>
    public string? EffectiveBindHost =>
        BindHost.Length > 0 ? BindHost
        : Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || System.Net.IPAddress.TryParse(Host, out _) ? null
        : "0.0.0.0";

    /// <summary>
    /// Automatic compaction of the history, as etcd's <c>--auto-compaction-mode</c>: <c>revision</c> (keep the newest
    /// <see cref="AutoCompactionRetention"/> revisions; the default), <c>periodic</c> (keep the revisions of the last
    /// <see cref="AutoCompactionRetention"/>, a duration such as 30m or 1h), or <c>off</c>. The leader proposes the
    /// compactions through the Raft log.
    /// </summary>
    public string AutoCompactionMode { get; init; } = "revision";

    /// <summary>What <see cref="AutoCompactionMode"/> keeps: a number of revisions (10000 by default) or a duration (s, m, h).</summary>
    public string AutoCompactionRetention { get; init; } = "10000";

    /// <summary>The lessor's settings, derived from the Raft timing (minimum TTL, leader-change extension).</summary>
    public KvCluster.Node.Kv.LeaseSettings LeaseSettings() =>
        KvCluster.Node.Kv.LeaseSettings.ForRaft(TimeSpan.FromMilliseconds(TickMs), ElectionTicksMin, ElectionTicksMax);

    /// <summary>The parsed automatic compaction settings.</summary>
    /// <exception cref="NodeConfigurationException">The mode or the retention is invalid.</exception>
    public KvCluster.Node.Kv.AutoCompactionSettings AutoCompaction()
    {
        var retention = AutoCompactionRetention.Trim();
        switch (AutoCompactionMode.Trim().ToLowerInvariant())
        {
            case "off":
                return new KvCluster.Node.Kv.AutoCompactionSettings { Mode = KvCluster.Node.Kv.AutoCompactionMode.Off };
            case "revision":
                Require(long.TryParse(retention, NumberStyles.None, CultureInfo.InvariantCulture, out var revisions) && revisions >= 1, nameof(AutoCompactionRetention), $"must be a number of revisions (1 or more) in revision mode, was '{retention}'");
                return new KvCluster.Node.Kv.AutoCompactionSettings { Mode = KvCluster.Node.Kv.AutoCompactionMode.Revision, RetainRevisions = revisions };
            case "periodic":
                var unit = retention.Length > 0 ? retention[^1] : ' ';
                var parsed = long.TryParse(retention.AsSpan(0, Math.Max(0, retention.Length - 1)), NumberStyles.None, CultureInfo.InvariantCulture, out var amount) && amount >= 1;
                var age = unit switch
                {
                    's' => TimeSpan.FromSeconds(amount),
                    'm' => TimeSpan.FromMinutes(amount),
                    'h' => TimeSpan.FromHours(amount),
                    _ => TimeSpan.Zero,
                };
                Require(parsed && age > TimeSpan.Zero, nameof(AutoCompactionRetention), $"must be a duration such as 30m or 1h in periodic mode, was '{retention}'");
                return new KvCluster.Node.Kv.AutoCompactionSettings { Mode = KvCluster.Node.Kv.AutoCompactionMode.Periodic, RetainAge = age };
            default:
                throw new NodeConfigurationException(nameof(AutoCompactionMode), $"must be revision, periodic or off, was '{AutoCompactionMode}'");
        }
    }

    /// <summary>The default <see cref="ClientPort"/>: etcd's client port.</summary>
    public const int DefaultClientPort = 2379;

    /// <summary>The default <see cref="MaxRequestBytes"/>: etcd's 1.5 MiB.</summary>
    public const int DefaultMaxRequestBytes = 1536 * 1024;

    /// <summary>The largest <see cref="MaxRequestBytes"/> accepted: 3.5 MiB (a command must fit a 4 MiB remoting frame).</summary>
    public const int MaxRequestBytesLimit = 3584 * 1024;

    /// <summary>The host the client listener binds: <see cref="EffectiveBindHost"/>, else <see cref="Host"/>.</summary>
    public string ClientBindHost => EffectiveBindHost ?? Host;

    /// <summary>The URL etcd clients dial (<c>http://host:clientport</c>), or null when <see cref="ClientPort"/> is 0.</summary>
    public string? ClientUrl => ClientPort == 0 ? null : string.Create(CultureInfo.InvariantCulture, $"{ClientScheme}://{Host}:{ClientPort}");

    /// <summary>This node's endpoint (what clients dial).</summary>
    public KvEndpoint Endpoint => new(Host, Port);

    /// <summary>
    /// Checks every setting and returns the parsed Raft group (id → endpoint).
    /// </summary>
    /// <exception cref="NodeConfigurationException">A setting is invalid; the exception names it.</exception>
    public IReadOnlyDictionary<ulong, KvEndpoint> Validate()
    {
        Require(Id >= 1, nameof(Id), $"must be 1 or more, was {Id}");
        Require(SystemNamePattern().IsMatch(SystemName), nameof(SystemName), $"'{SystemName}' must use letters, digits, '-' and '_', starting with a letter or digit");
        Require(!string.IsNullOrWhiteSpace(ClusterName), nameof(ClusterName), "must not be empty");
        Require(!string.IsNullOrWhiteSpace(Host), nameof(Host), "must not be empty");
        Require(Port is >= 1 and <= 65535, nameof(Port), $"must be 1-65535, was {Port}");
        Require(BindHost.Length == 0 || System.Net.IPAddress.TryParse(BindHost, out _), nameof(BindHost), $"must be an IP address, was '{BindHost}'");
        Require(!string.IsNullOrWhiteSpace(DataDir), nameof(DataDir), "must not be empty");
        Require(PbmPort is >= 0 and <= 65535, nameof(PbmPort), $"must be 0-65535, was {PbmPort}");
        Require(PbmPort == 0 || PbmPort != Port || PbmHost != Host, nameof(PbmPort), $"must differ from Port ({Port})");
        Require(ClientPort is >= 0 and <= 65535, nameof(ClientPort), $"must be 0-65535, was {ClientPort}");
        Require(ClientPort == 0 || ClientPort != Port, nameof(ClientPort), $"must differ from Port ({Port})");
        Require(ClientPort == 0 || ClientPort != PbmPort, nameof(ClientPort), $"must differ from PbmPort ({PbmPort})");
        Require(MaxRequestBytes is >= 1024 and <= MaxRequestBytesLimit, nameof(MaxRequestBytes), $"must be 1024-{MaxRequestBytesLimit} (a request must fit one 4 MiB remoting frame), was {MaxRequestBytes}");
        _ = AutoCompaction();
        ValidateSnapshots();
        Require(WatchProgressIntervalMs >= 100, nameof(WatchProgressIntervalMs), $"must be at least 100 ms, was {WatchProgressIntervalMs}");
        Require(WatchMaxPendingResponses >= 1, nameof(WatchMaxPendingResponses), $"must be at least 1, was {WatchMaxPendingResponses}");
        Require(TickMs >= 1, nameof(TickMs), $"must be at least 1, was {TickMs}");
        Require(ElectionTicksMin >= 2, nameof(ElectionTicksMin), $"must be at least 2 ticks (more than the heartbeat), was {ElectionTicksMin}");
        Require(ElectionTicksMax > ElectionTicksMin, nameof(ElectionTicksMax), $"must exceed ElectionTicksMin ({ElectionTicksMin}), was {ElectionTicksMax}");
        Require(MaxKeyBytes >= 1, nameof(MaxKeyBytes), $"must be at least 1, was {MaxKeyBytes}");
        Require(MaxValueBytes >= 0 && MaxValueBytes <= 3 * 1024 * 1024, nameof(MaxValueBytes), $"must be 0-3 MiB (a request must fit one 4 MiB remoting frame), was {MaxValueBytes}");
        Require(AuthTokenTtl is >= 1 and <= 31_536_000, nameof(AuthTokenTtl), $"must be 1-31536000 seconds, was {AuthTokenTtl}");
        Require(RequestTimeoutMs >= 1, nameof(RequestTimeoutMs), $"must be at least 1, was {RequestTimeoutMs}");
        Require(MaxInFlight >= 1, nameof(MaxInFlight), $"must be at least 1, was {MaxInFlight}");
        Require(ShutdownTimeoutMs >= 0, nameof(ShutdownTimeoutMs), $"must not be negative, was {ShutdownTimeoutMs}");
        _ = SyncMode();
        _ = SeedList();
        _ = LoadClientTls();
        return PeerMap();
    }

    /// <summary>The Akka.Remote scheme of this node's addresses: akka.tcp, or akka.trttl.tcp with <see cref="FaultInjection"/>.</summary>
    public string Scheme => FaultInjection ? "akka.trttl.tcp" : "akka.tcp";

    /// <summary>The journal's SQLite synchronous mode.</summary>
    /// <exception cref="NodeConfigurationException">The value is not full, normal or off.</exception>
    public JournalSyncMode SyncMode() => Sync.Trim().ToLowerInvariant() switch
    {
        "full" => JournalSyncMode.Full,
        "normal" => JournalSyncMode.Normal,
        "off" => JournalSyncMode.Off,
        _ => throw new NodeConfigurationException(nameof(Sync), $"must be full, normal or off, was '{Sync}'"),
    };

    /// <summary>The Akka address of the node at <paramref name="endpoint"/> (same system name and scheme as this one).</summary>
    public string AddressOf(KvEndpoint endpoint) => string.Create(CultureInfo.InvariantCulture, $"{Scheme}://{SystemName}@{endpoint.Host}:{endpoint.Port}");

    /// <summary>The seed addresses, normalized to this node's scheme (<c>akka.tcp://system@host:port</c>).</summary>
    /// <exception cref="NodeConfigurationException">An item is not an address of this actor system.</exception>
    public IReadOnlyList<string> SeedList()
    {
        var seeds = new List<string>();
        foreach (var seed in Seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var match = SeedPattern().Match(seed);
            if (!match.Success)
            {
                throw new NodeConfigurationException(nameof(Seeds), $"'{seed}' is not akka.tcp://system@host:port");
            }

            var system = match.Groups["system"].Value;
            if (system != SystemName)
            {
                throw new NodeConfigurationException(nameof(Seeds), $"'{seed}' names actor system '{system}', but this node's is '{SystemName}' (SystemName / ACTORSYSTEM); Akka.Cluster joins only a system of the same name");
            }

            KvEndpoint endpoint;
            try
            {
                endpoint = KvEndpoint.Parse(match.Groups["endpoint"].Value);
            }
            catch (FormatException e)
            {
                throw new NodeConfigurationException(nameof(Seeds), $"'{seed}': {e.Message}");
            }

            seeds.Add(AddressOf(endpoint));
        }

        return seeds;
    }

    private IReadOnlyDictionary<ulong, KvEndpoint> PeerMap()
    {
        var map = new Dictionary<ulong, KvEndpoint>();
        if (string.IsNullOrWhiteSpace(Peers))
        {
            map[Id] = Endpoint;
            return map;
        }

        foreach (var item in Peers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = item.IndexOf('=');
            if (equals <= 0 || !ulong.TryParse(item[..equals], NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id == 0)
            {
                throw new NodeConfigurationException(nameof(Peers), $"'{item}' is not id=host:port with an id of 1 or more");
            }

            KvEndpoint endpoint;
            try
            {
                endpoint = KvEndpoint.Parse(item[(equals + 1)..]);
            }
            catch (FormatException e)
            {
                throw new NodeConfigurationException(nameof(Peers), e.Message);
            }

            if (!map.TryAdd(id, endpoint))
            {
                throw new NodeConfigurationException(nameof(Peers), $"node id {id} appears twice");
            }
        }

        Require(map.ContainsKey(Id), nameof(Peers), $"must hold this node's id {Id}");
        Require(map[Id].Port == Port, nameof(Peers), $"gives port {map[Id].Port} for this node ({Id}), but Port is {Port}");
        Require(map.Values.Distinct().Count() == map.Count, nameof(Peers), "two nodes share an endpoint");
        return map;
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_-]*$")]
    private static partial Regex SystemNamePattern();

    [GeneratedRegex("^(?:akka(?:\\.trttl)?\\.tcp|kv)://(?<system>[^@/]+)@(?<endpoint>[^/]+)/?$")]
    private static partial Regex SeedPattern();

    private static void Require(bool condition, string setting, string problem)
    {
        if (!condition)
        {
            throw new NodeConfigurationException(setting, problem);
        }
    }
}

/// <summary>SQLite durability of the Raft journal (<c>PRAGMA synchronous</c>), in WAL mode.</summary>
public enum JournalSyncMode
{
    /// <summary>fsync on every commit: an acknowledged write survives power loss (the default).</summary>
    Full,

    /// <summary>fsync at WAL checkpoints only: survives a process crash, may lose the last commits on power loss.</summary>
    Normal,

    /// <summary>No fsync: unsafe, for benchmarks of everything but the disk.</summary>
    Off,
}

/// <summary>A node setting is invalid; <see cref="Setting"/> names it (as <c>Node:Name</c>).</summary>
public sealed class NodeConfigurationException : Exception
{
    /// <summary>Creates the error.</summary>
    /// <param name="setting">The property name in <see cref="NodeOptions"/>.</param>
    /// <param name="problem">What is wrong with its value.</param>
    /// <param name="isFlag">True when <paramref name="setting"/> is not a property (the flags, the settings as a whole).</param>
    public NodeConfigurationException(string setting, string problem, bool isFlag = false)
        : base(isFlag ? $"{problem}." : $"Node:{setting} {problem}.")
    {
        Setting = isFlag ? setting : "Node:" + setting;
    }

    /// <summary>The configuration key of the bad setting.</summary>
    public string Setting { get; }
}
