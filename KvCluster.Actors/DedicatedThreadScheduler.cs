using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

/// <summary>
/// The real scheduler: one background thread sleeping on a monitor until the earliest due item of
/// a priority queue (a binary heap keyed by due time, then scheduling order). Scheduling is
/// O(log n); cancelling only flips a flag (cancelled items are discarded when they come due), so
/// rescheduling on every message (receive timeouts) stays cheap. Precision is the OS wait
/// granularity (about 1 ms on Linux), well within the 10 ms timers the cluster needs.
/// Due times use a monotonic clock, so wall-clock jumps do not fire or delay timers.
/// </summary>
internal sealed class DedicatedThreadScheduler : IScheduler, IDisposable
{
    private readonly PriorityQueue<ScheduledWork, (long Due, long Seq)> _queue = new();
    private readonly object _lock = new();
    private readonly Thread _thread;
    private readonly ILogger _log;
    private long _sequence;
    private bool _stopped;

    public DedicatedThreadScheduler(string systemName, ILogger log)
    {
        _log = log;
        _thread = new Thread(Run) { IsBackground = true, Name = "kv-scheduler-" + systemName };
        _thread.Start();
    }

    public DateTimeOffset Now => DateTimeOffset.UtcNow;

    private static long MonotonicTicks => Stopwatch.GetElapsedTime(0).Ticks;

    public ICancelable ScheduleTellOnce(TimeSpan delay, IActorRef receiver, object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        return Add(new ScheduledWork(MonotonicTicks + ScheduledWork.ToTicks(delay, nameof(delay)), 0, receiver, message, sender, null));
    }

    public ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, IActorRef receiver, object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        if (interval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "A repeat interval must be positive.");
        }
        return Add(new ScheduledWork(MonotonicTicks + ScheduledWork.ToTicks(initialDelay, nameof(initialDelay)), interval.Ticks, receiver, message, sender, null));
    }

    public ICancelable ScheduleOnce(TimeSpan delay, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        return Add(new ScheduledWork(MonotonicTicks + ScheduledWork.ToTicks(delay, nameof(delay)), 0, null, null, null, action));
    }

    private ScheduledWork Add(ScheduledWork work)
    {
        lock (_lock)
        {
            if (_stopped)
            {
                work.Cancel();
                return work;
            }
            work.Sequence = _sequence++;
            _queue.Enqueue(work, (work.DueTicks, work.Sequence));
            if (_queue.Peek() == work)
            {
                Monitor.Pulse(_lock);
            }
        }
        return work;
    }

    private void Run()
    {
        var due = new List<ScheduledWork>();
        while (true)
        {
            lock (_lock)
            {
                while (!_stopped)
                {
                    if (_queue.TryPeek(out var next, out var key))
                    {
                        var wait = key.Due - MonotonicTicks;
                        if (wait <= 0)
                        {
                            break;
                        }
                        Monitor.Wait(_lock, TimeSpan.FromTicks(Math.Min(wait + TimeSpan.TicksPerMillisecond / 2, TimeSpan.TicksPerSecond * 60)));
                    }
                    else
                    {
                        Monitor.Wait(_lock);
                    }
                }
                if (_stopped)
                {
                    return;
                }
                var now = MonotonicTicks;
                while (_queue.TryPeek(out var work, out var key) && key.Due <= now)
                {
                    _queue.Dequeue();
                    if (!work.IsCancellationRequested)
                    {
                        due.Add(work);
                    }
                }
            }
            foreach (var work in due)
            {
                if (work.Run(_log))
                {
                    work.DueTicks += work.IntervalTicks;
                    Add(work);
                }
            }
            due.Clear();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _stopped = true;
            _queue.Clear();
            Monitor.Pulse(_lock);
        }
    }
}
