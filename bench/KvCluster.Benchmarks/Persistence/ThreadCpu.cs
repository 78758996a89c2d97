namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// CPU time of this process's threads, grouped by thread name, read from Linux's
/// <c>/proc/self/task/*/schedstat</c> (nanoseconds on the CPU) and <c>comm</c>. Lets the driver say
/// where a mode's process CPU goes (thread-pool workers, which run the actors, Akka.Persistence.Sql and SQLite;
/// Akka's own threads such as the scheduler; JIT; GC; the rest) without a profiler. Empty on systems without <c>/proc</c>.
/// </summary>
internal sealed class ThreadCpu
{
    /// <summary>CPU time so far and name, per thread id.</summary>
    private readonly Dictionary<int, (string Name, long Nanoseconds)> _threads;

    private ThreadCpu(Dictionary<int, (string Name, long Nanoseconds)> threads) => _threads = threads;

    /// <summary>The calling thread's CPU time so far, in nanoseconds; 0 without <c>/proc</c>.</summary>
    public static long CurrentThreadNanoseconds()
    {
        try
        {
            var schedstat = File.ReadAllText("/proc/thread-self/schedstat");
            return long.Parse(schedstat.AsSpan(0, schedstat.IndexOf(' ')), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Reads every thread's CPU time now.</summary>
    public static ThreadCpu Capture()
    {
        var threads = new Dictionary<int, (string, long)>();
        if (!Directory.Exists("/proc/self/task"))
        {
            return new ThreadCpu(threads);
        }
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var id = int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture);
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                var schedstat = File.ReadAllText(Path.Combine(task, "schedstat"));
                var ns = long.Parse(schedstat.AsSpan(0, schedstat.IndexOf(' ')), System.Globalization.CultureInfo.InvariantCulture);
                threads[id] = (name, ns);
            }
            catch (IOException)
            {
                // The thread ended while being read.
            }
        }
        return new ThreadCpu(threads);
    }

    /// <summary>
    /// CPU time spent since <paramref name="earlier"/>, per thread-name group (threads that started
    /// meanwhile count from zero), in microseconds divided by <paramref name="events"/>, largest first.
    /// </summary>
    public string PerEventSince(ThreadCpu earlier, long events)
    {
        var groups = new Dictionary<string, long>();
        foreach (var (id, (name, ns)) in _threads)
        {
            var before = earlier._threads.TryGetValue(id, out var e) && e.Name == name ? e.Nanoseconds : 0;
            var group = name.StartsWith(".NET TP Worker", StringComparison.Ordinal) ? "pool workers"
                : name.StartsWith(".NET Tiered", StringComparison.Ordinal) ? "JIT"
                : name.StartsWith(".NET BGC", StringComparison.Ordinal) || name.StartsWith(".NET Server GC", StringComparison.Ordinal) ? "GC"
                : name.StartsWith("akka", StringComparison.OrdinalIgnoreCase) ? "akka threads"
                : "other";
            groups[group] = groups.GetValueOrDefault(group) + (ns - before);
        }
        return string.Join(", ", groups.OrderByDescending(g => g.Value).Select(g => $"{g.Key} {g.Value / 1000.0 / Math.Max(1, events):N1}"));
    }
}
