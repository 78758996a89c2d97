using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// Settings of one <see cref="RaftActor"/>: the core's <see cref="RaftConfig"/> plus actor-level settings. The node's
/// term, vote and log are persisted through the actor system's persistence extension
/// (<c>KvCluster.Actors.Persistence.Persistence.Configure</c>, whose serializer must include
/// <see cref="RaftJournalEvents.Register"/>), under <see cref="EffectivePersistenceId"/>.
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

    /// <summary>
    /// Creates the core's election-timeout randomness; called once per incarnation. Default: a
    /// <see cref="SeededRaftRandom"/> with a fresh seed, which the actor logs so a run can be replayed.
    /// </summary>
    public Func<IRaftRandom>? RandomFactory { get; init; }

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

        if (PersistenceId is not null && string.IsNullOrWhiteSpace(PersistenceId))
        {
            throw new ArgumentException("PersistenceId must not be empty or blank; leave it null for the default raft-<NodeId>.", nameof(PersistenceId));
        }
    }
}
