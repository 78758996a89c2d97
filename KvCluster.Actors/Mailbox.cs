using System.Collections.Concurrent;

namespace KvCluster.Actors;

/// <summary>
/// An actor's mailbox and its unit of scheduling on the .NET thread pool.
/// <para>
/// Two queues: system messages (watch, stop, failure, restart...) and user messages. A turn
/// (<see cref="Execute"/>) first drains all system messages, then processes up to
/// <c>throughput</c> user messages, draining system messages again after each one, so system
/// messages always overtake user messages. One turn at a time per mailbox (the <c>Scheduled</c>
/// status bit), hence one message at a time per actor; producers only enqueue and, if the mailbox
/// is idle, queue it to the thread pool (<see cref="ThreadPool.UnsafeQueueUserWorkItem(IThreadPoolWorkItem, bool)"/>,
/// no allocation; <c>preferLocal</c> so an actor replying to another keeps the work on the same
/// worker's local queue, where idle workers can still steal it). The user queue is a lock-free <see cref="ConcurrentQueue{T}"/> of
/// <see cref="Envelope"/> structs: its segments are ring buffers reused while the backlog fits,
/// so steady-state enqueue/dequeue allocates nothing; FIFO holds for every sender–receiver pair.
/// </para>
/// <para>
/// Messages put back by <c>Unstash</c> go to a consumer-only "prepend" list that is read before the
/// user queue. After <see cref="Close"/>, user messages go to dead letters and a <see cref="Watch"/>
/// is answered with a <see cref="DeathWatchNotification"/>.
/// </para>
/// </summary>
internal sealed class Mailbox : IThreadPoolWorkItem
{
    private const int ScheduledBit = 1;
    private const int ClosedBit = 2;

    private readonly ConcurrentQueue<Envelope> _user = new();
    private readonly ConcurrentQueue<ISystemMessage> _system = new();
    private readonly int _throughput;
    private readonly bool _callingThread;

    /// <summary>Where turns run when not on the calling thread; null for the .NET thread pool (the default, checked with one null test).</summary>
    private readonly IMailboxDispatcher? _dispatcher;
    private LinkedList<Envelope>? _prepended;
    private ActorCell _cell = null!;
    private int _status;

    /// <summary>Set by the cell: true while user messages must not be processed (not created, failed, awaiting a task, stopping).</summary>
    private volatile bool _userSuspended = true;

    public Mailbox(int throughput, bool callingThread, IMailboxDispatcher? dispatcher = null)
    {
        _throughput = throughput;
        _callingThread = callingThread;
        _dispatcher = dispatcher;
    }

    public bool IsClosed => (Volatile.Read(ref _status) & ClosedBit) != 0;

    /// <summary>Number of user messages waiting (approximate under concurrency).</summary>
    public int UserCount => _user.Count + (_prepended?.Count ?? 0);

    public void SetCell(ActorCell cell) => _cell = cell;

    /// <summary>Called by the cell (on the mailbox's turn) when user processing becomes allowed or forbidden.</summary>
    public void SetUserSuspended(bool suspended) => _userSuspended = suspended;

    public void Post(object message, IActorRef? sender)
    {
        _user.Enqueue(new Envelope(message, sender));
        if ((Volatile.Read(ref _status) & ClosedBit) != 0)
        {
            DrainUserToDeadLetters();
            return;
        }
        if (!_userSuspended)
        {
            TrySchedule();
        }
    }

    public void PostSystem(ISystemMessage message)
    {
        _system.Enqueue(message);
        if ((Volatile.Read(ref _status) & ClosedBit) != 0)
        {
            DrainSystemAfterClose();
            return;
        }
        TrySchedule();
    }

    /// <summary>Puts envelopes at the front of the user queue, in the given order. Mailbox thread only.</summary>
    public void Prepend(IReadOnlyList<Envelope> envelopes)
    {
        if (envelopes.Count == 0)
        {
            return;
        }
        _prepended ??= new LinkedList<Envelope>();
        for (var i = envelopes.Count - 1; i >= 0; i--)
        {
            _prepended.AddFirst(envelopes[i]);
        }
    }

    private bool TryDequeueUser(out Envelope envelope)
    {
        if (_prepended is { Count: > 0 } prepended)
        {
            envelope = prepended.First!.Value;
            prepended.RemoveFirst();
            return true;
        }
        return _user.TryDequeue(out envelope);
    }

    private bool HasWork()
    {
        if ((Volatile.Read(ref _status) & ClosedBit) != 0)
        {
            return false;
        }
        return !_system.IsEmpty || (!_userSuspended && (!_user.IsEmpty || _prepended is { Count: > 0 }));
    }

    /// <summary>Schedules a turn unless one is scheduled/running or the mailbox is closed.</summary>
    public void TrySchedule()
    {
        while (true)
        {
            var status = Volatile.Read(ref _status);
            if ((status & (ScheduledBit | ClosedBit)) != 0)
            {
                return;
            }
            if (Interlocked.CompareExchange(ref _status, status | ScheduledBit, status) == status)
            {
                if (_callingThread)
                {
                    RunOnCallingThread();
                }
                else if (_dispatcher is null)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
                }
                else
                {
                    _dispatcher.Schedule(this);
                }
                return;
            }
        }
    }

    /// <summary>One mailbox turn on a thread-pool thread (or wherever the system's <see cref="IMailboxDispatcher"/> runs it).</summary>
    public void Execute()
    {
        var previous = ActorCell.SwapCurrent(_cell);
        try
        {
            RunTurn(_throughput);
        }
        finally
        {
            ActorCell.SwapCurrent(previous);
            Interlocked.And(ref _status, ~ScheduledBit);
        }
        if (HasWork())
        {
            TrySchedule();
        }
    }

    private void RunOnCallingThread()
    {
        var previous = ActorCell.SwapCurrent(_cell);
        try
        {
            while (true)
            {
                RunTurn(int.MaxValue);
                Interlocked.And(ref _status, ~ScheduledBit);
                if (!HasWork())
                {
                    return;
                }
                var status = Volatile.Read(ref _status);
                if ((status & (ScheduledBit | ClosedBit)) != 0 || Interlocked.CompareExchange(ref _status, status | ScheduledBit, status) != status)
                {
                    return;
                }
            }
        }
        finally
        {
            ActorCell.SwapCurrent(previous);
        }
    }

    private void RunTurn(int throughput)
    {
        var cell = _cell;
        ProcessSystemMessages(cell);
        while (throughput-- > 0 && !_userSuspended && (Volatile.Read(ref _status) & ClosedBit) == 0)
        {
            if (!TryDequeueUser(out var envelope))
            {
                break;
            }
            cell.Invoke(envelope);
            if (!_system.IsEmpty)
            {
                ProcessSystemMessages(cell);
            }
        }
    }

    private void ProcessSystemMessages(ActorCell cell)
    {
        while ((Volatile.Read(ref _status) & ClosedBit) == 0 && _system.TryDequeue(out var message))
        {
            cell.SystemInvoke(message);
        }
    }

    /// <summary>Closes the mailbox for good (the actor stopped): pending messages go to dead letters. Mailbox thread only.</summary>
    public void Close()
    {
        Interlocked.Or(ref _status, ClosedBit);
        if (_prepended is { Count: > 0 } prepended)
        {
            foreach (var envelope in prepended)
            {
                _cell.System.DeadLetterRef.Publish(envelope.Message, envelope.Sender, _cell.Self);
            }
            prepended.Clear();
        }
        DrainUserToDeadLetters();
        DrainSystemAfterClose();
    }

    private void DrainUserToDeadLetters()
    {
        while (_user.TryDequeue(out var envelope))
        {
            _cell.System.DeadLetterRef.Publish(envelope.Message, envelope.Sender, _cell.Self);
        }
    }

    private void DrainSystemAfterClose()
    {
        while (_system.TryDequeue(out var message))
        {
            if (message is Watch watch && watch.Watchee.Equals(_cell.Self) && !watch.Watcher.Equals(_cell.Self))
            {
                ((InternalActorRef)watch.Watcher).SendSystemMessage(new DeathWatchNotification(_cell.Self, ExistenceConfirmed: true, AddressTerminated: false));
            }
        }
    }
}
