using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Snapshot;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Persistence;

/// <summary>
/// An event-sourced actor with Akka.Persistence's contract. Register recover handlers with
/// <see cref="Recover{T}(Action{T})"/> and command handlers with <see cref="Command{T}(Action{T})"/>
/// in the constructor. On start (and after every restart) the actor recovers: the latest matching
/// snapshot is offered (<see cref="SnapshotOffer"/>), later events are replayed to the recover
/// handlers, then <see cref="RecoveryCompleted"/> arrives; commands received meanwhile wait.
/// A command handler calls <see cref="Persist{TEvent}"/> or <see cref="PersistAll{TEvent}"/>; no
/// further command is handled until every persist handler of that command has run (commands
/// arriving meanwhile are stashed internally and handled afterwards in arrival order). Persist
/// handlers run on the actor, in persist order, with <c>Sender</c> set to the command's sender.
/// A failed journal write stops the actor (<see cref="OnPersistFailure"/>): nothing is known about
/// what was stored. A rejected event (<see cref="OnPersistRejected"/>) is not stored, its handler is
/// not run, and the actor goes on.
/// </summary>
public abstract partial class PersistentActor : ActorBase
{
    /// <summary>Tells this incarnation's journal replies from those of earlier incarnations.</summary>
    private static long s_nextInstanceId;

    /// <summary>Recover handlers in registration order.</summary>
    private readonly List<Func<object, bool>> _recoverHandlers = [];

    /// <summary>Command handlers in registration order.</summary>
    private readonly List<Func<object, bool>> _commandHandlers = [];

    /// <summary>Commands that arrived while recovering or persisting, in arrival order.</summary>
    private readonly List<Envelope> _internalStash = [];

    /// <summary>The system's persistence extension.</summary>
    private readonly Persistence _persistence;

    /// <summary>This incarnation's id, carried by every journal reply.</summary>
    private long _instanceId = Interlocked.Increment(ref s_nextInstanceId);

    /// <summary>The current state's message handler.</summary>
    private Func<object, bool> _state;

    /// <summary>False once the constructor finished: handlers can only be registered before.</summary>
    private bool _registering = true;

    /// <summary>Creates the actor; the system must have persistence configured (<see cref="Persistence.Configure"/>).</summary>
    protected PersistentActor()
    {
        _persistence = Persistence.Get(Context.System);
        _state = StashingUntilRecoveryStarts;
    }

    /// <summary>The id of this entity's event stream; must be stable across restarts and unique in the journal.</summary>
    public abstract string PersistenceId { get; }

    /// <summary>The sequence number of the last event recovered or persisted (whose handler ran); 0 before any.</summary>
    public long LastSequenceNr { get; private set; }

    /// <summary>The sequence number a snapshot taken now covers: <see cref="LastSequenceNr"/>.</summary>
    public long SnapshotSequenceNr => LastSequenceNr;

    /// <summary>True until <see cref="RecoveryCompleted"/> has been handled.</summary>
    public bool IsRecovering { get; private set; } = true;

    /// <summary>Which snapshot and events recovery uses; override to change. Read once per recovery.</summary>
    protected virtual Recovery Recovery => Recovery.Default;

    /// <summary>The journal (shared with the system's other persistent actors).</summary>
    protected IJournal Journal => _persistence.Journal;

    /// <summary>The snapshot store (shared with the system's other persistent actors).</summary>
    protected ISnapshotStore SnapshotStore => _persistence.SnapshotStore;

    /// <summary>Registers a recover handler for events, <see cref="SnapshotOffer"/> and <see cref="RecoveryCompleted"/> of type <typeparamref name="T"/>. Constructor only.</summary>
    /// <typeparam name="T">The message type handled.</typeparam>
    /// <param name="handler">Applies the event or snapshot to the state; must not persist.</param>
    protected void Recover<T>(Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Registering().Add(_recoverHandlers, m =>
        {
            if (m is T typed)
            {
                handler(typed);
                return true;
            }
            return false;
        });
    }

    /// <summary>Registers a command handler for messages of type <typeparamref name="T"/>. Constructor only.</summary>
    /// <typeparam name="T">The message type handled.</typeparam>
    /// <param name="handler">Handles the command; may call <see cref="Persist{TEvent}"/>.</param>
    protected void Command<T>(Action<T> handler) => Command<T>(_ => true, handler);

    /// <summary>Registers a command handler for messages of type <typeparamref name="T"/> that match <paramref name="shouldHandle"/>. Constructor only.</summary>
    /// <typeparam name="T">The message type handled.</typeparam>
    /// <param name="shouldHandle">Selects the messages.</param>
    /// <param name="handler">Handles the command; may call <see cref="Persist{TEvent}"/>.</param>
    protected void Command<T>(Predicate<T> shouldHandle, Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(shouldHandle);
        ArgumentNullException.ThrowIfNull(handler);
        Registering().Add(_commandHandlers, m =>
        {
            if (m is T typed && shouldHandle(typed))
            {
                handler(typed);
                return true;
            }
            return false;
        });
    }

    /// <summary>
    /// Called when the journal failed to store an event. The default logs an error; the actor is
    /// stopped afterwards in any case, since nothing is known about what was stored.
    /// </summary>
    /// <param name="cause">The storage error.</param>
    /// <param name="event">The first event of the failed write.</param>
    /// <param name="sequenceNr">Its sequence number.</param>
    protected virtual void OnPersistFailure(Exception cause, object @event, long sequenceNr) =>
        Log.LogError(cause, "Failed to persist event {EventType} with sequence number {SequenceNr} for persistence id '{PersistenceId}'; stopping.",
            @event.GetType().Name, sequenceNr, PersistenceId);

    /// <summary>
    /// Called when the journal rejected an event (too large, sequence number in use). The event
    /// was not stored and its handler does not run; the default logs a warning and the actor goes on.
    /// </summary>
    /// <param name="cause">Why it was rejected.</param>
    /// <param name="event">The rejected event.</param>
    /// <param name="sequenceNr">Its sequence number.</param>
    protected virtual void OnPersistRejected(Exception cause, object @event, long sequenceNr) =>
        Log.LogWarning(cause, "Rejected to persist event {EventType} with sequence number {SequenceNr} for persistence id '{PersistenceId}': {Reason}",
            @event.GetType().Name, sequenceNr, PersistenceId, cause.Message);

    /// <summary>
    /// Called when recovery failed (snapshot load, replay or a recover handler threw). The default
    /// logs an error; the actor is stopped afterwards in any case.
    /// </summary>
    /// <param name="reason">The error.</param>
    /// <param name="message">The event being recovered, if any.</param>
    protected virtual void OnRecoveryFailure(Exception reason, object? message) =>
        Log.LogError(reason, "Recovery of persistence id '{PersistenceId}' failed at {MessageType}; stopping.", PersistenceId, message?.GetType().Name ?? "load");

    /// <inheritdoc />
    protected sealed override bool Receive(object message) => _state(message);

    /// <inheritdoc />
    protected internal override void AroundPreStart()
    {
        _registering = false;
        StartRecovery();
        base.AroundPreStart();
    }

    /// <inheritdoc />
    protected internal override void AroundPreRestart(Exception cause, object? message)
    {
        // Commands waiting here go back to the mailbox so the next incarnation handles them.
        UnstashAllInternal();
        base.AroundPreRestart(cause, message);
    }

    /// <inheritdoc />
    protected internal override void AroundPostRestart(Exception cause)
    {
        _registering = false;
        StartRecovery();
        base.AroundPostRestart(cause);
    }

    /// <inheritdoc />
    protected internal override void AroundPostStop()
    {
        foreach (var envelope in _internalStash)
        {
            Context.System.DeadLetters.Tell(envelope.Message, envelope.Sender);
        }
        _internalStash.Clear();
        base.AroundPostStop();
    }

    private PersistentActor Registering() => _registering
        ? this
        : throw new InvalidOperationException("Recover and Command handlers can only be registered in the persistent actor's constructor.");

    private void Add(List<Func<object, bool>> handlers, Func<object, bool> handler) => handlers.Add(handler);

    private bool Dispatch(List<Func<object, bool>> handlers, object message)
    {
        foreach (var handler in handlers)
        {
            if (handler(message))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Keeps the current message for later; handled again, in order, by <see cref="UnstashAllInternal"/>.</summary>
    private bool StashInternal(object message)
    {
        _internalStash.Add(new Envelope(message, Sender));
        return true;
    }

    private void UnstashAllInternal()
    {
        if (_internalStash.Count > 0)
        {
            Cell!.Mailbox.Prepend(_internalStash.ToArray());
            _internalStash.Clear();
        }
    }

    /// <summary>The state before recovery started (messages can only arrive once PreStart ran, but be safe).</summary>
    private bool StashingUntilRecoveryStarts(object message) => StashInternal(message);

    /// <summary>Normal operation: commands go to the command handlers.</summary>
    private bool ProcessingCommands(object message)
    {
        if (message is IPersistenceProtocol)
        {
            // A late reply to an earlier incarnation; nothing waits for it.
            return true;
        }
        var handled = Dispatch(_commandHandlers, message);
        FlushPendingWrites();
        return handled;
    }

    /// <summary>After a stop was requested: everything is dropped.</summary>
    private static bool Stopping(object message) => true;

    /// <summary>Marks the journal's and stores' replies to this actor.</summary>
    internal interface IPersistenceProtocol
    {
        /// <summary>The incarnation the reply belongs to.</summary>
        long InstanceId { get; }
    }
}
