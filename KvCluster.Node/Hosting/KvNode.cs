using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using KvCluster.Client;
using KvCluster.Node.Etcd;
using KvCluster.Node.Kv;
using KvCluster.Node.Membership;
using KvCluster.Node.Pbm;
using KvCluster.Node.Router;
using KvCluster.Pbm;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Hosting;

/// <summary>
/// One running AkkaKv node: an Akka.NET actor system built by Akka.Hosting (remoting, Akka.Cluster with the split-brain
/// resolver, Akka.Persistence.Sql on SQLite, the cluster client receptionist), the RaftActor (<c>/user/raft</c>) over a
/// <see cref="KvStateMachine"/>, the router (<c>/user/kv-router</c>, registered with the receptionist) and the membership
/// follower. The executable runs it through <see cref="NodeProgram"/>; tests start it directly. Scenarios:
/// <list type="number">
/// <item><see cref="StartAsync(NodeOptions, ILoggerFactory, CancellationToken)"/>: validate the settings, claim the data
/// directory (<see cref="NodeDataDirectory"/>: locked for the node's life; another node's or an old runtime's directory is
/// refused), check the port, start the actor system, start the actors. The Raft node recovers its term, vote and log from
/// the journal and re-applies committed entries, so a restarted node has every committed write. Cancelled (SIGTERM during
/// start-up): whatever started is stopped in order and <see cref="OperationCanceledException"/> is thrown.</item>
/// <item><see cref="StopAsync"/> (SIGTERM, Ctrl-C) runs Akka's CoordinatedShutdown, to which the node added its steps:
/// the router leaves the receptionist, refuses new requests and finishes those in flight; the pbm host stops; the Raft
/// node syncs its hard state and stops after its last journal write; the node marks itself Down (an orderly stop is a
/// restart, not a leave: the Raft configuration keeps it); the cluster shuts down and the system terminates; the data
/// directory is unlocked.</item>
/// <item><see cref="Exited"/> completes when the node stops by itself: its Raft node failed (a journal write), the cluster
/// downed it (split-brain resolver, <c>cluster down</c>), or it left the cluster on an operator's <c>cluster leave</c>.
/// The caller then calls <see cref="StopAsync"/> (which only releases what is left) and decides: exit, or start a new
/// incarnation (<see cref="NodeProgram"/>).</item>
/// </list>
/// </summary>
public sealed partial class KvNode : IAsyncDisposable
{
    private readonly TaskCompletionSource _raftStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<NodeExitReason> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<ulong, KvEndpoint> _members = new();
    private readonly IHost _host;
    private readonly NodeDataDirectory _data;
    private readonly ILogger _log;
    private CommandHost? _commands;
    private EtcdServer? _etcd;

    /// <summary>1 once <see cref="StopAsync"/> or <see cref="AbortAsync"/> began.</summary>
    private int _stopping;

    /// <summary>1 when the stop is a simulated crash (<see cref="AbortAsync"/>): nothing is drained or synced.</summary>
    private int _aborting;

    private KvNode(NodeOptions options, IHost host, ActorSystem system, NodeDataDirectory data, ILogger log)
    {
        Options = options;
        _host = host;
        System = system;
        _data = data;
        _log = log;
    }

    /// <summary>The settings the node runs with.</summary>
    public NodeOptions Options { get; }

    /// <summary>The node's actor system.</summary>
    public ActorSystem System { get; }

    /// <summary>This node's Raft id.</summary>
    public ulong NodeId => Options.Id;

    /// <summary>host:port clients dial.</summary>
    public KvEndpoint Endpoint => Options.Endpoint;

    /// <summary>The data directory (locked while the node runs).</summary>
    public string DataDirectory => _data.Path;

    /// <summary>The RaftActor.</summary>
    public IActorRef Raft { get; private set; } = ActorRefs.Nobody;

    /// <summary>Where the state machine leaves the captures etcd's Maintenance.Snapshot asks for (<see cref="KvSnapshotExchange"/>).</summary>
    public KvSnapshotExchange SnapshotExchange { get; } = new();

    /// <summary>The watch hub (<c>/user/watch-hub</c>): serves the etcd Watch streams of this node from its applied state.</summary>
    public IActorRef WatchHub { get; private set; } = ActorRefs.Nobody;

    /// <summary>The store's feed to the watch hub; it also knows the newest applied revision.</summary>
    private Watch.WatchEventFeed? _watchFeed;

    /// <summary>The auth store of the applied state, published by the state machine on every change.</summary>
    private volatile Kv.KvAuthState _auth = Kv.KvAuthState.Initial;

    /// <summary>
    /// etcd's auth store as of this node's applied state (users, roles, the enabled flag), read without a hop by the
    /// client port's token and admin checks. The state machine checks every command again when it applies it.
    /// </summary>
    internal Kv.KvAuthState Auth => _auth;

    /// <summary>The newest revision this node's store has applied (etcd's header revision); any thread.</summary>
    internal long AppliedRevision => _watchFeed?.Revision ?? Kv.KvStateMachine.InitialRevision;

    /// <summary>Gives a new store (the RaftActor creates one at every start) the hub's feed.</summary>
    private static KvRaftStateMachine WithWatchFeed(KvRaftStateMachine machine, Watch.WatchEventFeed feed)
    {
        machine.Store.Events = feed;
        return machine;
    }

    /// <summary>The router.</summary>
    public IActorRef Router { get; private set; } = ActorRefs.Nobody;

    /// <summary>The client port's server: etcd's gRPC API, /health, /version, /metrics (null when <see cref="NodeOptions.ClientPort"/> is 0).</summary>
    public EtcdServer? ClientServer => _etcd;

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
    /// Completes when the node stopped without <see cref="StopAsync"/> asking: with <see cref="NodeExitReason.Failed"/>
    /// (its Raft node stopped: a journal failure), <see cref="NodeExitReason.Downed"/> (the cluster downed it) or
    /// <see cref="NodeExitReason.Left"/> (it left the cluster on request). Never completes for an orderly stop.
    /// </summary>
    public Task<NodeExitReason> Exited => _exited.Task;

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
            refs = _members.Where(m => m.Key != NodeId).ToDictionary(m => m.Key, m => Resolve(m.Value, RaftPath));
        }

        Raft.Tell(new SetPeers(refs), ActorRefs.NoSender);
        Router.Tell(new AddPeer(new KvPeer(id, endpoint, Resolve(endpoint, KvWireTypes.RouterPath))), ActorRefs.NoSender);
    }

    /// <summary>Starts a node.</summary>
    /// <param name="options">Its settings (validated here).</param>
    /// <param name="loggerFactory">Where every component logs (Akka's log included).</param>
    /// <param name="cancellationToken">Cancels the start-up: what started is stopped in order, then it throws.</param>
    /// <exception cref="NodeConfigurationException">A setting is invalid.</exception>
    /// <exception cref="NodeDataException">The data directory is unusable, locked or old; the message names it.</exception>
    /// <exception cref="IOException">A port could not be bound.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task<KvNode> StartAsync(NodeOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default) =>
        StartAsync(options, loggerFactory, new KvNodeHooks(), cancellationToken);

    /// <summary>Starts a node with <paramref name="hooks"/> (extra HOCON for tests, the rejoin after being downed).</summary>
    /// <inheritdoc cref="StartAsync(NodeOptions, ILoggerFactory, CancellationToken)"/>
    public static async Task<KvNode> StartAsync(NodeOptions options, ILoggerFactory loggerFactory, KvNodeHooks hooks, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(hooks);
        var members = options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        var log = loggerFactory.CreateLogger<KvNode>();
        var data = NodeDataDirectory.Claim(options);
        IHost? host = null;
        KvNode? node = null;
        try
        {
            var journal = JournalConfig(options, data.Path);
            if (options.SyncMode() != JournalSyncMode.Full)
            {
                // RaftJournalOptions has no synchronous setting yet: the journal keeps SQLite's FULL (durable) mode.
                log.LogWarning("Node {NodeId}: Node:Sync={Sync} is not applied; the Akka.Persistence.Sql journal runs SQLite with synchronous=FULL.", options.Id, options.Sync);
            }

            EnsurePortFree(options);
            host = BuildHost(options, members, journal, loggerFactory, hooks);
            try
            {
                await host.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (FindSocketError(e) is { } socket)
            {
                throw new IOException($"the remoting port {options.EffectiveBindHost ?? options.Host}:{options.Port} could not be bound: {socket.Message}", e);
            }

            var system = host.Services.GetService(typeof(ActorSystem)) as ActorSystem
                ?? throw new InvalidOperationException("Akka.Hosting did not start an actor system.");
            node = new KvNode(options, host, system, data, log);
            cancellationToken.ThrowIfCancellationRequested();
            await NodeRestoreSeed.SeedIfPendingAsync(system, options, data.Path, log, cancellationToken).ConfigureAwait(false);
            node.StartActors(members, hooks);
            if (options.PbmPort != 0)
            {
                node._commands = new CommandHost(system, new CommandHostSettings { Host = options.PbmHost, Port = options.PbmPort }, loggerFactory)
                    .RegisterDefaultPalettes()
                    .Register(new RaftCommandPalette(node))
                    .Register(new FaultCommandPalette(node));
                try
                {
                    await node._commands.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException e)
                {
                    throw new IOException($"the pbm port {options.PbmHost}:{options.PbmPort} could not be bound: {e.Message}", e);
                }
            }

            if (options.ClientPort != 0)
            {
                node._etcd = await EtcdServer.StartAsync(node, loggerFactory, cancellationToken).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        catch (Exception e)
        {
            if (e is OperationCanceledException)
            {
                log.LogInformation("Node {NodeId}: start-up cancelled (SIGTERM or Ctrl-C); stopping what started.", options.Id);
            }

            if (node is not null)
            {
                await node.StopAsync().ConfigureAwait(false);
            }
            else
            {
                if (host is not null)
                {
                    await StopHostAsync(host, log).ConfigureAwait(false);
                }

                data.Dispose();
            }

            throw;
        }

        log.LogInformation(
            "AkkaKv node {NodeId} serving at {Endpoint}, etcd API at {ClientUrl} (system {Address}); Raft group {Members}; data in {DataDir}.",
            options.Id, options.Endpoint, options.ClientUrl ?? "(off)", Akka.Cluster.Cluster.Get(node.System).SelfAddress, string.Join(",", members.Select(m => $"{m.Key}={m.Value}")), data.Path);
        return node;
    }

    /// <summary>
    /// Stops in order through Akka's CoordinatedShutdown (see the class scenarios), then stops the host and unlocks the
    /// data directory. Idempotent; also the way to release a node after <see cref="Exited"/> completed.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            await _stopped.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            if (!System.WhenTerminated.IsCompleted)
            {
                _log.LogInformation("Node {NodeId}: shutting down (finishing requests in flight, up to {Timeout} ms).", NodeId, Options.ShutdownTimeoutMs);
            }

            await CoordinatedShutdown.Get(System).Run(NodeStopReason.Instance).ConfigureAwait(false);
            if (_etcd is not null)
            {
                await _etcd.StopAsync().ConfigureAwait(false);
            }

            await StopHostAsync(_host, _log).ConfigureAwait(false);
            _log.LogInformation("Node {NodeId}: stopped; the journal is closed and {DataDir} unlocked.", NodeId, _data.Path);
        }
        finally
        {
            _data.Dispose();
            _stopped.TrySetResult();
        }
    }

    /// <summary>
    /// Stops abruptly, as a crash would (for tests): nothing is drained or synced, the Raft node stops at once, the node
    /// does not leave the cluster (it marks itself Down, as the split-brain resolver would). Acknowledged writes are on
    /// disk already; the data directory is unlocked so the same process can start the node again.
    /// </summary>
    public async Task AbortAsync()
    {
        Interlocked.Exchange(ref _aborting, 1);
        await StopAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private void StartActors(IReadOnlyDictionary<ulong, KvEndpoint> members, KvNodeHooks hooks)
    {
        lock (_members)
        {
            foreach (var (id, endpoint) in members)
            {
                _members[id] = endpoint;
            }
        }

        var limits = new KvLimits { MaxKeyBytes = Options.MaxKeyBytes, MaxValueBytes = Options.MaxValueBytes };
        var leaseFeed = new LeaseFeed();
        WatchHub = System.ActorOf(Watch.WatchHub.Props(Options.WatchHub()), "watch-hub");
        var watchFeed = _watchFeed = new Watch.WatchEventFeed(WatchHub);
        var raftPeers = members.Where(m => m.Key != Options.Id).ToDictionary(m => m.Key, m => Resolve(m.Value, RaftPath));
        var raftSettings = Options.WithSnapshotSettings(new RaftActorSettings
        {
            Raft = new RaftConfig
            {
                NodeId = Options.Id,
                Voters = Options.Join ? [] : [.. members.Keys.Order()],
                Join = Options.Join,
                ElectionTimeoutMinTicks = Options.ElectionTicksMin,
                ElectionTimeoutMaxTicks = Options.ElectionTicksMax,
            },
            StateMachineFactory = () =>
            {
                var machine = WithWatchFeed(new KvRaftStateMachine(limits, SnapshotExchange), watchFeed);
                machine.Store.LeaseObserver = leaseFeed.Publish;
                machine.Store.AuthObserver = auth => _auth = auth;
                return machine;
            },
            TickInterval = TimeSpan.FromMilliseconds(Options.TickMs),
        });
        ListenForRaftFailure();
        Raft = System.ActorOf(RaftActor.Props(raftSettings, raftPeers), "raft");
        WatchHub.Tell(new Watch.SetWatchHistorySource(Raft), ActorRefs.NoSender);
        System.ActorOf(NodeWatcher.Props(Raft, _raftStopped), "raft-watcher");
        var peers = members.ToDictionary(m => m.Key, m => new KvPeer(m.Key, m.Value, Resolve(m.Value, KvWireTypes.RouterPath)));
        var routerSettings = new KvRouterSettings
        {
            DefaultTimeout = TimeSpan.FromMilliseconds(Options.RequestTimeoutMs),
            MaxTimeout = TimeSpan.FromMilliseconds(Math.Max(Options.RequestTimeoutMs, 60_000)),
            MaxInFlight = Options.MaxInFlight,
        };
        Router = System.ActorOf(KvRouter.Props(routerSettings, Options.Id, Raft, peers, new KvRequestValidator(limits)), "kv-router");
        ClusterClientReceptionist.Get(System).RegisterService(Router);
        System.ActorOf(RaftMembershipFollower.Props(this, hooks.MembershipFollower), "raft-membership");
        System.ActorOf(AutoCompactionActor.Props(Options.AutoCompaction(), Raft, Router), "auto-compaction");
        var lessor = System.ActorOf(LeaseActor.Props(Options.LeaseSettings(), Options.Id, Raft, Router), "lease");
        leaseFeed.Connect(lessor);
        Router.Tell(new UseLessor(lessor), ActorRefs.NoSender);
        AddShutdownSteps();
        WatchTermination();
        FormAloneIfNoPeerAnswers(members, hooks);
    }

    /// <summary>The path of every node's RaftActor.</summary>
    internal const string RaftPath = "/user/raft";

    /// <summary>A ref to the actor at <paramref name="path"/> on the node at <paramref name="endpoint"/> (local if it is this node).</summary>
    internal IActorRef Resolve(KvEndpoint endpoint, string path)
    {
        var provider = ((ExtendedActorSystem)System).Provider;
        return provider.ResolveActorRef(Options.AddressOf(endpoint) + path);
    }

    private static async Task StopHostAsync(IHost host, ILogger log)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or AggregateException)
        {
            log.LogWarning("The node's host did not stop cleanly: {Reason}", e.Message);
        }
        finally
        {
            host.Dispose();
        }
    }

    private static SocketException? FindSocketError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is SocketException socket)
            {
                return socket;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Select(FindSocketError).FirstOrDefault(s => s is not null) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>Fails early, with the port in the message, when the remoting or client port is taken (Akka's own error is long).</summary>
    private static void EnsurePortFree(NodeOptions options)
    {
        EnsurePortFree(options, options.Port, "remoting port");
        if (options.ClientPort != 0)
        {
            EnsurePortFree(options, options.ClientPort, "client port");
        }
    }

    private static void EnsurePortFree(NodeOptions options, int port, string what)
    {
        var bindHost = options.EffectiveBindHost ?? options.Host;
        IPAddress address;
        if (!IPAddress.TryParse(bindHost, out address!))
        {
            address = bindHost.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Any;
        }

        var probe = new TcpListener(address, port);
        try
        {
            probe.Start();
        }
        catch (SocketException e)
        {
            throw new IOException($"the {what} {bindHost}:{port} is in use ({e.SocketErrorCode})", e);
        }
        finally
        {
            probe.Stop();
        }
    }
}

/// <summary>Why a node stopped by itself (<see cref="KvNode.Exited"/>).</summary>
public enum NodeExitReason
{
    /// <summary>Its Raft node stopped (a journal write or replay failed): the node cannot serve.</summary>
    Failed = 1,

    /// <summary>
    /// The cluster downed it (split-brain resolver on the minority side of a partition, or an operator's
    /// <c>cluster down</c>). Its data is intact: a new incarnation may start on it.
    /// </summary>
    Downed = 2,

    /// <summary>It left the cluster on request (<c>cluster leave</c>) and the Raft leader removed it from the group.</summary>
    Left = 3,
}

/// <summary>Extras of <see cref="KvNode.StartAsync(NodeOptions, ILoggerFactory, KvNodeHooks, CancellationToken)"/>.</summary>
public sealed record KvNodeHooks
{
    /// <summary>HOCON merged over the node's configuration (tests: <c>akka.actor.serialize-messages = on</c>).</summary>
    public string? ExtraHocon { get; init; }

    /// <summary>
    /// True for a new incarnation after the cluster downed this node: it does not seed a cluster of its own (it would
    /// split the cluster if its peers are behind a partition); it joins through the other seeds once they answer.
    /// </summary>
    public bool Rejoining { get; init; }

    /// <summary>How long a node of a static group (no seeds) waits for a peer before it forms a cluster alone.</summary>
    public TimeSpan FormAloneAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Settings of the membership follower (null: the defaults).</summary>
    public RaftMembershipFollowerSettings? MembershipFollower { get; init; }
}

/// <summary>The CoordinatedShutdown reason of an orderly node stop (SIGTERM, Ctrl-C, <see cref="KvNode.StopAsync"/>).</summary>
public sealed class NodeStopReason : CoordinatedShutdown.Reason
{
    /// <summary>The one instance.</summary>
    public static NodeStopReason Instance { get; } = new();

    private NodeStopReason()
    {
    }

    /// <inheritdoc />
    public override int ExitCode => NodeSettingsTable.ExitOk;
}
