using KvCluster.Actors;
using KvCluster.Actors.Persistence;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;
using Microsoft.Extensions.Logging;

namespace KvCluster.Raft.Actor;

/// <summary>
/// The RaftActor's child that owns its event stream (persistence id per node), an event-sourced
/// <see cref="PersistentActor"/>. Scenarios:
/// <list type="number">
/// <item>Start: the persistence layer replays every event of the stream (truncations, appends, hard states) in
/// sequence order into a hard state and a log; on <see cref="RecoveryCompleted"/> they go to the parent as
/// <see cref="RaftLogRecovered"/>, and only then does the parent create the core.</item>
/// <item>Write: on <see cref="PersistReady"/>, PersistAll of its events (truncate, append, hard state) as ONE atomic
/// write; when the last persist handler ran (the write is durable), reply <see cref="ReadyPersisted"/>.</item>
/// <item>Failure: a failed or rejected write (or a failed replay) is reported to the parent and this actor stops:
/// nothing is known about what was written, so no later write may be ordered after it (Akka's Eventsourced rule).</item>
/// </list>
/// Events are protobuf messages (<c>raft_journal.proto</c>); the system's serializer must know them
/// (<see cref="RaftJournalEvents.Register"/>). The log replayed at recovery is only used for start-up; afterwards the
/// parent's <see cref="JournaledRaftStorage"/> is the in-memory index.
/// </summary>
internal sealed class RaftLogActor : PersistentActor
{
    /// <summary>This node's stream.</summary>
    private readonly string _persistenceId;

    /// <summary>The hard state being rebuilt during recovery.</summary>
    private HardState _hardState = HardState.Empty;

    /// <summary>The log being rebuilt during recovery; handed to the parent and dropped afterwards.</summary>
    private List<Entry> _log = new();

    /// <summary>Events replayed.</summary>
    private long _replayed;

    /// <summary>Creates the actor; the persistence layer starts recovery.</summary>
    public RaftLogActor(string persistenceId)
    {
        _persistenceId = persistenceId;
        Recover<HardStateChanged>(e => Replayed(() => _hardState = new HardState(e.Term, e.Vote, e.Commit)));
        Recover<LogTruncated>(e => Replayed(() => RaftJournalCodec.Truncate(_log, e, LastSequenceNr, _persistenceId)));
        Recover<EntriesAppended>(e => Replayed(() => RaftJournalCodec.Append(_log, e, LastSequenceNr, _persistenceId)));
        Recover<RecoveryCompleted>(_ =>
        {
            if (_hardState.Commit > _log.Count)
            {
                throw new InvalidDataException($"Journal stream '{_persistenceId}' records commit index {_hardState.Commit} beyond its last entry {_log.Count}.");
            }

            Context.Parent.Tell(new RaftLogRecovered(_hardState, _log, _replayed), Self);
            _log = new List<Entry>();
        });
        Command<PersistReady>(Write);
    }

    /// <inheritdoc />
    public override string PersistenceId => _persistenceId;

    private void Replayed(Action apply)
    {
        apply();
        _replayed++;
    }

    private void Write(PersistReady request)
    {
        var events = RaftJournalCodec.ToEvents(request.TruncateFrom, request.Entries, request.HardState);
        var last = events[^1];
        PersistAll(events, e =>
        {
            if (ReferenceEquals(e, last))
            {
                Context.Parent.Tell(ReadyPersisted.Instance, Self);
            }
        });
    }

    /// <inheritdoc />
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        base.OnPersistFailure(cause, @event, sequenceNr);
        Context.Parent.Tell(new ReadyPersistFailed(cause), Self);
    }

    /// <inheritdoc />
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // A rejected Raft write cannot be skipped: the core believes the Ready durable once acknowledged. Stop.
        Log.LogError(cause, "Journal rejected Raft event {SequenceNr} of {PersistenceId}; stopping the Raft node.", sequenceNr, _persistenceId);
        Context.Parent.Tell(new ReadyPersistFailed(cause), Self);
        Context.Stop(Self);
    }

    /// <inheritdoc />
    protected override void OnRecoveryFailure(Exception reason, object? message)
    {
        base.OnRecoveryFailure(reason, message);
        Context.Parent.Tell(new RaftLogRecoveryFailed(reason), Self);
    }
}
