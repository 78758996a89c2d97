using Akka.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

public sealed partial class RaftActor
{
    /// <summary>Ticks handled by this incarnation.</summary>
    private long _ticks;

    /// <summary>Peer messages handed to the core.</summary>
    private long _peerMessagesIn;

    /// <summary>Peer messages dropped because the node was still recovering.</summary>
    private long _peerMessagesWhileRecovering;

    /// <summary>Peer messages sent.</summary>
    private long _peerMessagesOut;

    /// <summary>Journal writes requested, and confirmed.</summary>
    private long _writesRequested, _writesConfirmed;

    /// <summary>The last peer message received and sent (kept, not formatted: this is the hot path), for a stuck node's report.</summary>
    private RaftMessage? _lastIn, _lastOut;

    /// <summary>What this incarnation's shell is doing, for a test or an operator chasing a stuck node.</summary>
    private RaftDiagnostics BuildDiagnostics() => new(
        NodeId,
        _node is null,
        _node?.Role ?? RaftRole.Follower,
        _node?.Term ?? 0,
        _node?.Vote ?? 0,
        _node?.LastIndex ?? 0,
        _storage?.LastIndex ?? 0,
        _storage is null ? 0 : _storage.Term(_storage.LastIndex),
        _persisting is not null,
        _flushingHardState,
        _deferredHardState is not null,
        _writesRequested,
        _writesConfirmed,
        _ticks,
        _peerMessagesIn,
        _peerMessagesWhileRecovering,
        _peerMessagesOut,
        _unroutable,
        Describe(_lastIn),
        Describe(_lastOut),
        string.Join(",", _peers.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value.Path.Name}")))
    {
        SnapshotIndex = _snapshot.Index,
        SnapshotTerm = _snapshot.Term,
        SnapshotBytes = _snapshot.Bytes,
        SnapshotTakenAt = _snapshot.TakenAt,
        FirstLogIndex = _storage?.FirstIndex ?? 1,
        AppendsHeldForSnapshot = _appendsHeldForSnapshot,
    };

    private static string Describe(RaftMessage? message) => message is null ? "-" : $"{message.GetType().Name} {message.From}->{message.To} t{message.Term}";
}

/// <summary>Asks a RaftActor for its <see cref="RaftDiagnostics"/> (tests; local only).</summary>
internal sealed record GetRaftDiagnostics : INoSerializationVerificationNeeded
{
    /// <summary>The single instance.</summary>
    public static GetRaftDiagnostics Instance { get; } = new();
}

/// <summary>The shell's state behind a <see cref="RaftStatus"/>: what a liveness failure report needs.</summary>
/// <param name="NodeId">This node.</param>
/// <param name="Recovering">True until the journal was replayed.</param>
/// <param name="Role">The core's role.</param>
/// <param name="Term">The core's term.</param>
/// <param name="Vote">The core's vote.</param>
/// <param name="LastIndex">The core's last log index (durable or in flight).</param>
/// <param name="DurableLastIndex">Last index the journal confirmed.</param>
/// <param name="DurableLastTerm">Term of that entry.</param>
/// <param name="Persisting">A Ready's write is in flight (its votes and acks wait for it).</param>
/// <param name="FlushingHardState">A deferred commit-only hard state is being written alone.</param>
/// <param name="Deferred">A commit-only hard state waits for the next write.</param>
/// <param name="WritesRequested">Journal writes asked for by this incarnation.</param>
/// <param name="WritesConfirmed">Journal writes confirmed.</param>
/// <param name="Ticks">Ticks handled by this incarnation.</param>
/// <param name="PeerMessagesIn">Peer messages stepped into the core.</param>
/// <param name="PeerMessagesWhileRecovering">Peer messages dropped while recovering.</param>
/// <param name="PeerMessagesOut">Peer messages sent.</param>
/// <param name="Unroutable">Peer messages dropped for want of a ref.</param>
/// <param name="LastIn">The last peer message received.</param>
/// <param name="LastOut">The last peer message sent.</param>
/// <param name="Peers">The peer map (node id = actor name).</param>
internal sealed record RaftDiagnostics(
    ulong NodeId,
    bool Recovering,
    RaftRole Role,
    long Term,
    ulong Vote,
    long LastIndex,
    long DurableLastIndex,
    long DurableLastTerm,
    bool Persisting,
    bool FlushingHardState,
    bool Deferred,
    long WritesRequested,
    long WritesConfirmed,
    long Ticks,
    long PeerMessagesIn,
    long PeerMessagesWhileRecovering,
    long PeerMessagesOut,
    long Unroutable,
    string LastIn,
    string LastOut,
    string Peers) : INoSerializationVerificationNeeded
{
    /// <summary>Log index of the latest durable snapshot, or 0.</summary>
    public long SnapshotIndex { get; init; }

    /// <summary>Term of the entry at <see cref="SnapshotIndex"/>, or 0.</summary>
    public long SnapshotTerm { get; init; }

    /// <summary>Size of that snapshot's state machine image in bytes, or 0.</summary>
    public long SnapshotBytes { get; init; }

    /// <summary>When that snapshot was taken (UTC), or null.</summary>
    public DateTime? SnapshotTakenAt { get; init; }

    /// <summary>Index of the first entry still in the log.</summary>
    public long FirstLogIndex { get; init; } = 1;

    /// <summary>Appends dropped because they followed a received snapshot still being verified.</summary>
    public long AppendsHeldForSnapshot { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"node {NodeId}: {(Recovering ? "recovering" : $"{Role} t{Term} vote {Vote} last {LastIndex} durable {DurableLastIndex}/t{DurableLastTerm}")}, " +
        $"journal {(Persisting ? "WRITING" : FlushingHardState ? "FLUSHING" : "idle")}{(Deferred ? "+deferred" : "")} ({WritesConfirmed}/{WritesRequested} confirmed), " +
        $"snapshot {SnapshotIndex}/t{SnapshotTerm} ({SnapshotBytes} B), first index {FirstLogIndex}, {AppendsHeldForSnapshot} appends held for a snapshot, " +
        $"ticks {Ticks}, in {PeerMessagesIn} (+{PeerMessagesWhileRecovering} while recovering), out {PeerMessagesOut} (+{Unroutable} unroutable), " +
        $"last in [{LastIn}], last out [{LastOut}], peers {Peers}";
}
