using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// Settings of one <see cref="RaftActor"/>: the core's <see cref="RaftConfig"/> plus actor-level settings. The node's
/// term, vote and log are persisted through Akka.Persistence (the journal plugin <see cref="JournalPluginId"/>, by
/// default the system's default journal, normally Akka.Persistence.Sql on SQLite configured by
/// <see cref="Persistence.RaftJournalConfig.WithRaftJournal"/>), under <see cref="EffectivePersistenceId"/>; the
/// journal's events are serialized by <see cref="Serialization.RaftWireSerializer"/>, which must be bound.
/// <see cref="Validate"/> runs when <see cref="RaftActor.Props"/> is called, so a bad setting fails where the node is
/// configured, with an <see cref="ArgumentException"/> whose <see cref="ArgumentException.ParamName"/> names it.
/// </summary>
public sealed record RaftActorSettings
{
    /// <summary>The core's settings (node id, voters, timeouts in ticks, replication bounds).</summary>
    public required RaftConfig Raft { get; init; }

    /// <summary>Creates the node's state machine; called once per actor incarnation (start and every restart).</summary>
    public required Func<IStateMachine> StateMachineFactory { get; init; }

    /// <summary>Wall-clock length of one Raft tick (the core's unit of time); positive. Default 100 ms, so the default
    /// election timeout of 10–20 ticks is 1–2 s.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The journal stream of this node; default <c>raft-&lt;NodeId&gt;</c>. Must stay the same across restarts.</summary>
    public string? PersistenceId { get; init; }

    /// <summary>The Akka.Persistence journal plugin id (a HOCON path such as <c>akka.persistence.journal.sql</c>);
    /// null or empty = the system's default journal.</summary>
    public string? JournalPluginId { get; init; }

    /// <summary>The snapshot store plugin id; null or empty = the system's default snapshot store.</summary>
    public string? SnapshotPluginId { get; init; }

    /// <summary>
    /// Creates the core's election-timeout randomness; called once per incarnation. Default: a
    /// <see cref="SeededRaftRandom"/> with a fresh seed, which the actor logs so a run can be replayed.
    /// </summary>
    public Func<IRaftRandom>? RandomFactory { get; init; }

    /// <summary>
    /// Whether a sole voter campaigns as soon as it has recovered instead of after an election timeout (etcd's
    /// <c>adjustTicks</c> for a single-node cluster). Off only for specs that script elections tick by tick.
    /// </summary>
    public bool SoleVoterCampaignsAtStart { get; init; } = true;

    /// <summary>
    /// Whether a voter with peers fast-forwards its first election timeout once Akka.Remote reports associations with
    /// at least two voters (every peer of a three-member cluster) and a quorum, and no leader was heard (etcd's <c>adjustTicks</c>; see RaftActor.FirstElection.cs).
    /// Off only for specs that script elections tick by tick.
    /// </summary>
    public bool AdvanceFirstElectionOncePeersConnect { get; init; } = true;

    /// <summary>
    /// <see cref="AddMember"/>: a learner counts as caught up when, at the end of a catch-up round, its match index is
    /// at most this many entries behind the leader's last index (thesis §4.2.1). Non-negative; default 16.
    /// </summary>
    public long CatchUpMaxLag { get; init; } = 16;

    /// <summary>
    /// <see cref="AddMember"/>: catch-up rounds allowed before giving up (thesis §4.2.1 suggests about ten). A round ends
    /// when the learner holds every entry the leader had when the round began. At least 1; default 10.
    /// </summary>
    public int CatchUpMaxRounds { get; init; } = 10;

    /// <summary>
    /// <see cref="AddMember"/>: longest time the learner may take to catch up, counted in ticks of
    /// <see cref="TickInterval"/> (so virtual in tests); also bounds how long a membership change waits for its
    /// configuration entry to commit. Positive; default 30 s.
    /// </summary>
    public TimeSpan CatchUpTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Entries applied since the last snapshot that trigger a new one (etcd's <c>--snapshot-count</c>). At least 1;
    /// default 100,000 (etcd 3.4's): every snapshot serializes the whole state, so its cost per entry is the state's
    /// size divided by this count.
    /// </summary>
    public long SnapshotEntries { get; init; } = 100_000;

    /// <summary>
    /// Log bytes (<see cref="Entry.Size"/>) applied since the last snapshot that trigger a new one, whichever of this and
    /// <see cref="SnapshotEntries"/> comes first; 0 turns the byte trigger off. Non-negative; default 64 MiB.
    /// </summary>
    public long SnapshotBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// A third trigger: a snapshot is also taken once the log bytes applied since the last snapshot reach this multiple of
    /// that snapshot's size, after at least <see cref="SnapshotMinEntries"/> entries. A snapshot costs about its size to
    /// write; a restart replays the log after it: with 1, neither costs more than the other, so a small store compacts
    /// often (short restarts, little log in memory) and a big one no more often than <see cref="SnapshotEntries"/>.
    /// Non-negative and finite; 0 turns this trigger off; default 1.
    /// </summary>
    public double SnapshotLogRatio { get; init; } = 1.0;

    /// <summary>
    /// The fewest entries applied since the last snapshot before <see cref="SnapshotLogRatio"/> may trigger one (never
    /// more than <see cref="SnapshotEntries"/> applies anyway). At least 1; default 10,000 (etcd 3.6's snapshot count).
    /// </summary>
    public long SnapshotMinEntries { get; init; } = 10_000;

    /// <summary>
    /// Before an orderly stop (<see cref="SnapshotBeforeStop"/>) a snapshot is taken when the log bytes applied since the
    /// last one reach this fraction of that snapshot's size, and at least <see cref="SnapshotOnStopMinEntries"/> entries:
    /// the next start then applies nothing after its snapshot (the restart of a cluster after 1,000,000 writes applied
    /// about 40,000 entries per node). A big store with a short log is not snapshotted (writing it would cost more than
    /// the replay it saves). Non-negative and finite; 0 turns it off; default 0.1.
    /// </summary>
    public double SnapshotOnStopRatio { get; init; } = 0.1;

    /// <summary>The fewest entries applied since the last snapshot for <see cref="SnapshotOnStopRatio"/> to take one at
    /// a stop. At least 1; default 1,000.</summary>
    public long SnapshotOnStopMinEntries { get; init; } = 1_000;

    /// <summary>
    /// Entries kept in the log behind a durable snapshot, so a follower that lags by fewer still catches up by
    /// AppendEntries instead of a snapshot transfer (etcd's catch-up entries). Non-negative; default 5,000.
    /// </summary>
    public long CompactionMarginEntries { get; init; } = 5_000;

    /// <summary>
    /// Bytes of snapshot image per InstallSnapshot chunk sent to a follower; keep it well under Akka.Remote's
    /// <c>maximum-frame-size</c>. Between 1 KiB and 16 MiB; default 64 KiB, so that neither side's buffers of a chunk
    /// reach the large object heap (85,000 bytes), which only a full collection frees.
    /// </summary>
    public int SnapshotChunkBytes { get; init; } = 64 * 1024;

    /// <summary>The persistence id actually used: <see cref="PersistenceId"/> or <c>raft-&lt;NodeId&gt;</c>.</summary>
    public string EffectivePersistenceId => PersistenceId ?? $"raft-{Raft.NodeId}";

    /// <summary>Checks every setting (the core's included); throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        if (Raft is null)
        {
            throw new ArgumentException("Raft (the core's RaftConfig) is required.", nameof(Raft));
        }

        Raft.Validate();
        if (StateMachineFactory is null)
        {
            throw new ArgumentException("StateMachineFactory is required.", nameof(StateMachineFactory));
        }

        if (TickInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"TickInterval must be positive, was {TickInterval}.", nameof(TickInterval));
        }

        if (CatchUpMaxLag < 0)
        {
            throw new ArgumentException($"CatchUpMaxLag must not be negative, was {CatchUpMaxLag}.", nameof(CatchUpMaxLag));
        }

        if (CatchUpMaxRounds < 1)
        {
            throw new ArgumentException($"CatchUpMaxRounds must be at least 1, was {CatchUpMaxRounds}.", nameof(CatchUpMaxRounds));
        }

        if (CatchUpTimeout < TickInterval)
        {
            throw new ArgumentException($"CatchUpTimeout ({CatchUpTimeout}) must be at least one TickInterval ({TickInterval}).", nameof(CatchUpTimeout));
        }

        if (SnapshotEntries < 1)
        {
            throw new ArgumentException($"SnapshotEntries must be at least 1, was {SnapshotEntries}.", nameof(SnapshotEntries));
        }

        if (SnapshotLogRatio < 0 || !double.IsFinite(SnapshotLogRatio))
        {
            throw new ArgumentException($"SnapshotLogRatio must be 0 (off) or a positive finite number, was {SnapshotLogRatio}.", nameof(SnapshotLogRatio));
        }

        if (SnapshotOnStopRatio < 0 || !double.IsFinite(SnapshotOnStopRatio))
        {
            throw new ArgumentException($"SnapshotOnStopRatio must be 0 (off) or a positive finite number, was {SnapshotOnStopRatio}.", nameof(SnapshotOnStopRatio));
        }

        if (SnapshotOnStopMinEntries < 1)
        {
            throw new ArgumentException($"SnapshotOnStopMinEntries must be at least 1, was {SnapshotOnStopMinEntries}.", nameof(SnapshotOnStopMinEntries));
        }

        if (SnapshotMinEntries < 1)
        {
            throw new ArgumentException($"SnapshotMinEntries must be at least 1, was {SnapshotMinEntries}.", nameof(SnapshotMinEntries));
        }

        if (SnapshotBytes < 0)
        {
            throw new ArgumentException($"SnapshotBytes must not be negative (0 turns the byte trigger off), was {SnapshotBytes}.", nameof(SnapshotBytes));
        }

        if (CompactionMarginEntries < 0)
        {
            throw new ArgumentException($"CompactionMarginEntries must not be negative, was {CompactionMarginEntries}.", nameof(CompactionMarginEntries));
        }

        if (SnapshotChunkBytes < 1024 || SnapshotChunkBytes > 16 * 1024 * 1024)
        {
            throw new ArgumentException($"SnapshotChunkBytes must be between 1 KiB and 16 MiB, was {SnapshotChunkBytes}.", nameof(SnapshotChunkBytes));
        }

        if (PersistenceId is not null && string.IsNullOrWhiteSpace(PersistenceId))
        {
            throw new ArgumentException("PersistenceId must not be empty or blank; leave it null for the default raft-<NodeId>.", nameof(PersistenceId));
        }
    }
}
