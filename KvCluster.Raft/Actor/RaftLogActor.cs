using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// The RaftActor's child that owns its event stream (persistence id per node) and its snapshots, an Akka.Persistence
/// <see cref="ReceivePersistentActor"/>. Scenarios:
/// <list type="number">
/// <item>Start: the journal replays every event of the stream (Akka's own snapshot offer is turned off) into a hard
/// state and a log after its compaction point; meanwhile the latest snapshot is loaded from the snapshot store, and
/// once both are read it is verified (<see cref="RaftSnapshotEnvelope"/>). A damaged one is reported (persistence id, sequence number, index)
/// and the previous one is tried. The result goes to the parent as <see cref="RaftLogRecovered"/>; if the journal was
/// compacted and no valid snapshot covers it, as <see cref="RaftLogRecoveryFailed"/> with a
/// <see cref="RaftUnrecoverableStateException"/>.</item>
/// <item>Write: on <see cref="PersistReady"/>, Persist ONE <see cref="ReadyWritten"/> event (truncation, every entry and
/// the hard state of the Ready: one journal row, one atomic write); when its persist handler ran (the journal
/// confirmed the write), reply <see cref="ReadyPersisted"/>. A Ready that installs a leader's snapshot first saves the
/// snapshot to the store, then persists the event that resets the log to it.</item>
/// <item>Snapshot: on <see cref="SaveRaftSnapshot"/>, save it to the snapshot store (one save at a time; later requests
/// wait, journal writes do not), reply <see cref="RaftSnapshotSaved"/>, then delete every snapshot older than the previous
/// one (two are kept so a damaged newest one can fall back).</item>
/// <item>Compaction: on <see cref="CompactJournal"/>, persist a <see cref="LogCompacted"/> event (compaction point and
/// current hard state), then DeleteMessagesTo the last event whose entries (and those of every event before it) are
/// all at or below the compaction point.</item>
/// <item>Failure: a failed or rejected write (or a failed replay) is reported to the parent and this actor stops:
/// nothing is known about what was written, so no later write may be ordered after it (Akka's Eventsourced rule).</item>
/// </list>
/// Events are protobuf messages (<c>raft_journal.proto</c>) serialized by <see cref="Serialization.RaftWireSerializer"/>,
/// which must be bound in the actor system; snapshots are stored as byte arrays.
/// </summary>
internal sealed partial class RaftLogActor : ReceivePersistentActor
{
    /// <summary>This node's stream.</summary>
    private readonly string _persistenceId;

    /// <summary>The latest hard state written or replayed (what a <see cref="LogCompacted"/> event carries).</summary>
    private HardState _hardState = HardState.Empty;

    /// <summary>The log being rebuilt during recovery; handed to the parent afterwards.</summary>
    private StoredLog _log = new();

    /// <summary>Events replayed.</summary>
    private long _replayed;

    /// <summary>This node's tag on the journal metrics (<see cref="RaftJournalMetrics"/>).</summary>
    private readonly string _metricsNode;

    /// <summary>The events read during recovery, rebuilt into the log once all are read (the compaction point comes last).</summary>
    private List<(long SequenceNr, object Event)> _events = new();

    /// <summary>Per event still in the journal, oldest first: its sequence number and the highest log index written by
    /// it or any event before it (so every event up to one whose mark is at most a compaction point can be deleted).</summary>
    private readonly List<(long SequenceNr, long HighestIndex)> _marks = new();

    /// <summary>Highest log index written by any event so far.</summary>
    private long _highestIndex;

    /// <summary>When this incarnation started (recovery with it), and when the journal's replay ended.</summary>
    private readonly long _startedAt = Stopwatch.GetTimestamp();
    private long _replayedAt;

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

        Recover<RecoveryCompleted>(_ => OnJournalReplayed());
        Recover<SnapshotOffer>(_ => { }); // never offered: recovery loads snapshots itself (see Recovery)
        RecoverAny(e =>
        {
            _events.Add((LastSequenceNr, e));
            _replayed++;
        });
        Command<SnapshotLoaded>(OnSnapshotLoaded);
        Command<PersistReady>(Write);
        Command<SaveRaftSnapshot>(Save);
        Command<SaveSnapshotSuccess>(OnSnapshotSaved);
        Command<SaveSnapshotFailure>(OnSnapshotSaveFailed);
        Command<CompactJournal>(Compact);
        Command<LoadLatestRaftSnapshot>(_ => LoadLatestForParent());
        Command<DeleteMessagesSuccess>(OnMessagesDeleted);
        Command<DeleteMessagesFailure>(f => Log.Warning(
            "Raft journal {PersistenceId}: deleting events up to {SequenceNr} failed ({Cause}); they stay and are skipped on replay.",
            _persistenceId, f.ToSequenceNr, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => Log.Warning(
            "Raft snapshots of {PersistenceId}: deleting old snapshots failed ({Cause}); they stay until the next snapshot.", _persistenceId, f.Cause.Message));
    }

    /// <inheritdoc />
    public override string PersistenceId => _persistenceId;

    /// <summary>Akka's snapshot offer is off: this actor loads and verifies snapshots itself, so a damaged one can fall
    /// back to the previous one, and replays the whole (compacted) journal.</summary>
    public override Recovery Recovery => new(SnapshotSelectionCriteria.None);

    /// <inheritdoc />
    protected override void PreStart()
    {
        base.PreStart(); // starts the journal's replay
        RequestNewestSnapshotEarly();
    }

    private void Mark(long sequenceNr, long highest)
    {
        _highestIndex = Math.Max(_highestIndex, highest);
        _marks.Add((sequenceNr, _highestIndex));
    }

    private void Write(PersistReady request)
    {
        if (_savingFor is { } saving && (saving.Install is not null || request.Snapshot is not null))
        {
            // After a leader's snapshot whose save is in progress, every write waits for it (its reset event comes
            // first); so does a second snapshot save. A snapshot this node took of its own state does not hold up the
            // log: its image covers entries already durable, and the writes after it are ordered by the journal alone
            // (an 8 MB save took 80-120 ms, and every write of the cluster waited for it; docs/BENCHMARKS.md).
            Stash.Stash();
            return;
        }

        if (request.Snapshot is { } snapshot)
        {
            // The image first: once the reset event is durable, the log no longer holds what the snapshot covers.
            StartSave(new SaveRaftSnapshot(snapshot, request.SnapshotEnvelope!, DateTime.UtcNow), request);
            return;
        }

        PersistWritten(request);
    }

    private void PersistWritten(PersistReady request)
    {
        var written = RaftJournalCodec.ToEvent(request.TruncateFrom, request.Entries, request.HardState, request.Snapshot);
        var highest = Math.Max(request.Snapshot?.Index ?? 0, request.Entries.Count > 0 ? request.Entries[^1].Index : 0);
        var started = Stopwatch.GetTimestamp();
        Persist(written, _ =>
        {
            RaftJournalMetrics.Written(_metricsNode, started, request.Entries.Count);
            if (request.HardState is { } hs)
            {
                _hardState = hs;
            }

            Mark(LastSequenceNr, highest);
            Context.Parent.Tell(ReadyPersisted.Instance, Self);
        });
    }

    private void Compact(CompactJournal request)
    {
        if (_savingFor is not null)
        {
            Stash.Stash();
            return;
        }

        var compacted = new LogCompacted
        {
            CompactedTo = new LogPoint { Index = request.Index, Term = request.Term },
            HardState = new HardStateChanged { Term = _hardState.Term, Vote = _hardState.Vote, Commit = _hardState.Commit },
        };
        Persist(compacted, _ =>
        {
            long deleteTo = 0;
            foreach (var (sequenceNr, highest) in _marks)
            {
                if (highest > request.Index)
                {
                    break;
                }

                deleteTo = sequenceNr;
            }

            Mark(LastSequenceNr, 0);
            if (deleteTo > 0)
            {
                DeleteMessages(deleteTo);
            }
        });
    }

    private void OnMessagesDeleted(DeleteMessagesSuccess success)
    {
        _marks.RemoveAll(m => m.SequenceNr <= success.ToSequenceNr);
        Log.Debug("Raft journal {PersistenceId}: events up to {SequenceNr} deleted after compaction.", _persistenceId, success.ToSequenceNr);
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
