using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>How a writer actor persists: one event per command, PersistAll of a batch, or one event carrying a batch.</summary>
internal enum WriteShape
{
    /// <summary><c>Persist</c> of one 256-byte event per command: one row per transaction at best.</summary>
    One,

    /// <summary><c>PersistAll</c> of N events per command: one atomic write of N rows.</summary>
    PersistAll,

    /// <summary><c>Persist</c> of one <see cref="BatchEvent"/> of N entries per command: one row carrying N entries.</summary>
    BatchEvent,
}

/// <summary>The write patterns and recovery, driven through Akka persistent actors sharing one journal.</summary>
internal static class PersistentActorPatterns
{
    /// <summary>
    /// <paramref name="actors"/> actors, each persisting one command's worth of <paramref name="entriesPerCommand"/>
    /// entries in the given <paramref name="shape"/> and starting the next command from the last handler, for
    /// <paramref name="warmup"/> unmeasured (JIT tiering), then <paramref name="duration"/>; returns entries/s (events/s for <see cref="WriteShape.One"/> and
    /// <see cref="WriteShape.PersistAll"/>). Prints the process CPU per entry and per journal row, split by thread group.
    /// </summary>
    public static async Task<double> EntriesPerSecond(ActorSystem system, string prefix, int actors, WriteShape shape, int entriesPerCommand, TimeSpan warmup, TimeSpan duration, byte[] payload)
    {
        var run = new RunState();
        var refs = Enumerable.Range(0, actors)
            .Select(i => system.ActorOf(Props.Create(() => new WriterActor($"{prefix}-{i}", shape, entriesPerCommand, payload, run))))
            .ToArray();
        foreach (var actor in refs)
        {
            actor.Tell(Go.Instance, ActorRefs.NoSender);
        }
        await Task.Delay(warmup);
        var start = Interlocked.Read(ref run.Entries);
        var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var threadsStart = ThreadCpu.Capture();
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        var entries = Interlocked.Read(ref run.Entries) - start;
        var elapsed = clock.Elapsed.TotalSeconds;
        var threads = ThreadCpu.Capture();
        process.Refresh();
        var rows = shape == WriteShape.BatchEvent ? entries / entriesPerCommand : entries;
        var cpu = (process.TotalProcessorTime - cpuStart).TotalMicroseconds;
        // Process CPU (all threads: actors, the plugin, Linq2Db, SQLite) per row and per entry: less sensitive to the
        // shared disk's fsync latency than the rate, so it shows the per-row overhead.
        Console.WriteLine(
            $"    process CPU: {cpu / Math.Max(1, rows):N1} µs/row, {cpu / Math.Max(1, entries):N1} µs/entry " +
            $"(per row: {threads.PerEventSince(threadsStart, rows)}) ({prefix})");
        Volatile.Write(ref run.Stop, true);
        foreach (var actor in refs)
        {
            system.Stop(actor);
        }
        return entries / elapsed;
    }

    /// <summary>Persists <paramref name="events"/> events on <paramref name="pid"/>, <paramref name="perWrite"/> per PersistAll.</summary>
    public static async Task FillAsync(ActorSystem system, string pid, int events, int perWrite, Func<object> newEvent)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var actor = system.ActorOf(Props.Create(() => new FillActor(pid, events, perWrite, newEvent, done)));
        await done.Task.WaitAsync(TimeSpan.FromMinutes(10));
        await actor.GracefulStop(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// Starts an actor on <paramref name="pid"/> and measures until RecoveryCompleted; returns (events, entries/s),
    /// counting a <see cref="BatchEvent"/> as its entries.
    /// </summary>
    public static async Task<(long Events, double EntriesPerSecond)> RecoverAsync(ActorSystem system, string pid)
    {
        var done = new TaskCompletionSource<(long, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var actor = system.ActorOf(Props.Create(() => new RecoveringActor(pid, done)));
        var (events, entries) = await done.Task.WaitAsync(TimeSpan.FromMinutes(10));
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuStart;
        Console.WriteLine($"    process CPU: {cpu.TotalMicroseconds / Math.Max(1, events):N1} µs/row ({pid})");
        await actor.GracefulStop(TimeSpan.FromSeconds(10));
        return (events, entries / elapsed);
    }

    private sealed class RunState
    {
        public long Entries;
        public bool Stop;
    }

    private sealed class Go
    {
        public static readonly Go Instance = new();
    }

    private sealed class WriterActor : ReceivePersistentActor
    {
        public WriterActor(string persistenceId, WriteShape shape, int entriesPerCommand, byte[] payload, RunState run)
        {
            PersistenceId = persistenceId;
            var events = Enumerable.Repeat(payload, entriesPerCommand).ToArray();
            var batch = new BatchEvent(events);
            var handled = 0;
            Command<Go>(_ =>
            {
                if (Volatile.Read(ref run.Stop))
                {
                    return;
                }
                switch (shape)
                {
                    case WriteShape.One:
                        Persist(payload, _ =>
                        {
                            Interlocked.Increment(ref run.Entries);
                            Self.Tell(Go.Instance, ActorRefs.NoSender);
                        });
                        break;
                    case WriteShape.PersistAll:
                        PersistAll(events, _ =>
                        {
                            Interlocked.Increment(ref run.Entries);
                            if (++handled % entriesPerCommand == 0)
                            {
                                Self.Tell(Go.Instance, ActorRefs.NoSender);
                            }
                        });
                        break;
                    case WriteShape.BatchEvent:
                        Persist(batch, e =>
                        {
                            Interlocked.Add(ref run.Entries, e.Entries.Length);
                            Self.Tell(Go.Instance, ActorRefs.NoSender);
                        });
                        break;
                }
            });
        }

        public override string PersistenceId { get; }
    }

    private sealed class FillActor : ReceivePersistentActor
    {
        public FillActor(string persistenceId, int events, int perWrite, Func<object> newEvent, TaskCompletionSource done)
        {
            PersistenceId = persistenceId;
            var written = 0;
            void WriteNext()
            {
                var count = Math.Min(perWrite, events - written);
                if (count <= 0)
                {
                    done.TrySetResult();
                    return;
                }
                var chunk = Enumerable.Range(0, count).Select(_ => newEvent()).ToArray();
                var handled = 0;
                PersistAll(chunk, _ =>
                {
                    written++;
                    if (++handled == count)
                    {
                        WriteNext();
                    }
                });
            }
            Recover<RecoveryCompleted>(_ => WriteNext());
            Recover<object>(_ => throw new InvalidOperationException($"{persistenceId} is not empty"));
        }

        public override string PersistenceId { get; }

        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
        {
            Console.Error.WriteLine($"fill failed: {cause}");
            base.OnPersistFailure(cause, @event, sequenceNr);
        }
    }

    private sealed class RecoveringActor : ReceivePersistentActor
    {
        public RecoveringActor(string persistenceId, TaskCompletionSource<(long Events, long Entries)> done)
        {
            PersistenceId = persistenceId;
            long events = 0;
            long entries = 0;
            Recover<BatchEvent>(e =>
            {
                events++;
                entries += e.Entries.Length;
            });
            Recover<byte[]>(_ =>
            {
                events++;
                entries++;
            });
            Recover<RecoveryCompleted>(_ => done.TrySetResult((events, entries)));
        }

        public override string PersistenceId { get; }

        protected override void OnRecoveryFailure(Exception reason, object? message)
        {
            Console.Error.WriteLine($"recovery failed: {reason}");
            base.OnRecoveryFailure(reason, message);
        }
    }
}
