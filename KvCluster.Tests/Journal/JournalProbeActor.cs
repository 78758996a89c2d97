using Akka.Actor;
using Akka.Persistence;

namespace KvCluster.Tests.Journal;

/// <summary>Asks a <see cref="JournalProbeActor"/> what it recovered.</summary>
internal sealed record GetRecovered;

/// <summary>What a <see cref="JournalProbeActor"/> recovered: events with their sequence numbers, the snapshot offered.</summary>
internal sealed record Recovered(IReadOnlyList<(long SequenceNr, object Event)> Events, object? Snapshot, long SnapshotSequenceNr, long LastSequenceNr);

/// <summary>Persists <see cref="Events"/> as ONE atomic write (PersistAll); answered with the last sequence number.</summary>
internal sealed record PersistEvents(IReadOnlyList<object> Events);

/// <summary>Deletes events up to <see cref="ToSequenceNr"/>; answered with it once the journal confirmed.</summary>
internal sealed record DeleteTo(long ToSequenceNr);

/// <summary>Saves <see cref="State"/> as a snapshot at the current sequence number; answered with that number.</summary>
internal sealed record Snapshot(object State);

/// <summary>
/// A persistent actor that exercises what Raft relies on from the journal and snapshot store: it records what recovery
/// replayed (and the snapshot offered under its <see cref="SnapshotSelectionCriteria"/>), persists batches atomically,
/// deletes and snapshots on request.
/// </summary>
internal sealed class JournalProbeActor : ReceivePersistentActor
{
    private readonly string _persistenceId;
    private readonly SnapshotSelectionCriteria _criteria;
    private readonly List<(long, object)> _events = new();
    private object? _snapshot;
    private long _snapshotSequenceNr;
    private IActorRef _replyTo = ActorRefs.Nobody;

    public JournalProbeActor(string persistenceId, SnapshotSelectionCriteria? criteria)
    {
        _persistenceId = persistenceId;
        _criteria = criteria ?? SnapshotSelectionCriteria.Latest;
        Recover<SnapshotOffer>(offer =>
        {
            _snapshot = offer.Snapshot;
            _snapshotSequenceNr = offer.Metadata.SequenceNr;
        });
        Recover<RecoveryCompleted>(_ => { });
        RecoverAny(e => _events.Add((LastSequenceNr, e)));
        Command<GetRecovered>(_ => Sender.Tell(new Recovered(_events.ToArray(), _snapshot, _snapshotSequenceNr, LastSequenceNr)));
        Command<PersistEvents>(p =>
        {
            var replyTo = Sender;
            var remaining = p.Events.Count;
            PersistAll(p.Events, _ =>
            {
                if (--remaining == 0)
                {
                    replyTo.Tell(LastSequenceNr);
                }
            });
        });
        Command<DeleteTo>(d =>
        {
            _replyTo = Sender;
            DeleteMessages(d.ToSequenceNr);
        });
        Command<DeleteMessagesSuccess>(s => _replyTo.Tell(s.ToSequenceNr));
        Command<DeleteMessagesFailure>(f => _replyTo.Tell(new Status.Failure(f.Cause)));
        Command<Snapshot>(s =>
        {
            _replyTo = Sender;
            SaveSnapshot(s.State);
        });
        Command<SaveSnapshotSuccess>(s => _replyTo.Tell(s.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(f => _replyTo.Tell(new Status.Failure(f.Cause)));
    }

    public override string PersistenceId => _persistenceId;

    public override Recovery Recovery => new(_criteria);

    public static Props Props(string persistenceId, SnapshotSelectionCriteria? criteria = null) =>
        Akka.Actor.Props.Create(() => new JournalProbeActor(persistenceId, criteria));
}
