using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

/// <summary>
/// The real scheduler: one background thread sleeping on a monitor until the earliest due item of
/// a priority queue (a binary heap keyed by due time, then scheduling order). Scheduling is
/// O(log n). Work due within <see cref="FarThreshold"/> goes straight into the heap, where
/// cancelling only flips a flag (cancelled items are discarded when they come due), so rescheduling
/// on every message (receive timeouts) stays cheap. Work due later (an Ask's timeout, seconds away,
/// nearly always cancelled by its answer within milliseconds) waits in a far bucket per
/// <see cref="BucketTicks"/> of due time, a linked list a cancel unlinks from at once; a bucket moves
/// into the heap shortly before its time. In the heap, cancelled timeouts stayed until due: at 20K
/// Asks/s with 5-10 s timeouts that held 100-200K dead entries and their closures, promoted to the
/// oldest GC generation and collected there. Precision is the OS wait granularity (about 1 ms on
/// Linux), well within the 10 ms timers the cluster needs. Due times use a monotonic clock, so
/// wall-clock jumps do not fire or delay timers.
/// </summary>
internal sealed class DedicatedThreadScheduler : IScheduler, IDisposable
{
    /// <summary>Work due further ahead than this waits in a far bucket.</summary>
    internal static readonly long FarThreshold = TimeSpan.FromSeconds(1).Ticks;

    /// <summary>The span of due times one far bucket covers.</summary>
    internal static readonly long BucketTicks = TimeSpan.FromMilliseconds(100).Ticks;

    /// <summary>How long before its first due time a bucket moves into the heap.</summary>
    private static readonly long MoveAhead = 2 * BucketTicks;

    private readonly PriorityQueue<ScheduledWork, (long Due, long Seq)> _queue = new();

    /// <summary>Far buckets by index (due / <see cref="BucketTicks"/>), each until it moves into the heap.</summary>
    private readonly Dictionary<long, LinkedList<ScheduledWork>> _buckets = new();

    /// <summary>The indexes of <see cref="_buckets"/>, earliest first.</summary>
    private readonly PriorityQueue<long, long> _bucketOrder = new();

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

    /// <summary>Work waiting in the heap, cancelled entries included (for tests).</summary>
    internal int HeapCount
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Work waiting in far buckets; cancelled work is never counted (for tests).</summary>
    internal int FarCount
    {
        get
        {
            lock (_lock)
            {
                return _buckets.Values.Sum(b => b.Count);
            }
        }
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
            if (work.DueTicks - MonotonicTicks > FarThreshold)
            {
                AddFar(work);
            }
            else
            {
                _queue.Enqueue(work, (work.DueTicks, work.Sequence));
                if (_queue.Peek() == work)
                {
                    Monitor.Pulse(_lock);
                }
            }
        }
        return work;
    }

    /// <summary>Puts work in its far bucket (under the lock).</summary>
    private void AddFar(ScheduledWork work)
    {
        var index = work.DueTicks / BucketTicks;
        if (!_buckets.TryGetValue(index, out var bucket))
        {
            bucket = new LinkedList<ScheduledWork>();
            _buckets[index] = bucket;
            _bucketOrder.Enqueue(index, index);
            if (_bucketOrder.Peek() == index)
            {
                // The earliest bucket may move before the thread's current wait ends.
                Monitor.Pulse(_lock);
            }
        }

        work.Owner = this;
        work.BucketNode = bucket.AddLast(work);
    }

    /// <summary>Drops cancelled work from its far bucket at once, so nothing keeps it alive.</summary>
    internal void Unlink(ScheduledWork work)
    {
        lock (_lock)
        {
            if (work.BucketNode is not { List: { } bucket } node)
            {
                return;
            }

            // An emptied bucket stays until its time (at most one per 100 ms of due time), so a bucket index is never
            // created twice and the order queue holds each once.
            bucket.Remove(node);
            work.BucketNode = null;
        }
    }

    /// <summary>When the earliest bucket must move into the heap; long.MaxValue when there is none (under the lock).</summary>
    private long NextMoveTicks() =>
        _bucketOrder.TryPeek(out var index, out _) ? (index * BucketTicks) - MoveAhead : long.MaxValue;

    /// <summary>Moves every bucket whose time has come into the heap (under the lock).</summary>
    private void MoveDueBuckets(long now)
    {
        while (_bucketOrder.TryPeek(out var index, out _) && (index * BucketTicks) - MoveAhead <= now)
        {
            _bucketOrder.Dequeue();
            _buckets.Remove(index, out var bucket);
            foreach (var work in bucket!)
            {
                work.BucketNode = null;
                _queue.Enqueue(work, (work.DueTicks, work.Sequence));
            }
        }
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
                    MoveDueBuckets(MonotonicTicks);
                    var until = Math.Min(NextMoveTicks(), _queue.TryPeek(out _, out var key) ? key.Due : long.MaxValue);
                    if (until == long.MaxValue)
                    {
                        Monitor.Wait(_lock);
                        continue;
                    }

                    var wait = until - MonotonicTicks;
                    if (wait <= 0)
                    {
                        if (_queue.TryPeek(out _, out var head) && head.Due <= MonotonicTicks)
                        {
                            break;
                        }

                        continue;
                    }

                    Monitor.Wait(_lock, TimeSpan.FromTicks(Math.Min(wait + TimeSpan.TicksPerMillisecond / 2, TimeSpan.TicksPerSecond * 60)));
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
            _buckets.Clear();
            _bucketOrder.Clear();
            Monitor.Pulse(_lock);
        }
    }
}
