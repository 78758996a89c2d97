namespace KvCluster.Actors;

/// <summary>
/// A virtual-time scheduler for tests: nothing runs until the test calls <see cref="Advance"/> or
/// <see cref="AdvanceTo"/>, which then executes every due item in due-time order (ties in
/// scheduling order), deterministically, on the calling thread, moving <see cref="Now"/> to each
/// item's due time as it runs. Work scheduled while advancing that falls due within the advanced
/// span runs in the same call. Install it with <see cref="ActorSystemSetup.WithScheduler"/>.
/// Note that a "tell" only enqueues the message: the receiving actor still processes it on the
/// thread pool, so a test awaits the effect (e.g. <c>ExpectMsg</c>) after advancing.
/// </summary>
public sealed class TestScheduler : IScheduler
{
    /// <summary>The virtual time a new <see cref="TestScheduler"/> starts at (fixed, so runs are reproducible).</summary>
    public static readonly DateTimeOffset DefaultStart = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly PriorityQueue<ScheduledWork, (long Due, long Seq)> _queue = new();
    private readonly object _lock = new();
    private long _nowTicks;
    private long _sequence;

    /// <summary>Creates a scheduler at <see cref="DefaultStart"/>.</summary>
    public TestScheduler() : this(DefaultStart)
    {
    }

    /// <summary>Creates a scheduler whose virtual clock starts at <paramref name="start"/>.</summary>
    public TestScheduler(DateTimeOffset start)
    {
        _nowTicks = start.UtcTicks;
    }

    /// <inheritdoc />
    public DateTimeOffset Now
    {
        get
        {
            lock (_lock)
            {
                return new DateTimeOffset(_nowTicks, TimeSpan.Zero);
            }
        }
    }

    /// <summary>Number of scheduled items not yet run or discarded (cancelled items count until they come due).</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <inheritdoc />
    public ICancelable ScheduleTellOnce(TimeSpan delay, IActorRef receiver, object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        return Add(ScheduledWork.ToTicks(delay, nameof(delay)), 0, receiver, message, sender, null);
    }

    /// <inheritdoc />
    public ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, IActorRef receiver, object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        if (interval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "A repeat interval must be positive.");
        }
        return Add(ScheduledWork.ToTicks(initialDelay, nameof(initialDelay)), interval.Ticks, receiver, message, sender, null);
    }

    /// <inheritdoc />
    public ICancelable ScheduleOnce(TimeSpan delay, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        return Add(ScheduledWork.ToTicks(delay, nameof(delay)), 0, null, null, null, action);
    }

    /// <summary>Moves virtual time forward by <paramref name="span"/>, running everything that falls due.</summary>
    public void Advance(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(span), span, "Virtual time cannot go backwards.");
        }
        long target;
        lock (_lock)
        {
            target = _nowTicks + span.Ticks;
        }
        RunUntil(target);
    }

    /// <summary>Moves virtual time forward to <paramref name="time"/> (no-op if already past it), running everything that falls due.</summary>
    public void AdvanceTo(DateTimeOffset time) => RunUntil(time.UtcTicks);

    private void RunUntil(long target)
    {
        while (true)
        {
            ScheduledWork? work;
            lock (_lock)
            {
                if (!_queue.TryPeek(out work, out var key) || key.Due > target)
                {
                    _nowTicks = Math.Max(_nowTicks, target);
                    return;
                }
                _queue.Dequeue();
                _nowTicks = Math.Max(_nowTicks, key.Due);
            }
            if (work.Run(null))
            {
                lock (_lock)
                {
                    work.DueTicks += work.IntervalTicks;
                    work.Sequence = _sequence++;
                    _queue.Enqueue(work, (work.DueTicks, work.Sequence));
                }
            }
        }
    }

    private ScheduledWork Add(long delayTicks, long intervalTicks, IActorRef? receiver, object? message, IActorRef? sender, Action? action)
    {
        lock (_lock)
        {
            var work = new ScheduledWork(_nowTicks + delayTicks, intervalTicks, receiver, message, sender, action)
            {
                Sequence = _sequence++,
            };
            _queue.Enqueue(work, (work.DueTicks, work.Sequence));
            return work;
        }
    }
}
