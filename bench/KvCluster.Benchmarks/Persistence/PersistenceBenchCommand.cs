using System.Diagnostics;
using System.Globalization;
using Akka.Actor;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// <c>persistence [--seconds N] [--warmup S] [--rounds R] [--dir PATH] [--modes a,b,...] [--actors N] [--recovery-events N]
/// [--plugin-defaults] [--set key=value ...]</c>: Akka.Persistence.Sql (provider SQLite.MS, one SQLite file, WAL, synchronous=FULL)
/// with the node's journal settings (or the plugin's defaults), against raw SQLite on the same disk with the same pragmas. Entries are 256-byte payloads. Modes:
/// (a) one actor, one awaited Persist per event; (b) one actor, PersistAll of 100 (100 rows per atomic write);
/// (bb) one actor, one event carrying a batch of 100 entries per Persist (the Raft pattern: one row per Ready);
/// (c) N actors (64) at once, one Persist at a time each; (d) recovery (replay) of single events and of batch events.
/// Raw baselines: 1 row per transaction, 100 rows per transaction, 1 row of 100 entries per transaction,
/// 64 rows of 64 ids per transaction, 64 rows of 1 id per transaction. The modes are interleaved round by round so
/// that disk contention from other processes hits all of them alike; the table shows the median of the rounds and
/// each round's figure. CPU per row is printed under each mode.
/// </summary>
public sealed class PersistenceBenchCommand : IBenchCommand
{
    private const int PayloadBytes = 256;
    private const int BatchEntries = 100;

    /// <inheritdoc />
    public string Name => "persistence";

    /// <inheritdoc />
    public string Description => "Akka.Persistence.Sql on SQLite (WAL, FULL): Persist, PersistAll 100, batch event of 100, N actors, recovery; raw SQLite baseline";

    /// <summary>Runs a blocking measurement on a dedicated thread.</summary>
    private static double OnOwnThread(Func<double> measure)
    {
        double result = 0;
        var thread = new Thread(() => result = measure()) { Name = "raw-sqlite-baseline" };
        thread.Start();
        thread.Join();
        return result;
    }

    /// <summary>The value after option <c>args[i]</c>; advances <paramref name="i"/> past it.</summary>
    private static string Value(string[] args, ref int i) =>
        i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args)
    {
        var seconds = 2.0;
        var warmupSeconds = 1.0;
        var rounds = 3;
        var actors = 64;
        var recoveryEvents = 600_000;
        // Every mode unless --modes names some: raw1, a, raw100, b, rawbatch, bb, raw64x64, raw64, c, recovery.
        HashSet<string>? modes = null;
        bool Runs(string mode) => modes is null || modes.Contains(mode);
        var root = Path.Combine(Path.GetTempPath(), "akkakv-bench-persistence");
        var journalOverrides = new Dictionary<string, string>(StringComparer.Ordinal);
        var nodeSettings = true;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds":
                    seconds = double.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    break;
                case "--warmup":
                    warmupSeconds = double.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    break;
                case "--rounds":
                    rounds = int.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    break;
                case "--actors":
                    actors = int.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    break;
                case "--recovery-events":
                    recoveryEvents = int.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    break;
                case "--dir":
                    root = Value(args, ref i);
                    break;
                case "--modes":
                    modes = [.. Value(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                case "--plugin-defaults":
                    nodeSettings = false;
                    break;
                case "--set":
                    var setting = Value(args, ref i);
                    var eq = setting.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        Console.Error.WriteLine($"--set expects key=value (a setting of akka.persistence.journal.sql), got '{setting}'");
                        return 2;
                    }
                    journalOverrides[setting[..eq].Trim()] = setting[(eq + 1)..].Trim();
                    break;
            }
        }
        var duration = TimeSpan.FromSeconds(seconds);
        var warmup = TimeSpan.FromSeconds(warmupSeconds);
        var directory = Path.Combine(root, DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "-" + Environment.ProcessId);
        Directory.CreateDirectory(directory);
        var payload = new byte[PayloadBytes];
        new Random(1).NextBytes(payload);
        var batchPayload = new byte[PayloadBytes * BatchEntries];
        new Random(2).NextBytes(batchPayload);
        var figures = new Dictionary<string, List<double>>();
        var order = new List<string>();
        void Record(string name, double value)
        {
            if (!figures.TryGetValue(name, out var list))
            {
                figures[name] = list = [];
                order.Add(name);
            }
            list.Add(value);
            Console.WriteLine($"  {name}: {value:N0}/s");
        }

        var journalPath = Path.Combine(directory, "journal.db");
        var (journalMode, synchronous) = SqlJournalHocon.Prepare(journalPath, nodeSettings);
        Console.WriteLine($"journal: {journalPath} (journal_mode={journalMode}, synchronous={synchronous}{(synchronous == 2 ? " FULL" : " NOT FULL")})");
        Console.WriteLine($"journal settings: {(nodeSettings ? "the node's (KvCluster.Raft RaftJournalConfig)" : "Akka.Persistence.Sql's defaults")}; overridden: {(journalOverrides.Count == 0 ? "none" : string.Join(", ", journalOverrides.Select(o => $"{o.Key}={o.Value}")))}");
        if (journalMode != "wal" || synchronous != 2)
        {
            Console.Error.WriteLine("the journal database is not in WAL mode with synchronous=FULL; refusing to measure");
            return 1;
        }

        var system = ActorSystem.Create("bench", SqlJournalHocon.Build(journalPath, nodeSettings, journalOverrides));
        try
        {
            // The journal's file gets the same warm-up as the raw baseline files (see RawSqliteBaseline).
            await PersistentActorPatterns.FillAsync(system, "warmup", 20_000, 1000, () => payload);
            // The process's CPU while the journal is idle (actor system, scheduler, pool): the floor under every
            // per-row CPU figure below, which is a rate times this much idle CPU per second.
            var idleCpuStart = Process.GetCurrentProcess().TotalProcessorTime;
            var idleThreadsStart = ThreadCpu.Capture();
            await Task.Delay(1000);
            // PerEventSince gives µs per event; per 1000 "events" that is ms over the second.
            Console.WriteLine($"idle process CPU: {(Process.GetCurrentProcess().TotalProcessorTime - idleCpuStart).TotalMilliseconds:N1} ms/s ({ThreadCpu.Capture().PerEventSince(idleThreadsStart, 1000)})");
            // Each baseline file is created (and warmed up) only if its mode runs.
            var baselines = new List<RawSqliteBaseline>();
            RawSqliteBaseline Baseline(string file, byte[] rowPayload)
            {
                var baseline = new RawSqliteBaseline(Path.Combine(directory, file), rowPayload);
                baselines.Add(baseline);
                return baseline;
            }
            var raw1 = new Lazy<RawSqliteBaseline>(() => Baseline("raw1.db", payload));
            var raw100 = new Lazy<RawSqliteBaseline>(() => Baseline("raw100.db", payload));
            var rawBatch = new Lazy<RawSqliteBaseline>(() => Baseline("rawbatch.db", batchPayload));
            var raw64 = new Lazy<RawSqliteBaseline>(() => Baseline("raw64x64.db", payload));
            var raw64One = new Lazy<RawSqliteBaseline>(() => Baseline("raw64.db", payload));
            try
            {
                for (var round = 1; round <= rounds; round++)
                {
                    Console.WriteLine($"round {round}/{rounds}");
                    if (Runs("raw1"))
                    {
                        Record("raw SQLite, 1 row per transaction", OnOwnThread(() => raw1.Value.RowsPerSecond(1, duration)));
                    }
                    if (Runs("a"))
                    {
                        Record("(a) 1 actor, Persist one event at a time", await PersistentActorPatterns.EntriesPerSecond(system, $"a{round}", 1, WriteShape.One, 1, warmup, duration, payload));
                    }
                    if (Runs("raw100"))
                    {
                        Record("raw SQLite, 100 rows per transaction", OnOwnThread(() => raw100.Value.RowsPerSecond(BatchEntries, duration)));
                    }
                    if (Runs("b"))
                    {
                        Record("(b) 1 actor, PersistAll of 100 events", await PersistentActorPatterns.EntriesPerSecond(system, $"b{round}", 1, WriteShape.PersistAll, BatchEntries, warmup, duration, payload));
                    }
                    if (Runs("rawbatch"))
                    {
                        Record("raw SQLite, 1 row of 100 entries per transaction (entries/s)", BatchEntries * OnOwnThread(() => rawBatch.Value.RowsPerSecond(1, duration)));
                    }
                    if (Runs("bb"))
                    {
                        Record("(bb) 1 actor, Persist one event of 100 entries (entries/s)", await PersistentActorPatterns.EntriesPerSecond(system, $"bb{round}", 1, WriteShape.BatchEvent, BatchEntries, warmup, duration, payload));
                    }
                    if (Runs("raw64x64"))
                    {
                        Record("raw SQLite, 64 rows of 64 ids per transaction", OnOwnThread(() => raw64.Value.RowsPerSecond(64, duration, 64)));
                    }
                    if (Runs("raw64"))
                    {
                        Record("raw SQLite, 64 rows of 1 id per transaction", OnOwnThread(() => raw64One.Value.RowsPerSecond(64, duration)));
                    }
                    if (Runs("c"))
                    {
                        Record($"(c) {actors} actors, Persist one event at a time", await PersistentActorPatterns.EntriesPerSecond(system, $"c{round}", actors, WriteShape.One, 1, warmup, duration, payload));
                    }
                }
                if (Runs("recovery") && rounds > 0)
                {
                    var batches = Math.Max(1, recoveryEvents / BatchEntries);
                    Console.WriteLine($"writing {recoveryEvents:N0} events and {batches:N0} batch events of {BatchEntries} entries for the recovery measurement");
                    await PersistentActorPatterns.FillAsync(system, "recovery", recoveryEvents, 1000, () => payload);
                    var entries = Enumerable.Repeat(payload, BatchEntries).ToArray();
                    await PersistentActorPatterns.FillAsync(system, "recovery-batch", batches, 10, () => new BatchEvent(entries));
                    for (var round = 1; round <= rounds; round++)
                    {
                        var (recovered, perSecond) = await PersistentActorPatterns.RecoverAsync(system, "recovery");
                        Record($"(d) recovery of {recovered:N0} events (to RecoveryCompleted)", perSecond);
                        var (recoveredBatches, entriesPerSecond) = await PersistentActorPatterns.RecoverAsync(system, "recovery-batch");
                        Record($"(d) recovery of {recoveredBatches:N0} events of {BatchEntries} entries (entries/s)", entriesPerSecond);
                    }
                }
            }
            finally
            {
                baselines.ForEach(b => b.Dispose());
            }
        }
        finally
        {
            await system.Terminate();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"could not delete {directory}: {e.Message}");
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| measurement | median | rounds ({seconds:0.#} s each) |");
        Console.WriteLine("|---|---:|---|");
        foreach (var name in order)
        {
            var values = figures[name];
            var sorted = values.OrderBy(v => v).ToArray();
            var median = sorted[sorted.Length / 2];
            Console.WriteLine($"| {name} | {median:N0}/s | {string.Join(", ", values.Select(v => v.ToString("N0", CultureInfo.InvariantCulture)))} |");
        }
        // Each mode against its baseline of the same round.
        void Ratio(string mode, string baseline)
        {
            if (figures.TryGetValue(mode, out var m) && figures.TryGetValue(baseline, out var b))
            {
                var ratios = m.Zip(b, (x, y) => x / y).ToArray();
                var median = ratios.OrderBy(r => r).ElementAt(ratios.Length / 2);
                Console.WriteLine($"{mode} / {baseline}: per round {string.Join(", ", ratios.Select(r => (r * 100).ToString("0", CultureInfo.InvariantCulture) + "%"))}; median {median * 100:0}%");
            }
        }
        Console.WriteLine();
        Ratio("(a) 1 actor, Persist one event at a time", "raw SQLite, 1 row per transaction");
        Ratio("(b) 1 actor, PersistAll of 100 events", "raw SQLite, 100 rows per transaction");
        Ratio("(bb) 1 actor, Persist one event of 100 entries (entries/s)", "raw SQLite, 1 row of 100 entries per transaction (entries/s)");
        Ratio($"(c) {actors} actors, Persist one event at a time", "raw SQLite, 64 rows of 64 ids per transaction");
        Ratio($"(c) {actors} actors, Persist one event at a time", "raw SQLite, 1 row per transaction");
        return 0;
    }
}
