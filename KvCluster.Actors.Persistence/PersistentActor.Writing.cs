using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Snapshot;

namespace KvCluster.Actors.Persistence;

/// <summary>
/// Persisting: Persist/PersistAll calls of one handler are gathered and sent to the journal as ONE
/// batch when the handler returns (many actors' batches then meet in the journal's group commit).
/// One batch per actor is in flight at a time; its replies arrive as messages, in order, carrying
/// the command's sender, and run the persist handlers on the actor. Snapshots and deletes reply
/// with Akka's success/failure messages, delivered as commands.
/// </summary>
public abstract partial class PersistentActor
{
    /// <summary>Persist calls of the running handler, not yet sent to the journal.</summary>
    private readonly List<PendingWrite> _pendingWrites = [];

    /// <summary>The batch the journal is writing, in persist order.</summary>
    private readonly Queue<PendingWrite> _inFlight = new();

    /// <summary>The sequence number given to the last persisted event (ahead of <see cref="LastSequenceNr"/> while writes are in flight).</summary>
    private long _nextSequenceNr;

    /// <summary>The writer id stored with this incarnation's events.</summary>
    private string _writerUuid = Guid.NewGuid().ToString("N");

    /// <summary>True while a recover handler runs an event or snapshot; persisting is not allowed then.</summary>
    private bool _inRecoverHandler;

    /// <summary>
    /// Persists <paramref name="event"/> and, once it is stored, runs <paramref name="handler"/> with it
    /// on this actor. Call from a command handler (or a persist handler); no other command is handled
    /// until the handler ran.
    /// </summary>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <param name="event">The event; serialized now with the system's serializer.</param>
    /// <param name="handler">Applies the event to the state; <c>Sender</c> is the command's sender.</param>
    /// <exception cref="InvalidOperationException">Called from a recover handler.</exception>
    protected void Persist<TEvent>(TEvent @event, Action<TEvent> handler)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(@event);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfRecovering();
        _pendingWrites.Add(new PendingWrite(new AtomicWrite(ToRepr(@event)), [@event], e => handler((TEvent)e), Sender));
    }

    /// <summary>
    /// Persists <paramref name="events"/> atomically (all or none) and, once stored, runs
    /// <paramref name="handler"/> for each, in order. An empty sequence does nothing.
    /// </summary>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <param name="events">The events; serialized now.</param>
    /// <param name="handler">Applies one event to the state.</param>
    /// <exception cref="InvalidOperationException">Called from a recover handler.</exception>
    protected void PersistAll<TEvent>(IEnumerable<TEvent> events, Action<TEvent> handler)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfRecovering();
        var list = events.Cast<object>().ToArray();
        if (list.Length == 0)
        {
            return;
        }
        var reprs = new PersistentRepr[list.Length];
        for (var i = 0; i < list.Length; i++)
        {
            reprs[i] = ToRepr(list[i]);
        }
        _pendingWrites.Add(new PendingWrite(new AtomicWrite(reprs), list, e => handler((TEvent)e), Sender));
    }

    /// <summary>
    /// Saves <paramref name="snapshot"/> as the state at <see cref="SnapshotSequenceNr"/>. Replies to this
    /// actor with <see cref="SaveSnapshotSuccess"/> or <see cref="SaveSnapshotFailure"/>.
    /// </summary>
    /// <param name="snapshot">The state; serialized now.</param>
    protected void SaveSnapshot(object snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var metadata = new SnapshotMetadata(PersistenceId, SnapshotSequenceNr, Context.System.Scheduler.Now);
        var data = _persistence.Serializer.Serialize(snapshot, out var manifest);
        ReplyWhenDone(SnapshotStore.SaveAsync(metadata, manifest, data), () => new SaveSnapshotSuccess(metadata), ex => new SaveSnapshotFailure(metadata, ex));
    }

    /// <summary>
    /// Deletes this entity's events up to <paramref name="toSequenceNr"/> (<see cref="long.MaxValue"/>: up to
    /// <see cref="LastSequenceNr"/>). Replies with <see cref="DeleteMessagesSuccess"/> or <see cref="DeleteMessagesFailure"/>
    /// (also when <paramref name="toSequenceNr"/> lies beyond <see cref="LastSequenceNr"/>).
    /// </summary>
    /// <param name="toSequenceNr">The highest sequence number to delete.</param>
    protected void DeleteMessages(long toSequenceNr)
    {
        var to = toSequenceNr == long.MaxValue ? LastSequenceNr : toSequenceNr;
        if (to > LastSequenceNr)
        {
            Self.Tell(new DeleteMessagesFailure(
                new ArgumentOutOfRangeException(nameof(toSequenceNr), toSequenceNr, $"Cannot delete up to {toSequenceNr}: the last sequence number of '{PersistenceId}' is {LastSequenceNr}."),
                toSequenceNr), Self);
            return;
        }
        ReplyWhenDone(Journal.DeleteMessagesToAsync(PersistenceId, to), () => new DeleteMessagesSuccess(to), ex => new DeleteMessagesFailure(ex, to));
    }

    /// <summary>Deletes this entity's snapshots matching <paramref name="criteria"/>; replies with <see cref="DeleteSnapshotsSuccess"/> or <see cref="DeleteSnapshotsFailure"/>.</summary>
    /// <param name="criteria">Which snapshots to delete.</param>
    protected void DeleteSnapshots(SnapshotSelectionCriteria criteria)
    {
        ArgumentNullException.ThrowIfNull(criteria);
        ReplyWhenDone(SnapshotStore.DeleteAsync(PersistenceId, criteria), () => new DeleteSnapshotsSuccess(criteria), ex => new DeleteSnapshotsFailure(criteria, ex));
    }

    private void ReplyWhenDone(Task task, Func<object> success, Func<Exception, object> failure)
    {
        var self = Self;
        task.ContinueWith(
            t => self.Tell(t.IsCompletedSuccessfully ? success() : failure(t.Exception?.GetBaseException() ?? new TaskCanceledException(t)), self),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void ThrowIfRecovering()
    {
        if (_inRecoverHandler || IsRecovering)
        {
            throw new InvalidOperationException($"Persist cannot be called while '{PersistenceId}' is recovering; persist from a command handler (or on RecoveryCompleted).");
        }
    }

    private PersistentRepr ToRepr(object @event)
    {
        var payload = _persistence.Serializer.Serialize(@event, out var manifest);
        return new PersistentRepr(PersistenceId, ++_nextSequenceNr, payload, manifest, _writerUuid, Context.System.Scheduler.Now.ToUnixTimeMilliseconds());
    }

    private void ResetWrites()
    {
        _pendingWrites.Clear();
        _inFlight.Clear();
        _nextSequenceNr = 0;
        _writerUuid = Guid.NewGuid().ToString("N");
    }

    /// <summary>Sends the gathered Persist calls to the journal unless a batch is already in flight.</summary>
    private void FlushPendingWrites()
    {
        if (_pendingWrites.Count == 0 || _inFlight.Count > 0)
        {
            return;
        }
        var batch = _pendingWrites.ToArray();
        _pendingWrites.Clear();
        var writes = new AtomicWrite[batch.Length];
        for (var i = 0; i < batch.Length; i++)
        {
            writes[i] = batch[i].Write;
            _inFlight.Enqueue(batch[i]);
        }
        _state = PersistingEvents;
        var completion = new WriteCompletion(Self, _instanceId, batch);
        try
        {
            if (Journal is IWriteCallbackJournal direct)
            {
                // The journal's writer thread tells the results itself: no task, no pool hop per write.
                direct.WriteMessages(writes, completion);
                return;
            }
            Journal.WriteMessagesAsync(writes).ContinueWith(
                static (t, state) =>
                {
                    var callback = (WriteCompletion)state!;
                    if (t.IsCompletedSuccessfully)
                    {
                        callback.Written(t.Result);
                    }
                    else
                    {
                        callback.Failed(t.Exception?.GetBaseException() ?? new TaskCanceledException(t));
                    }
                },
                completion,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
        catch (Exception ex)
        {
            completion.Failed(ex);
        }
    }

    /// <summary>Tells the actor one <see cref="WriteResult"/> per write of a batch, in order, so the mailbox sees persist order.</summary>
    private sealed class WriteCompletion(IActorRef self, long instanceId, PendingWrite[] batch) : IWriteCallback
    {
        public void Written(IReadOnlyList<Exception?> results)
        {
            for (var i = 0; i < batch.Length; i++)
            {
                self.Tell(new WriteResult(instanceId, results[i], null), batch[i].Sender);
            }
        }

        public void Failed(Exception error)
        {
            for (var i = 0; i < batch.Length; i++)
            {
                self.Tell(new WriteResult(instanceId, null, error), batch[i].Sender);
            }
        }
    }

    /// <summary>A batch is being written: its replies run the handlers; commands wait.</summary>
    private bool PersistingEvents(object message)
    {
        if (message is not WriteResult result)
        {
            return IsOwnProtocol(message) ? true : StashInternal(message);
        }
        if (result.InstanceId != _instanceId)
        {
            return true;
        }
        var write = _inFlight.Dequeue();
        var sequenceNr = write.Write.LowestSequenceNr;
        if (result.Failure is not null)
        {
            try
            {
                OnPersistFailure(result.Failure, write.Events[0], sequenceNr);
            }
            finally
            {
                _state = Stopping;
                Context.Stop(Self);
            }
            return true;
        }
        var events = write.Write.Events;
        for (var i = 0; i < write.Events.Length; i++)
        {
            LastSequenceNr = events[i].SequenceNr;
            if (result.Rejection is not null)
            {
                OnPersistRejected(result.Rejection, write.Events[i], events[i].SequenceNr);
            }
            else
            {
                write.Handler(write.Events[i]);
            }
        }
        if (_inFlight.Count == 0)
        {
            _state = ProcessingCommands;
            FlushPendingWrites();
            if (_inFlight.Count == 0)
            {
                UnstashAllInternal();
            }
        }
        return true;
    }

    /// <summary>One Persist or PersistAll call.</summary>
    private sealed record PendingWrite(AtomicWrite Write, object[] Events, Action<object> Handler, IActorRef? Sender);

    /// <summary>The journal's answer for one atomic write: stored, rejected, or failed.</summary>
    private sealed record WriteResult(long InstanceId, Exception? Rejection, Exception? Failure) : IPersistenceProtocol;
}
