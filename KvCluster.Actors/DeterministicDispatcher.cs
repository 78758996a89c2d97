namespace KvCluster.Actors;

/// <summary>
/// A manual dispatcher for deterministic tests (in the spirit of Akka's CallingThreadDispatcher
/// and a manual executor): mailbox turns wait in one FIFO queue and run only when the test calls
/// <see cref="RunOne"/> or <see cref="RunUntilIdle"/>, on the test's thread. With a
/// <see cref="TestScheduler"/> for time and seeded randomness, a system whose actors do no
/// thread-pool work of their own executes the same turns in the same order on every run.
/// </summary>
/// <remarks>
/// <para>
/// Turn order is FIFO by scheduling time: a mailbox that still has work after its turn goes to the
/// back of the queue, so actors take turns round-robin. Each turn processes up to the system's
/// throughput of messages (set <see cref="ActorSystemSetup.Throughput"/> to 1 for the finest
/// interleaving).
/// </para>
/// <para>
/// Thread safety: <see cref="Schedule"/> may be called from any thread (a journal or other task
/// completing on the thread pool still lands in the queue), but turns run only in the caller of
/// <see cref="RunOne"/>/<see cref="RunUntilIdle"/>; call those from one thread at a time. Work that
/// arrives from other threads makes the order depend on timing; wait for it explicitly (the
/// <see cref="RunUntil"/> helper) at a point where nothing else is queued.
/// </para>
/// </remarks>
public sealed class DeterministicDispatcher : IMailboxDispatcher
{
    private readonly Queue<IThreadPoolWorkItem> _turns = new();
    private readonly object _lock = new();
    private long _executed;

    /// <summary>Turns waiting to run.</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _turns.Count;
            }
        }
    }

    /// <summary>Turns run since creation (a cheap progress counter for traces).</summary>
    public long Executed => Interlocked.Read(ref _executed);

    /// <inheritdoc />
    public void Schedule(IThreadPoolWorkItem turn)
    {
        ArgumentNullException.ThrowIfNull(turn);
        lock (_lock)
        {
            _turns.Enqueue(turn);
        }
    }

    /// <summary>Runs the oldest queued turn on the calling thread.</summary>
    /// <returns>False when nothing was queued.</returns>
    public bool RunOne()
    {
        IThreadPoolWorkItem? turn;
        lock (_lock)
        {
            if (!_turns.TryDequeue(out turn))
            {
                return false;
            }
        }
        Interlocked.Increment(ref _executed);
        turn.Execute();
        return true;
    }

    /// <summary>Runs turns, oldest first, until none is queued.</summary>
    /// <param name="maxTurns">Upper bound on turns run, so a livelock (actors messaging each other forever) fails instead of hanging.</param>
    /// <returns>The number of turns run.</returns>
    /// <exception cref="InvalidOperationException">Still not idle after <paramref name="maxTurns"/> turns.</exception>
    public int RunUntilIdle(int maxTurns = 1_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxTurns);
        var ran = 0;
        while (ran < maxTurns && RunOne())
        {
            ran++;
        }
        if (ran == maxTurns && Pending > 0)
        {
            throw new InvalidOperationException($"DeterministicDispatcher: still {Pending} turn(s) queued after {maxTurns} turns; the actors may be messaging each other forever.");
        }
        return ran;
    }

    /// <summary>
    /// Runs turns until <paramref name="condition"/> holds, waiting (real time, bounded) for work
    /// that arrives from other threads, such as a journal replay on the thread pool.
    /// </summary>
    /// <param name="condition">Checked on the calling thread after each idle point.</param>
    /// <param name="timeout">Real-time bound on the wait.</param>
    /// <param name="maxTurns">Bound on turns per idle run.</param>
    /// <exception cref="TimeoutException">The condition did not hold within <paramref name="timeout"/>.</exception>
    public void RunUntil(Func<bool> condition, TimeSpan timeout, int maxTurns = 1_000_000)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + timeout;
        using var pause = new ManualResetEventSlim(false);
        while (true)
        {
            RunUntilIdle(maxTurns);
            if (condition())
            {
                return;
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"DeterministicDispatcher: the condition did not hold within {timeout}.");
            }
            pause.Wait(TimeSpan.FromMilliseconds(1));
        }
    }
}
