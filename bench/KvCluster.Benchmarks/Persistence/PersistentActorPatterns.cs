using System.Diagnostics;
using KvCluster.Actors;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Sqlite;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>The three write patterns and recovery, driven through persistent actors sharing one journal.</summary>
internal static class PersistentActorPatterns
{
    /// <summary>
    /// <paramref name="actors"/> actors, each persisting <paramref name="eventsPerCommand"/> events per
    /// command (Persist when 1, PersistAll otherwise) and starting the next command from the last
    /// handler, for <paramref name="duration"/>; returns events/s.
    /// </summary>
    public static async Task<double> EventsPerSecond(ActorSystem system, string prefix, int actors, int eventsPerCommand, TimeSpan duration, byte[] payload)
    {
        var run = new RunState();
        var refs = Enumerable.Range(0, actors)
            .Select(i => system.ActorOf(Props.Create(() => new WriterActor($"{prefix}-{i}", eventsPerCommand, payload, run))))
            .ToArray();
        foreach (var actor in refs)
        {
            actor.Tell(Go.Instance, null);
        }
        await Task.Delay(300);
        var start = Interlocked.Read(ref run.Events);
        var journal = KvCluster.Actors.Persistence.Persistence.Get(system).Journal as SqliteJournal;
        var transactionsStart = journal?.TransactionCount ?? 0;
        var idleStart = journal?.WriterIdleTicks ?? 0;
        using var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var threadsStart = ThreadCpu.Capture();
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        var events = Interlocked.Read(ref run.Events) - start;
        var elapsed = clock.Elapsed.TotalSeconds;
        var threads = ThreadCpu.Capture();
        var transactions = (journal?.TransactionCount ?? 0) - transactionsStart;
        var idle = Stopwatch.GetElapsedTime(0, (journal?.WriterIdleTicks ?? 0) - idleStart);
        process.Refresh();
        // Process CPU (all threads, incl. the journal's writer and SQLite) per persisted event: less
        // sensitive to the shared disk's fsync latency than the rate, so it shows per-event overhead.
        Console.WriteLine(
            $"    process CPU: {(process.TotalProcessorTime - cpuStart).TotalMicroseconds / Math.Max(1, events):N1} µs/event ({threads.PerEventSince(threadsStart, events)}); " +
            $"{events / (double)Math.Max(1, transactions):N1} events/transaction, writer idle {idle.TotalMicroseconds / Math.Max(1, transactions):N1} µs/transaction ({prefix})");
        Volatile.Write(ref run.Stop, true);
        foreach (var actor in refs)
        {
            system.Stop(actor);
        }
        return events / elapsed;
    }

    /// <summary>Starts an actor on <paramref name="pid"/> and measures until RecoveryCompleted; returns (events, events/s).</summary>
    public static async Task<(long Events, double PerSecond)> RecoverAsync(ActorSystem system, string pid)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = Stopwatch.StartNew();
        var actor = system.ActorOf(Props.Create(() => new RecoveringActor(pid, done)));
        var events = await done.Task;
        var elapsed = clock.Elapsed.TotalSeconds;
        system.Stop(actor);
        return (events, events / elapsed);
    }

    private sealed class RunState
    {
        public long Events;
        public bool Stop;
    }

    private sealed class Go
    {
        public static readonly Go Instance = new();
    }

    private sealed class WriterActor : PersistentActor
    {
        public WriterActor(string persistenceId, int eventsPerCommand, byte[] payload, RunState run)
        {
            PersistenceId = persistenceId;
            var batch = Enumerable.Repeat(payload, eventsPerCommand).ToArray();
            var handled = 0;
            Command<Go>(_ =>
            {
                if (Volatile.Read(ref run.Stop))
                {
                    return;
                }
                void Handler(byte[] e)
                {
                    Interlocked.Increment(ref run.Events);
                    if (++handled % eventsPerCommand == 0)
                    {
                        Self.Tell(Go.Instance, null);
                    }
                }
                if (eventsPerCommand == 1)
                {
                    Persist(payload, Handler);
                }
                else
                {
                    PersistAll(batch, Handler);
                }
            });
        }

        public override string PersistenceId { get; }
    }

    private sealed class RecoveringActor : PersistentActor
    {
        public RecoveringActor(string persistenceId, TaskCompletionSource<long> done)
        {
            PersistenceId = persistenceId;
            long count = 0;
            Recover<byte[]>(_ => count++);
            Recover<RecoveryCompleted>(_ => done.TrySetResult(count));
        }

        public override string PersistenceId { get; }

        protected override void OnRecoveryFailure(Exception reason, object? message) => Console.Error.WriteLine($"recovery failed: {reason}");
    }
}
