using Akka.Actor;
using KvCluster.Client.Etcd;
using KvCluster.Node.Kv;

namespace KvCluster.Node.Watch;

/// <summary>Opens a watch stream whose responses go to <paramref name="Output"/> (the gRPC Watch call starting). Local only.</summary>
/// <param name="Output">The stream's response queue; also its identity in the later messages.</param>
public sealed record OpenWatchStream(WatchStreamOutput Output) : INoSerializationVerificationNeeded;

/// <summary>One WatchRequest of a stream (create, cancel, progress), in the order the client sent them. Local only.</summary>
/// <param name="Output">The stream.</param>
/// <param name="Request">The request as received.</param>
/// <param name="Refusal">For a create the stream's user may not make (etcd's auth): the cancel reason it is refused with,
/// in its turn among the stream's other requests.</param>
public sealed record WatchStreamRequest(WatchStreamOutput Output, WatchRequest Request, string? Refusal = null) : INoSerializationVerificationNeeded;

/// <summary>The stream ended (client gone, call cancelled): its watchers are dropped and its output completed. Local only.</summary>
/// <param name="Output">The stream.</param>
public sealed record CloseWatchStream(WatchStreamOutput Output) : INoSerializationVerificationNeeded;

/// <summary>Where the hub reads history from: the node's RaftActor (answers <c>LocalQuery</c>). Local only.</summary>
/// <param name="Raft">The RaftActor (or anything answering LocalQuery over the same store).</param>
public sealed record SetWatchHistorySource(IActorRef Raft) : INoSerializationVerificationNeeded;

/// <summary>Asks for a <see cref="WatchHubStatus"/> (tests, diagnostics).</summary>
public sealed record GetWatchHubStatus : INoSerializationVerificationNeeded
{
    /// <summary>The single instance.</summary>
    public static GetWatchHubStatus Instance { get; } = new();
}

/// <summary>The hub's view of itself.</summary>
/// <param name="Revision">The newest revision whose events it has handled.</param>
/// <param name="Streams">Open watch streams.</param>
/// <param name="Synced">Watchers receiving live events.</param>
/// <param name="CatchingUp">Watchers replaying history.</param>
public sealed record WatchHubStatus(long Revision, int Streams, int Synced, int CatchingUp) : INoSerializationVerificationNeeded;

/// <summary>
/// The <see cref="IKvEventSink"/> the node gives its store: every call becomes a message to the hub (a lock-free enqueue
/// on the RaftActor's turn, nothing else), so the hub sees revisions in apply order.
/// </summary>
internal sealed class WatchEventFeed : IKvEventSink
{
    private readonly IActorRef _hub;

    /// <summary>The newest revision the store applied (or restored), for etcd's response headers.</summary>
    private long _revision = KvStateMachine.InitialRevision;

    /// <summary>Feeds <paramref name="hub"/>.</summary>
    public WatchEventFeed(IActorRef hub)
    {
        _hub = hub;
    }

    /// <summary>
    /// The newest revision this node's store has applied (any thread; a volatile read). It never goes back: the replay
    /// after a RaftActor restart reaches the same revisions again.
    /// </summary>
    public long Revision => Volatile.Read(ref _revision);

    /// <inheritdoc />
    public void OnRevision(KvEventGroup group)
    {
        Advance(group.Revision);
        _hub.Tell(new RevisionApplied(group), ActorRefs.NoSender);
    }

    /// <inheritdoc />
    public void OnRestored(long revision, long compactRevision)
    {
        Advance(revision);
        _hub.Tell(new StoreRestored(revision, compactRevision), ActorRefs.NoSender);
    }

    /// <summary>Raises <see cref="Revision"/> to <paramref name="revision"/> (one writer: the RaftActor's turn).</summary>
    private void Advance(long revision)
    {
        if (revision > Volatile.Read(ref _revision))
        {
            Volatile.Write(ref _revision, revision);
        }
    }
}

/// <summary>The store was replaced by a snapshot at <paramref name="Revision"/>.</summary>
internal sealed record StoreRestored(long Revision, long CompactRevision) : INoSerializationVerificationNeeded;

/// <summary>One applied revision's changes, on their way from the store to the hub.</summary>
internal sealed record RevisionApplied(KvEventGroup Group) : INoSerializationVerificationNeeded;
