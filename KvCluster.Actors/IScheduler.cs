namespace KvCluster.Actors;

/// <summary>
/// The actor system's clock and timer service. Every timer in the runtime — actor timers, FSM state
/// timeouts, receive timeouts, Ask timeouts — goes through the system's scheduler, so a test that
/// installs a <see cref="TestScheduler"/> controls all of them with virtual time.
/// All members are thread-safe. Scheduled work must be short: it runs on the scheduler's thread.
/// </summary>
public interface IScheduler
{
    /// <summary>The scheduler's current time (wall clock for the real scheduler, virtual for <see cref="TestScheduler"/>).</summary>
    DateTimeOffset Now { get; }

    /// <summary>Sends <paramref name="message"/> to <paramref name="receiver"/> once after <paramref name="delay"/>.</summary>
    ICancelable ScheduleTellOnce(TimeSpan delay, IActorRef receiver, object message, IActorRef? sender);

    /// <summary>Sends <paramref name="message"/> after <paramref name="initialDelay"/> and then every <paramref name="interval"/> until cancelled.</summary>
    ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, IActorRef receiver, object message, IActorRef? sender);

    /// <summary>Runs <paramref name="action"/> once after <paramref name="delay"/> on the scheduler's thread; exceptions are logged and swallowed.</summary>
    ICancelable ScheduleOnce(TimeSpan delay, Action action);
}

/// <summary>A handle to scheduled work. Cancelling is cheap, idempotent and thread-safe.</summary>
public interface ICancelable
{
    /// <summary>True once <see cref="Cancel"/> was called.</summary>
    bool IsCancellationRequested { get; }

    /// <summary>Prevents every future execution (work already running is not interrupted).</summary>
    void Cancel();
}

/// <summary>One scheduled piece of work; also its own <see cref="ICancelable"/>.</summary>
internal sealed class ScheduledWork : ICancelable
{
    private volatile bool _cancelled;

    public ScheduledWork(long dueTicks, long intervalTicks, IActorRef? receiver, object? message, IActorRef? sender, Action? action)
    {
        DueTicks = dueTicks;
        IntervalTicks = intervalTicks;
        Receiver = receiver;
        Message = message;
        Sender = sender;
        Action = action;
    }

    /// <summary>When the work is due, in the owning scheduler's tick base.</summary>
    public long DueTicks { get; set; }

    /// <summary>Tie-breaker that keeps work due at the same tick in scheduling order.</summary>
    public long Sequence { get; set; }

    /// <summary>0 for one-shot work, otherwise the repeat interval in ticks.</summary>
    public long IntervalTicks { get; }

    public IActorRef? Receiver { get; }

    public object? Message { get; }

    public IActorRef? Sender { get; }

    public Action? Action { get; }

    public bool IsCancellationRequested => _cancelled;

    /// <summary>Set by a scheduler that can drop cancelled work at once (see <see cref="DedicatedThreadScheduler"/>).</summary>
    internal DedicatedThreadScheduler? Owner { get; set; }

    /// <summary>The far bucket holding this work, while it waits there (owner's lock).</summary>
    internal LinkedListNode<ScheduledWork>? BucketNode { get; set; }

    public void Cancel()
    {
        _cancelled = true;
        Owner?.Unlink(this);
    }

    /// <summary>Executes the work once; returns true when it must be scheduled again.</summary>
    public bool Run(Microsoft.Extensions.Logging.ILogger? log)
    {
        if (_cancelled)
        {
            return false;
        }
        try
        {
            if (Action is not null)
            {
                Action();
            }
            else
            {
                Receiver!.Tell(Message!, Sender);
            }
        }
        catch (Exception ex)
        {
            if (log is not null)
            {
                Microsoft.Extensions.Logging.LoggerExtensions.LogError(log, ex, "Scheduled work threw; it is dropped.");
            }
        }
        return IntervalTicks > 0 && !_cancelled;
    }

    internal static long ToTicks(TimeSpan span, string name)
    {
        if (span < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, span, "A delay must not be negative.");
        }
        return span.Ticks;
    }
}
