using System.Diagnostics;

namespace KvCluster.Actors.Persistence.Sqlite;

/// <summary>
/// The journal's queue of operations: many submitting threads, ONE consuming writer thread. A
/// submitter wakes a parked writer itself (one futex wake, no thread-pool hop in between, as a
/// channel's reader continuation would take). Before parking, the writer may spin for a few
/// microseconds, but only while operations keep arriving that soon after it starts waiting (a lone
/// actor persisting one event after another): then the next one is picked up without a sleep and
/// a wake-up; when they arrive later, it parks at once and costs the CPU nothing.
/// </summary>
/// <typeparam name="T">The operation type.</typeparam>
internal sealed class WriterQueue<T>
    where T : class
{
    /// <summary>Guards <see cref="_items"/> and <see cref="_completed"/>.</summary>
    private readonly object _gate = new();

    /// <summary>Queued operations, in submission order.</summary>
    private readonly Queue<T> _items = new();

    /// <summary>Set by a submitter that finds the writer parked.</summary>
    private readonly ManualResetEventSlim _wake = new(initialState: false, spinCount: 0);

    /// <summary>How long the writer spins before parking, when the last wait was that short; zero never spins.</summary>
    private readonly long _spinTicks;

    /// <summary>The number of queued operations; read without the lock by the waiting writer.</summary>
    private volatile int _count;

    /// <summary>Set once by <see cref="Complete"/>; no operation is accepted afterwards.</summary>
    private volatile bool _completed;

    /// <summary>1 while the writer is parked or about to park; a submitter that swaps it to 0 wakes it.</summary>
    private int _parked;

    /// <summary>How long the writer's last wait lasted until an operation arrived, in stopwatch ticks.</summary>
    private long _lastWaitTicks = long.MaxValue;

    /// <summary>Creates the queue; <paramref name="spin"/> bounds the writer's spin before it parks.</summary>
    public WriterQueue(TimeSpan spin) => _spinTicks = (long)(spin.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Queues <paramref name="item"/>; false once the queue is completed. Any thread.</summary>
    public bool TryEnqueue(T item)
    {
        lock (_gate)
        {
            if (_completed)
            {
                return false;
            }
            _items.Enqueue(item);
            _count++;
        }
        // A full fence after the count: either the writer sees the item or we see it parked.
        if (Interlocked.CompareExchange(ref _parked, 0, 1) == 1)
        {
            _wake.Set();
        }
        return true;
    }

    /// <summary>Takes the oldest operation; the writer thread only.</summary>
    public bool TryDequeue(out T item)
    {
        if (_count == 0)
        {
            item = null!;
            return false;
        }
        lock (_gate)
        {
            if (_items.TryDequeue(out item!))
            {
                _count--;
                return true;
            }
            return false;
        }
    }

    /// <summary>
    /// Blocks the writer thread until an operation is queued (true) or the queue is completed and
    /// empty (false).
    /// </summary>
    public bool WaitForWork()
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (_count > 0)
            {
                return true;
            }
            if (_lastWaitTicks <= _spinTicks)
            {
                var spinner = default(SpinWait);
                while (Stopwatch.GetTimestamp() - started < _spinTicks)
                {
                    if (_count > 0)
                    {
                        return true;
                    }
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            }
            while (true)
            {
                _wake.Reset();
                Interlocked.Exchange(ref _parked, 1);
                if (_count > 0 || _completed)
                {
                    Interlocked.Exchange(ref _parked, 0);
                    break;
                }
                _wake.Wait();
                if (_count > 0 || _completed)
                {
                    break;
                }
            }
            if (_count > 0)
            {
                return true;
            }
            lock (_gate)
            {
                // Completed: nothing can be queued any more, so an empty queue stays empty.
                return _items.Count > 0;
            }
        }
        finally
        {
            _lastWaitTicks = Stopwatch.GetTimestamp() - started;
        }
    }

    /// <summary>Refuses further operations and wakes the writer; the queued ones are still handed out.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
        }
        Interlocked.Exchange(ref _parked, 0);
        _wake.Set();
    }
}
