using KvCluster.Actors.Cluster.Protocol;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Actors.Cluster;

/// <summary>
/// Cluster membership of one remoting-enabled actor system, in the style of Akka.Cluster:
/// seed-node join, gossip, leader actions, reachability from heartbeats and a φ-accrual failure
/// detector, and member events.
/// </summary>
/// <remarks>
/// <para>Start it once with <see cref="Start"/> after <see cref="RemoteActorSystem.CreateAsync"/>;
/// then <see cref="Get"/> returns it. The work happens in the cluster daemon actor at
/// <c>/system/cluster</c>; every method here only sends it a message, so all are thread-safe and
/// non-blocking, and their effects are ordered as the calls were.</para>
/// <para>When this node is removed from the cluster (after <see cref="Leave"/> or
/// <see cref="Down"/>) its membership shuts down for good (<see cref="WhenTerminated"/>); the actor
/// system keeps running. A node that wants back in restarts its actor system, which gives it a
/// new incarnation uid.</para>
/// </remarks>
public sealed class Cluster : IExtension
{
    /// <summary>The daemon's name under <c>/system</c>.</summary>
    internal const string DaemonName = "cluster";

    private readonly TaskCompletionSource _terminated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CurrentClusterState _state = CurrentClusterState.Empty;
    private long _refusedJoins;

    private Cluster(ActorSystem system, ClusterSettings settings)
    {
        System = system;
        Settings = settings;
        var remote = RemoteExtension.Get(system);
        SelfUniqueAddress = new UniqueAddress(remote.Address, remote.Transport.Uid);
        RegisterMessages(remote.Registry);
        Daemon = system.SystemActorOf(Props.Create(() => new ClusterDaemon(this)), DaemonName);
        if (!settings.SeedNodes.IsEmpty)
        {
            Daemon.Tell(new ClusterDaemon.JoinSeedNodesCommand(settings.ParsedSeedNodes));
        }
    }

    /// <summary>The actor system this cluster belongs to.</summary>
    public ActorSystem System { get; }

    /// <summary>The validated settings.</summary>
    public ClusterSettings Settings { get; }

    /// <summary>This node's incarnation.</summary>
    public UniqueAddress SelfUniqueAddress { get; }

    /// <summary>This node's address.</summary>
    public RemoteAddress SelfAddress => SelfUniqueAddress.Address;

    /// <summary>The latest membership snapshot (updated by the daemon after every change).</summary>
    public CurrentClusterState State => Volatile.Read(ref _state);

    /// <summary>This node as a member, or null before it joined.</summary>
    public Member? SelfMember => State.Members.FirstOrDefault(m => m.UniqueAddress == SelfUniqueAddress);

    /// <summary>True once this node's membership has shut down (it was removed or downed).</summary>
    public bool IsTerminated => _terminated.Task.IsCompleted;

    /// <summary>Completes when this node's membership shuts down (removed after a leave, or downed).</summary>
    public Task WhenTerminated => _terminated.Task;

    /// <summary>How many InitJoin / Join requests this node refused (a joiner with another actor-system name).</summary>
    public long RefusedJoins => Interlocked.Read(ref _refusedJoins);

    internal IActorRef Daemon { get; }

    /// <summary>
    /// Starts cluster membership on <paramref name="system"/> (created by
    /// <see cref="RemoteActorSystem.CreateAsync"/>) and, if <see cref="ClusterSettings.SeedNodes"/>
    /// is not empty, starts joining. Calling it again returns the running cluster.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    /// <exception cref="InvalidOperationException">The system has no remoting.</exception>
    public static Cluster Start(ActorSystem system, ClusterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _ = RemoteExtension.Get(system);
        return system.RegisterExtension(new ClusterExtensionId(settings));
    }

    /// <summary>The cluster of <paramref name="system"/>.</summary>
    /// <exception cref="InvalidOperationException">Cluster membership was not started on it.</exception>
    public static Cluster Get(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.GetExtension<Cluster>() ?? throw new InvalidOperationException($"Actor system {system} has no cluster membership; call Cluster.Start(system, settings) first.");
    }

    /// <summary>Registers the membership protocol's messages (ids 300–309) with <paramref name="registry"/>; idempotent.</summary>
    public static void RegisterMessages(MessageSerializerRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.Register<InitJoin>(300);
        registry.Register<InitJoinAck>(301);
        registry.Register<InitJoinNack>(302);
        registry.Register<Join>(303);
        registry.Register<Welcome>(304);
        registry.Register<GossipEnvelope>(305);
        registry.Register<ClusterHeartbeat>(306);
    }

    /// <summary>
    /// Subscribes <paramref name="subscriber"/> to the events assignable to any of
    /// <paramref name="eventTypes"/> (for example <c>typeof(IMemberEvent)</c>). It first receives a
    /// <see cref="CurrentClusterState"/>, then every later matching event in order.
    /// </summary>
    public void Subscribe(IActorRef subscriber, params Type[] eventTypes)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ArgumentNullException.ThrowIfNull(eventTypes);
        if (eventTypes.Length == 0)
        {
            throw new ArgumentException("Name at least one event type, for example typeof(IClusterDomainEvent).", nameof(eventTypes));
        }

        Daemon.Tell(new ClusterDaemon.SubscribeCommand(subscriber, [.. eventTypes]));
    }

    /// <summary>Stops sending events to <paramref name="subscriber"/>.</summary>
    public void Unsubscribe(IActorRef subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        Daemon.Tell(new ClusterDaemon.UnsubscribeCommand(subscriber));
    }

    /// <summary>Joins through <paramref name="seedNodes"/> (when the settings named none); ignored once joining.</summary>
    /// <exception cref="FormatException">An address is malformed.</exception>
    public void JoinSeedNodes(IEnumerable<string> seedNodes)
    {
        ArgumentNullException.ThrowIfNull(seedNodes);
        Daemon.Tell(new ClusterDaemon.JoinSeedNodesCommand([.. seedNodes.Select(RemoteAddress.Parse)]));
    }

    /// <summary>
    /// Asks the member at <paramref name="address"/> to leave gracefully: it becomes Leaving,
    /// the leader moves it to Exiting and then Removed once every reachable member has seen each
    /// step; the leaving node then shuts its membership down. Unknown addresses are ignored.
    /// </summary>
    public void Leave(RemoteAddress address) => Daemon.Tell(new ClusterDaemon.LeaveCommand(address));

    /// <summary>
    /// Declares the member at <paramref name="address"/> dead (an operator's decision, typically
    /// for an unreachable node). The leader removes it without waiting for it, which unblocks
    /// leader actions that an unreachable member was holding back. Unknown addresses are ignored.
    /// </summary>
    public void Down(RemoteAddress address) => Daemon.Tell(new ClusterDaemon.DownCommand(address));

    internal void Publish(CurrentClusterState state) => Volatile.Write(ref _state, state);

    internal void CountRefusedJoin() => Interlocked.Increment(ref _refusedJoins);

    internal void MarkTerminated() => _terminated.TrySetResult();

    private sealed class ClusterExtensionId(ClusterSettings settings) : IExtensionId<Cluster>
    {
        public Cluster CreateExtension(ActorSystem system) => new(system, settings);
    }
}
