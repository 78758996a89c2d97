using KvCluster.Actors;
using KvCluster.Actors.Cmd;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Sqlite;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Actors.Remote.Transport;
using KvCluster.Client;
using KvCluster.Node.Kv;
using KvCluster.Node.Membership;
using KvCluster.Node.Pbm;
using KvCluster.Node.Router;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using Microsoft.Extensions.Logging;
using ClusterExtension = KvCluster.Actors.Cluster.Cluster;
using ClusterSettings = KvCluster.Actors.Cluster.ClusterSettings;

namespace KvCluster.Node.Hosting;

/// <summary>
/// One running AkkaKv node: an actor system with remoting, SQLite persistence, cluster membership, the RaftActor
/// (<c>/user/raft</c>) over a <see cref="KvStateMachine"/>, the router (<c>/user/kv-router</c>) and the receptionist
/// (<c>/user/receptionist</c>). The Generic Host runs it through <see cref="KvNodeService"/>; tests start it directly.
/// Scenarios:
/// <list type="number">
/// <item><see cref="StartAsync"/>: validate the settings, claim the data directory (a directory of another node or
/// cluster is refused), bind the port, open the journal (a corrupted file is refused, named, and left untouched),
/// start the actors. The Raft node recovers its term, vote and log from the journal and re-applies committed
/// entries, so a restarted node has every committed write.</item>
/// <item><see cref="StopAsync"/> (SIGTERM, Ctrl-C): the router refuses new requests and finishes those in flight,
/// the Raft node stops after its last journal write, the system terminates and the journal closes.</item>
/// <item><see cref="Failed"/> completes if the Raft node stops by itself (a failed journal write): the host exits.</item>
/// </list>
/// </summary>
public sealed class KvNode : IAsyncDisposable
{
    /// <summary>The file that ties a data directory to one node of one cluster.</summary>
    public const string IdentityFileName = "node.id";

    private readonly TaskCompletionSource _raftStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<ulong, KvEndpoint> _members = new();
    private CommandHost? _commands;
    private readonly ILogger _log;
    private int _stopping;

    private KvNode(NodeOptions options, ActorSystem system, ILogger log)
    {
        Options = options;
        System = system;
        _log = log;
        _raftStopped.Task.ContinueWith(
            _ =>
            {
                if (Volatile.Read(ref _stopping) == 0)
                {
                    _log.LogCritical("Node {NodeId}: the Raft node stopped by itself (see the error above); the node cannot serve.", NodeId);
                    _failed.TrySetResult();
                }
            },
            TaskScheduler.Default);
    }

    /// <summary>The settings the node runs with.</summary>
    public NodeOptions Options { get; }

    /// <summary>The node's actor system.</summary>
    public ActorSystem System { get; }

    /// <summary>This node's Raft id.</summary>
    public ulong NodeId => Options.Id;

    /// <summary>host:port clients dial.</summary>
    public KvEndpoint Endpoint => Options.Endpoint;

    /// <summary>The RaftActor.</summary>
    public IActorRef Raft { get; private set; } = ActorRefs.Nobody;

    /// <summary>The router.</summary>
    public IActorRef Router { get; private set; } = ActorRefs.Nobody;

    /// <summary>The pbm command host (null when <see cref="NodeOptions.PbmPort"/> is 0).</summary>
    public CommandHost? Commands => _commands;

    /// <summary>The members this node knows by id (the initial group and those added at run time), this node included.</summary>
    public IReadOnlyDictionary<ulong, KvEndpoint> Members
    {
        get
        {
            lock (_members)
            {
                return new Dictionary<ulong, KvEndpoint>(_members);
            }
        }
    }

    /// <summary>
    /// Makes a member known to this node's Raft actor and router (before <c>raft add-member</c> asks the leader to add
    /// it, the leader needs a way to reach it). Thread-safe.
    /// </summary>
    /// <param name="id">The member's Raft id.</param>
    /// <param name="endpoint">Its remoting endpoint.</param>
    public void RegisterPeer(ulong id, KvEndpoint endpoint)
    {
        Dictionary<ulong, IActorRef> refs;
        lock (_members)
        {
            _members[id] = endpoint;
            refs = _members.Where(m => m.Key != NodeId).ToDictionary(m => m.Key, m => (IActorRef)System.Provider.ResolveActorRef($"{AddressOf(m.Value)}/user/raft"));
        }

        Raft.Tell(new SetPeers(refs), ActorRefs.NoSender);
        Router.Tell(new AddPeer(new KvPeer(id, endpoint, System.Provider.ResolveActorRef($"{AddressOf(endpoint)}{KvWireTypes.RouterPath}"))), ActorRefs.NoSender);
    }

    /// <summary>Completes when the Raft node stopped without <see cref="StopAsync"/> asking (its journal failed).</summary>
    public Task Failed => _failed.Task;

    /// <summary>Starts a node.</summary>
    /// <param name="options">Its settings (validated here).</param>
    /// <param name="loggerFactory">Where every component logs.</param>
    /// <param name="cancellationToken">Cancels binding the port.</param>
    /// <exception cref="NodeConfigurationException">A setting is invalid.</exception>
    /// <exception cref="NodeDataException">The data directory is unusable; the message names the file.</exception>
    /// <exception cref="IOException">The port could not be bound.</exception>
    public static async Task<KvNode> StartAsync(NodeOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var members = options.Validate();
        var dataDir = ClaimDataDirectory(options);
        var registry = new MessageSerializerRegistry();
        RaftActor.RegisterWireTypes(registry);
        KvWireTypes.Register(registry);
        ClusterExtension.RegisterMessages(registry);
        var remote = new RemoteSettings
        {
            SystemName = options.SystemName,
            Host = options.Host,
            BindHost = options.EffectiveBindHost,
            Port = options.Port,
            ClusterName = options.ClusterName,
        };
        var setup = ActorSystemSetup.Default with { LoggerFactory = loggerFactory };
        var system = await RemoteActorSystem.CreateAsync(remote, setup, registry, cancellationToken).ConfigureAwait(false);
        var node = new KvNode(options, system, loggerFactory.CreateLogger<KvNode>());
        try
        {
            node.StartActors(members, dataDir, loggerFactory);
            if (options.PbmPort != 0)
            {
                node._commands = new CommandHost(system, new CommandHostSettings { Host = options.PbmHost, Port = options.PbmPort })
                    .RegisterDefaultPalettes()
                    .Register(new RaftCommandPalette(node))
                    .Register(new FaultCommandPalette(node));
                await node._commands.StartAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            if (node._commands is not null)
            {
                await node._commands.DisposeAsync().ConfigureAwait(false);
            }

            await RemoteActorSystem.TerminateAsync(system).ConfigureAwait(false);
            throw;
        }

        node._log.LogInformation(
            "AkkaKv node {NodeId} serving at {Endpoint} (system {Address}); Raft group {Members}; data in {DataDir}.",
            options.Id, options.Endpoint, system.GetExtension<RemoteExtension>()!.Transport.LocalAddress, string.Join(",", members.Select(m => $"{m.Key}={m.Value}")), dataDir);
        return node;
    }

    /// <summary>
    /// Stops in order: refuse new requests and finish those in flight (up to <see cref="NodeOptions.ShutdownTimeoutMs"/>),
    /// stop the Raft node after its last journal write, terminate the system, close the journal. Idempotent.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            await System.WhenTerminated.ConfigureAwait(false);
            return;
        }

        var timeout = TimeSpan.FromMilliseconds(Math.Max(1, Options.ShutdownTimeoutMs));
        _log.LogInformation("Node {NodeId}: shutting down (finishing requests in flight, up to {Timeout} ms).", NodeId, Options.ShutdownTimeoutMs);
        try
        {
            await Router.Ask<Drained>(StopAccepting.Instance, timeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            _log.LogWarning("Node {NodeId}: requests still in flight after {Timeout} ms; stopping anyway (their clients see a timeout).", NodeId, Options.ShutdownTimeoutMs);
        }

        if (_commands is not null)
        {
            await _commands.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            // A batch that only moved the commit index is not synced on the answer's path: write it now, so the
            // restarted node resumes with the commit index it had (and serves its data before it hears a leader).
            await Raft.Ask<HardStateSynced>(SyncHardState.Instance, timeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            _log.LogWarning("Node {NodeId}: the Raft hard state was not synced within {Timeout} ms; stopping anyway (the restarted node re-learns its commit index from the leader).", NodeId, Options.ShutdownTimeoutMs);
        }

        System.Stop(Raft);
        await Task.WhenAny(_raftStopped.Task, Task.Delay(timeout)).ConfigureAwait(false);
        await RemoteActorSystem.TerminateAsync(System).ConfigureAwait(false);
        _log.LogInformation("Node {NodeId}: stopped; the journal is closed.", NodeId);
    }

    /// <summary>
    /// Stops abruptly, as a crash would (for tests): connections drop at once, nothing is drained. Acknowledged writes
    /// are on disk already; the journal file is closed so the same process can reopen it.
    /// </summary>
    public async Task AbortAsync()
    {
        Interlocked.Exchange(ref _stopping, 1);
        if (_commands is not null)
        {
            await _commands.DisposeAsync().ConfigureAwait(false);
        }

        if (System.GetExtension<RemoteExtension>() is { } remote)
        {
            await remote.Transport.DisposeAsync().ConfigureAwait(false);
        }

        await System.Terminate().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private void StartActors(IReadOnlyDictionary<ulong, KvEndpoint> members, string dataDir, ILoggerFactory loggerFactory)
    {
        var sqlite = new SqliteStoreOptions { Synchronous = Options.SyncMode(), LoggerFactory = loggerFactory };
        try
        {
            Persistence.Configure(System, PersistenceSettings.Sqlite(dataDir, sqlite) with { Serializer = RaftJournalEvents.CreateSerializer() });
        }
        catch (PersistenceStoreException e)
        {
            throw new NodeDataException($"The journal in {dataDir} cannot be used: {e.Message}", e);
        }

        lock (_members)
        {
            foreach (var (id, endpoint) in members)
            {
                _members[id] = endpoint;
            }
        }

        var limits = new KvLimits { MaxKeyBytes = Options.MaxKeyBytes, MaxValueBytes = Options.MaxValueBytes };
        var raftPeers = members.Where(m => m.Key != Options.Id).ToDictionary(m => m.Key, m => (IActorRef)System.Provider.ResolveActorRef($"{AddressOf(m.Value)}/user/raft"));
        var raftSettings = new RaftActorSettings
        {
            Raft = new RaftConfig
            {
                NodeId = Options.Id,
                Voters = Options.Join ? [] : [.. members.Keys.Order()],
                Join = Options.Join,
                ElectionTimeoutMinTicks = Options.ElectionTicksMin,
                ElectionTimeoutMaxTicks = Options.ElectionTicksMax,
            },
            StateMachineFactory = () => new KvRaftStateMachine(limits),
            TickInterval = TimeSpan.FromMilliseconds(Options.TickMs),
        };
        Raft = System.ActorOf(RaftActor.Props(raftSettings, raftPeers), "raft");
        System.ActorOf(NodeWatcher.Props(Raft, _raftStopped), "raft-watcher");
        var peers = members.ToDictionary(
            m => m.Key,
            m => new KvPeer(m.Key, m.Value, System.Provider.ResolveActorRef($"{AddressOf(m.Value)}{KvWireTypes.RouterPath}")));
        var routerSettings = new KvRouterSettings
        {
            DefaultTimeout = TimeSpan.FromMilliseconds(Options.RequestTimeoutMs),
            MaxTimeout = TimeSpan.FromMilliseconds(Math.Max(Options.RequestTimeoutMs, 60_000)),
            MaxInFlight = Options.MaxInFlight,
        };
        Router = System.ActorOf(KvRouter.Props(routerSettings, Options.Id, Raft, peers, new KvRequestValidator(limits)), "kv-router");
        System.ActorOf(KvReceptionist.Props(Options.Id, Router, Raft, peers), "receptionist");

        var seeds = Options.SeedList();
        // No seeds configured: the Raft group's members seed each other, the lowest id first (Akka's rule: the first
        // seed of its own list forms the cluster, the others join it), so a static group also forms one cluster.
        string[] seedList = seeds.Count > 0 ? [.. seeds] : [.. members.OrderBy(m => m.Key).Select(m => AddressOf(m.Value))];
        ClusterExtension.Start(System, new ClusterSettings { SeedNodes = [.. seedList], Roles = ["kv"] });
        System.ActorOf(RaftMembershipFollower.Props(this), "raft-membership");
    }

    private string AddressOf(KvEndpoint endpoint) => new RemoteAddress(Options.SystemName, endpoint.Host, endpoint.Port).ToString();

    /// <summary>Creates the data directory or checks that it belongs to this node of this cluster.</summary>
    private static string ClaimDataDirectory(NodeOptions options)
    {
        var dataDir = Path.GetFullPath(options.DataDir);
        var identity = $"cluster={options.ClusterName}\nnode={options.Id}\n";
        var file = Path.Combine(dataDir, IdentityFileName);
        try
        {
            Directory.CreateDirectory(dataDir);
            if (File.Exists(file))
            {
                var found = File.ReadAllText(file);
                if (found != identity)
                {
                    throw new NodeDataException(
                        $"The data directory {dataDir} belongs to another node ({file} says '{found.ReplaceLineEndings(" ").Trim()}', this node is '{identity.ReplaceLineEndings(" ").Trim()}'). Use that node's id, or another --data-dir.");
                }
            }
            else
            {
                File.WriteAllText(file, identity);
            }
        }
        catch (IOException e)
        {
            throw new NodeDataException($"The data directory {dataDir} is not usable: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new NodeDataException($"The data directory {dataDir} is not writable: {e.Message}", e);
        }

        return dataDir;
    }
}

/// <summary>The node's data directory cannot be used; the message names the directory or file and why.</summary>
public sealed class NodeDataException : Exception
{
    /// <summary>Creates the error.</summary>
    public NodeDataException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
