using System.Diagnostics;
using Akka.Event;
using Akka.Persistence;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// The RaftActor's child that owns its event stream (persistence id per node), an Akka.Persistence
/// <see cref="ReceivePersistentActor"/>. Scenarios:
/// <list type="number">
/// <item>Start: the journal replays every event of the stream in sequence order into a hard state and a log; on
/// <see cref="RecoveryCompleted"/> they go to the parent as <see cref="RaftLogRecovered"/>, and only then does the
/// parent create the core.</item>
/// <item>Write: on <see cref="PersistReady"/>, Persist ONE <see cref="ReadyWritten"/> event (truncation, every entry and
/// the hard state of the Ready: one journal row, one atomic write); when its persist handler ran (the journal
/// confirmed the write), reply <see cref="ReadyPersisted"/>.</item>
/// <item>Failure: a failed or rejected write (or a failed replay) is reported to the parent and this actor stops:
/// nothing is known about what was written, so no later write may be ordered after it (Akka's Eventsourced rule).</item>
/// </list>
/// Events are protobuf messages (<c>raft_journal.proto</c>) serialized by <see cref="Serialization.RaftWireSerializer"/>,
/// which must be bound in the actor system. The log replayed at recovery is only used for start-up; afterwards the
/// parent's <see cref="JournaledRaftStorage"/> is the in-memory index.
/// </summary>
internal sealed class RaftLogActor : ReceivePersistentActor
{
    /// <summary>This node's stream.</summary>
    private readonly string _persistenceId;

    /// <summary>The hard state being rebuilt during recovery.</summary>
    private HardState _hardState = HardState.Empty;

    /// <summary>The log being rebuilt during recovery; handed to the parent and dropped afterwards.</summary>
    private List<Entry> _log = new();

    /// <summary>Events replayed.</summary>
    private long _replayed;

    /// <summary>This node's tag on the journal metrics (<see cref="RaftJournalMetrics"/>).</summary>
    private readonly string _metricsNode;

    /// <summary>Creates the actor; Akka.Persistence starts recovery.</summary>
    /// <param name="persistenceId">The node's stream.</param>
    /// <param name="journalPluginId">Journal plugin id, or null/empty for the default journal.</param>
    /// <param name="snapshotPluginId">Snapshot plugin id, or null/empty for the default snapshot store.</param>
    public RaftLogActor(string persistenceId, string? journalPluginId, string? snapshotPluginId)
    {
        _persistenceId = persistenceId;
        _metricsNode = RaftJournalMetrics.NodeOf(Context.System);
        if (!string.IsNullOrEmpty(journalPluginId))
        {
            JournalPluginId = journalPluginId;
        }

        if (!string.IsNullOrEmpty(snapshotPluginId))
        {
            SnapshotPluginId = snapshotPluginId;
        }

        Recover<RecoveryCompleted>(_ => OnRecoveryCompleted());
        Recover<SnapshotOffer>(_ => { }); // no snapshots are written (no log compaction yet)
        RecoverAny(e =>
        {
            RaftJournalCodec.Replay(e, LastSequenceNr, _persistenceId, ref _hardState, _log);
            _replayed++;
        });
        Command<PersistReady>(Write);
    }

    /// <inheritdoc />
    public override string PersistenceId => _persistenceId;

    private void OnRecoveryCompleted()
    {
        if (_hardState.Commit > _log.Count)
        {
            var cause = new InvalidDataException($"Journal stream '{_persistenceId}' records commit index {_hardState.Commit} beyond its last entry {_log.Count}.");
            Log.Error(cause, "Raft journal {PersistenceId} is inconsistent; stopping the Raft node.", _persistenceId);
            Context.Parent.Tell(new RaftLogRecoveryFailed(cause), Self);
            Context.Stop(Self);
            return;
        }

        Context.Parent.Tell(new RaftLogRecovered(_hardState, _log, _replayed), Self);
        _log = new List<Entry>();
    }

    private void Write(PersistReady request)
    {
        var written = RaftJournalCodec.ToEvent(request.TruncateFrom, request.Entries, request.HardState);
        var started = Stopwatch.GetTimestamp();
        Persist(written, _ =>
        {
            RaftJournalMetrics.Written(_metricsNode, started, request.Entries.Count);
            Context.Parent.Tell(ReadyPersisted.Instance, Self);
        });
    }

    /// <inheritdoc />
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        base.OnPersistFailure(cause, @event, sequenceNr); // logs; Akka then stops this actor
        Context.Parent.Tell(new ReadyPersistFailed(cause), Self);
    }

    /// <inheritdoc />
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // A rejected Raft write cannot be skipped: the core believes the Ready durable once acknowledged. Stop.
        Log.Error(cause, "Journal rejected Raft event {SequenceNr} of {PersistenceId}; stopping the Raft node.", sequenceNr, _persistenceId);
        Context.Parent.Tell(new ReadyPersistFailed(cause), Self);
        Context.Stop(Self);
    }

    /// <inheritdoc />
    protected override void OnRecoveryFailure(Exception reason, object? message)
    {
        base.OnRecoveryFailure(reason, message); // logs; Akka then stops this actor
        Context.Parent.Tell(new RaftLogRecoveryFailed(reason), Self);
    }
}
