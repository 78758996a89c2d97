namespace KvCluster.Actors;

/// <summary>
/// Keyed timers owned by one actor (Akka's <c>ITimerScheduler</c>), reached through
/// <see cref="IActorContext.Timers"/>. Starting a timer with a key that is active replaces it.
/// A cancelled or replaced timer's message is never delivered, even if it was already queued in
/// the mailbox (each start bumps a generation; stale deliveries are dropped). Timers are cancelled
/// when the actor stops or restarts. Use only on the actor's thread.
/// </summary>
public interface ITimerScheduler
{
    /// <summary>Delivers <paramref name="message"/> to the actor every <paramref name="interval"/> (first after one interval).</summary>
    void StartPeriodicTimer(object key, object message, TimeSpan interval);

    /// <summary>Delivers <paramref name="message"/> after <paramref name="initialDelay"/> and then every <paramref name="interval"/>.</summary>
    void StartPeriodicTimer(object key, object message, TimeSpan initialDelay, TimeSpan interval);

    /// <summary>Delivers <paramref name="message"/> once after <paramref name="timeout"/>.</summary>
    void StartSingleTimer(object key, object message, TimeSpan timeout);

    /// <summary>True while the timer is active (a single timer stops being active when its message is delivered).</summary>
    bool IsTimerActive(object key);

    /// <summary>Cancels the timer; no-op when there is none.</summary>
    void Cancel(object key);

    /// <summary>Cancels every timer of this actor.</summary>
    void CancelAll();

    /// <summary>The keys of the active timers.</summary>
    IReadOnlyCollection<object> ActiveTimers { get; }
}

/// <summary>The per-actor timer table; all timing goes through the system scheduler.</summary>
internal sealed class TimerScheduler(ActorCell cell) : ITimerScheduler
{
    private readonly Dictionary<object, Timer> _timers = [];
    private long _generation;

    public IReadOnlyCollection<object> ActiveTimers => _timers.Keys;

    public void StartPeriodicTimer(object key, object message, TimeSpan interval) => Start(key, message, interval, interval, repeat: true);

    public void StartPeriodicTimer(object key, object message, TimeSpan initialDelay, TimeSpan interval) => Start(key, message, initialDelay, interval, repeat: true);

    public void StartSingleTimer(object key, object message, TimeSpan timeout) => Start(key, message, timeout, TimeSpan.Zero, repeat: false);

    public bool IsTimerActive(object key) => _timers.ContainsKey(key);

    public void Cancel(object key)
    {
        if (_timers.Remove(key, out var timer))
        {
            timer.Cancelable.Cancel();
        }
    }

    public void CancelAll()
    {
        foreach (var timer in _timers.Values)
        {
            timer.Cancelable.Cancel();
        }
        _timers.Clear();
    }

    private void Start(object key, object message, TimeSpan initialDelay, TimeSpan interval, bool repeat)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(message);
        Cancel(key);
        var timerMessage = new TimerMessage(key, ++_generation, this, message);
        var scheduler = cell.System.Scheduler;
        var cancelable = repeat
            ? scheduler.ScheduleTellRepeatedly(initialDelay, interval, cell.Self, timerMessage, null)
            : scheduler.ScheduleTellOnce(initialDelay, cell.Self, timerMessage, null);
        _timers[key] = new Timer(timerMessage, repeat, cancelable);
    }

    /// <summary>Decides whether a timer message reaching the front of the mailbox is current; a delivered single timer becomes inactive.</summary>
    public bool Accept(TimerMessage message)
    {
        if (!ReferenceEquals(message.Owner, this) || !_timers.TryGetValue(message.Key, out var timer) || timer.Message.Generation != message.Generation)
        {
            return false;
        }
        if (!timer.Repeat)
        {
            _timers.Remove(message.Key);
        }
        return true;
    }

    private sealed record Timer(TimerMessage Message, bool Repeat, ICancelable Cancelable);

    /// <summary>The envelope a timer sends to its actor; unwrapped by the runtime.</summary>
    internal sealed record TimerMessage(object Key, long Generation, TimerScheduler Owner, object Message) : IAutoReceivedMessage;
}
