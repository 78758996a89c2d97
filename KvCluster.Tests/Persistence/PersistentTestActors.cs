using KvCluster.Actors;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Journal;

namespace KvCluster.Tests.Persistence;

public sealed record Cmd(string Data);
public sealed record CmdAll(string[] Items);
public sealed record Evt(string Data);
public sealed record GetState;
public sealed record State(string[] Items, long LastSequenceNr);
public sealed record TakeSnapshot;
public sealed record StateSnapshot(string[] Items);
public sealed record DeleteTo(long To);
public sealed record Boom;
public sealed record Recovered(string[] Items, long LastSequenceNr);
public sealed record Offered(long SequenceNr);
public sealed record ReplayedEvt(string Data);
public sealed record PersistRejected(string Data, long SequenceNr);

/// <summary>
/// A persistent actor that keeps a list of strings. Replies "data-seq" to the command's sender from
/// the persist handler; reports recovery steps and lifecycle replies to <c>probe</c>.
/// </summary>
public sealed class ListActor : PersistentActor
{
    private readonly IActorRef _probe;
    private List<string> _items = [];

    public ListActor(string persistenceId, IActorRef probe)
    {
        PersistenceId = persistenceId;
        _probe = probe;
        Recover<SnapshotOffer>(offer =>
        {
            _items = [.. ((StateSnapshot)offer.Snapshot).Items];
            _probe.Tell(new Offered(offer.Metadata.SequenceNr));
        });
        Recover<Evt>(e =>
        {
            _items.Add(e.Data);
            _probe.Tell(new ReplayedEvt(e.Data));
        });
        Recover<RecoveryCompleted>(_ => _probe.Tell(new Recovered([.. _items], LastSequenceNr)));
        Command<Cmd>(c => Persist(new Evt(c.Data), e =>
        {
            _items.Add(e.Data);
            Sender.Tell($"{e.Data}-{LastSequenceNr}");
        }));
        Command<CmdAll>(c => PersistAll(c.Items.Select(i => new Evt(i)), e =>
        {
            _items.Add(e.Data);
            Sender.Tell($"{e.Data}-{LastSequenceNr}");
        }));
        Command<GetState>(_ => Sender.Tell(new State([.. _items], LastSequenceNr)));
        Command<TakeSnapshot>(_ => SaveSnapshot(new StateSnapshot([.. _items])));
        Command<DeleteTo>(d => DeleteMessages(d.To));
        Command<Boom>(_ => throw new InvalidOperationException("boom"));
        Command<SaveSnapshotSuccess>(m => _probe.Tell(m));
        Command<SaveSnapshotFailure>(m => _probe.Tell(m));
        Command<DeleteMessagesSuccess>(m => _probe.Tell(m));
        Command<DeleteMessagesFailure>(m => _probe.Tell(m));
    }

    public override string PersistenceId { get; }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        base.OnPersistRejected(cause, @event, sequenceNr);
        _probe.Tell(new PersistRejected(((Evt)@event).Data, sequenceNr));
    }
}

/// <summary>
/// Wraps a journal: holds every write until <see cref="Release"/>, counts batches in flight, or
/// fails every write when <see cref="Fail"/> is set.
/// </summary>
public sealed class ControlledJournal(IJournal inner) : IJournal
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private int _maxInFlight;
    private int _batches;

    public bool Hold { get; init; }

    public bool Fail { get; init; }

    public int Batches => Volatile.Read(ref _batches);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public void Release() => _gate.TrySetResult();

    public async Task<IReadOnlyList<Exception?>> WriteMessagesAsync(IReadOnlyList<AtomicWrite> writes)
    {
        Interlocked.Increment(ref _batches);
        var now = Interlocked.Increment(ref _inFlight);
        int seen;
        while ((seen = Volatile.Read(ref _maxInFlight)) < now && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
        {
        }
        try
        {
            if (Fail)
            {
                await Task.Yield();
                throw new PersistenceStoreException(null, "injected journal failure");
            }
            if (Hold)
            {
                await _gate.Task;
            }
            return await inner.WriteMessagesAsync(writes);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public Task ReplayMessagesAsync(string persistenceId, long fromSequenceNr, long toSequenceNr, long max, Action<PersistentRepr> recoveryCallback, CancellationToken cancellationToken = default) =>
        inner.ReplayMessagesAsync(persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback, cancellationToken);

    public Task<long> ReadHighestSequenceNrAsync(string persistenceId, CancellationToken cancellationToken = default) =>
        inner.ReadHighestSequenceNrAsync(persistenceId, cancellationToken);

    public Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr) => inner.DeleteMessagesToAsync(persistenceId, toSequenceNr);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
