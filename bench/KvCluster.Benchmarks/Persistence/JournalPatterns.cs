using System.Diagnostics;
using KvCluster.Actors.Persistence.Journal;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>The three write patterns and the replay, driven straight against an <see cref="IJournal"/> (no actors).</summary>
internal static class JournalPatterns
{
    /// <summary>
    /// <paramref name="writers"/> concurrent writers, each awaiting one atomic write of
    /// <paramref name="eventsPerWrite"/> events at a time, for <paramref name="duration"/>; returns events/s.
    /// </summary>
    public static async Task<double> EventsPerSecond(IJournal journal, string prefix, int writers, int eventsPerWrite, TimeSpan duration, byte[] payload)
    {
        var stop = new CancellationTokenSource();
        long counted = 0;
        var measuring = false;
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var pid = $"{prefix}-{w}";
            long seq = 0;
            var events = new PersistentRepr[eventsPerWrite];
            while (!stop.IsCancellationRequested)
            {
                for (var i = 0; i < eventsPerWrite; i++)
                {
                    events[i] = new PersistentRepr(pid, ++seq, payload, "bench", "w");
                }
                var results = await journal.WriteMessagesAsync([eventsPerWrite == 1 ? new AtomicWrite(events[0]) : new AtomicWrite(events)]);
                if (results[0] is { } rejected)
                {
                    throw rejected;
                }
                if (Volatile.Read(ref measuring))
                {
                    Interlocked.Add(ref counted, eventsPerWrite);
                }
            }
        })).ToArray();
        await Task.Delay(300);
        Volatile.Write(ref measuring, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        var total = Interlocked.Read(ref counted);
        var elapsed = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        await Task.WhenAll(tasks);
        return total / elapsed;
    }

    /// <summary>Writes <paramref name="count"/> events of one persistence id in large atomic writes.</summary>
    public static async Task FillAsync(IJournal journal, string pid, int count, byte[] payload)
    {
        const int Chunk = 2000;
        for (var from = 1; from <= count; from += Chunk)
        {
            var events = Enumerable.Range(from, Math.Min(Chunk, count - from + 1)).Select(s => new PersistentRepr(pid, s, payload, "bench", "w"));
            var results = await journal.WriteMessagesAsync([new AtomicWrite(events)]);
            if (results[0] is { } rejected)
            {
                throw rejected;
            }
        }
    }

    /// <summary>Replays every event of <paramref name="pid"/>; returns (events, events/s).</summary>
    public static async Task<(long Events, double PerSecond)> ReplayAsync(IJournal journal, string pid)
    {
        long replayed = 0;
        long bytes = 0;
        var clock = Stopwatch.StartNew();
        await journal.ReplayMessagesAsync(pid, 1, long.MaxValue, long.MaxValue, e =>
        {
            replayed++;
            bytes += e.Payload.Length;
        });
        return (replayed, replayed / clock.Elapsed.TotalSeconds);
    }
}
