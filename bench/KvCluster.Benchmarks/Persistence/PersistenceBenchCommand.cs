using System.Globalization;
using KvCluster.Actors;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Serialization;
using KvCluster.Actors.Persistence.Sqlite;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// <c>persistence [--seconds N] [--rounds R] [--dir PATH]</c>: persisted 256-byte events/s with
/// synchronous=FULL for (a) one writer persisting one event at a time, (b) one writer persisting
/// atomic batches of 100 (PersistAll), (c) 64 concurrent writers one at a time, each through
/// persistent actors and straight against the journal; recovery replay rate; and the raw SQLite
/// baseline (1 and 100 rows per transaction) on the same disk with the same pragmas. The modes are
/// interleaved round by round so that disk contention from other processes hits all of them alike;
/// the table shows the median of the rounds and each round's figure.
/// </summary>
public sealed class PersistenceBenchCommand : IBenchCommand
{
    private const int PayloadBytes = 256;
    private const int RecoveryEvents = 600_000;

    /// <inheritdoc />
    public string Name => "persistence";

    /// <inheritdoc />
    public string Description => "SQLite journal + PersistentActor: events/s (1-at-a-time, PersistAll 100, 64 writers), recovery, raw SQLite baseline";

    /// <summary>Runs a blocking measurement on a dedicated thread, as the journal's writer thread runs.</summary>
    private static double OnOwnThread(Func<double> measure)
    {
        double result = 0;
        var thread = new Thread(() => result = measure()) { Name = "raw-sqlite-baseline" };
        thread.Start();
        thread.Join();
        return result;
    }

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args)
    {
        var seconds = 2.0;
        var rounds = 3;
        // Every mode unless --modes names some (for profiling one): raw1, a, ja, raw100, b, jb, raw64x64, raw64, c, jc, recovery.
        HashSet<string>? modes = null;
        bool Runs(string mode) => modes is null || modes.Contains(mode);
        var root = Path.Combine(Path.GetTempPath(), "akkakv-bench-persistence");
        for (var i = 0; i < args.Length - 1; i++)
        {
            switch (args[i])
            {
                case "--seconds":
                    seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--rounds":
                    rounds = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--dir":
                    root = args[i + 1];
                    break;
                case "--modes":
                    modes = [.. args[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
            }
        }
        var duration = TimeSpan.FromSeconds(seconds);
        var directory = Path.Combine(root, DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(directory);
        var payload = new byte[PayloadBytes];
        new Random(1).NextBytes(payload);
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

        var serializer = new EventSerializerRegistry().Add<byte[]>("bench", b => b, m => m.ToArray());
        var system = ActorSystem.Create("bench");
        try
        {
            var persistence = KvCluster.Actors.Persistence.Persistence.Configure(system, PersistenceSettings.Sqlite(directory) with { Serializer = serializer });
            var journal = persistence.Journal;
            // The raw baseline files get the same warm-up (see RawSqliteBaseline).
            await JournalPatterns.FillAsync(journal, "warmup", 20_000, payload);
            using var raw1 = new RawSqliteBaseline(Path.Combine(directory, "raw1.db"), payload);
            using var raw100 = new RawSqliteBaseline(Path.Combine(directory, "raw100.db"), payload);
            using var raw64 = new RawSqliteBaseline(Path.Combine(directory, "raw64x64.db"), payload);
            using var raw64One = new RawSqliteBaseline(Path.Combine(directory, "raw64.db"), payload);
            using var raw64Staged = new RawSqliteBaseline(Path.Combine(directory, "raw64staged.db"), payload);
            for (var round = 1; round <= rounds; round++)
            {
                Console.WriteLine($"round {round}/{rounds}");
                if (Runs("raw1"))
                {
                    Record("raw SQLite, 1 row per transaction", OnOwnThread(() => raw1.RowsPerSecond(1, duration)));
                }
                if (Runs("a"))
                {
                    Record("(a) PersistentActor, 1 actor, Persist one at a time", await PersistentActorPatterns.EventsPerSecond(system, $"a{round}", 1, 1, duration, payload));
                }
                if (Runs("ja"))
                {
                    Record("(a) journal only, 1 writer, 1 event per write", await JournalPatterns.EventsPerSecond(journal, $"ja{round}", 1, 1, duration, payload));
                }
                if (Runs("raw100"))
                {
                    Record("raw SQLite, 100 rows per transaction", OnOwnThread(() => raw100.RowsPerSecond(100, duration)));
                }
                if (Runs("b"))
                {
                    Record("(b) PersistentActor, 1 actor, PersistAll of 100", await PersistentActorPatterns.EventsPerSecond(system, $"b{round}", 1, 100, duration, payload));
                }
                if (Runs("jb"))
                {
                    Record("(b) journal only, 1 writer, atomic writes of 100", await JournalPatterns.EventsPerSecond(journal, $"jb{round}", 1, 100, duration, payload));
                }
                if (Runs("raw64x64"))
                {
                    Record("raw SQLite, 64 rows of 64 ids per transaction", OnOwnThread(() => raw64.RowsPerSecond(64, duration, 64)));
                }
                if (modes?.Contains("staged") == true)
                {
                    // A design probe (only on request): 64 ids per transaction through an append-only staging table.
                    Record("probe: 64 rows of 64 ids per transaction, staged, moved every 64 transactions", OnOwnThread(() => raw64Staged.RowsPerSecond(64, duration, 64, stageEvery: 64)));
                }
                if (Runs("raw64"))
                {
                    Record("raw SQLite, 64 rows of 1 id per transaction", OnOwnThread(() => raw64One.RowsPerSecond(64, duration)));
                }
                if (Runs("c"))
                {
                    Record("(c) PersistentActor, 64 actors, Persist one at a time", await PersistentActorPatterns.EventsPerSecond(system, $"c{round}", 64, 1, duration, payload));
                }
                if (Runs("jc"))
                {
                    Record("(c) journal only, 64 writers, 1 event per write", await JournalPatterns.EventsPerSecond(journal, $"jc{round}", 64, 1, duration, payload));
                }
            }
            if (!Runs("recovery"))
            {
                rounds = 0;
            }
            else
            {
                Console.WriteLine($"writing {RecoveryEvents:N0} events for the recovery measurement");
            }
            if (rounds > 0)
            {
                await JournalPatterns.FillAsync(journal, "recovery", RecoveryEvents, payload);
            }
            for (var round = 1; round <= rounds; round++)
            {
                var (replayed, perSecond) = await JournalPatterns.ReplayAsync(journal, "recovery");
                Record($"replay of {replayed:N0} events, journal only", perSecond);
                var (recovered, actorPerSecond) = await PersistentActorPatterns.RecoverAsync(system, "recovery");
                Record($"recovery of {recovered:N0} events, PersistentActor (to RecoveryCompleted)", actorPerSecond);
            }
        }
        finally
        {
            await system.Terminate();
            Directory.Delete(directory, recursive: true);
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
        // The goals compare each mode with its baseline of the same round.
        void Ratio(string mode, string baseline, string goal)
        {
            if (figures.TryGetValue(mode, out var m) && figures.TryGetValue(baseline, out var b))
            {
                var ratios = m.Zip(b, (x, y) => x / y).ToArray();
                var median = ratios.OrderBy(r => r).ElementAt(ratios.Length / 2);
                Console.WriteLine($"{mode} / {baseline}: per round {string.Join(", ", ratios.Select(r => (r * 100).ToString("0", CultureInfo.InvariantCulture) + "%"))}; median {median * 100:0}% (goal {goal})");
            }
        }
        Console.WriteLine();
        Ratio("(a) PersistentActor, 1 actor, Persist one at a time", "raw SQLite, 1 row per transaction", ">= 80%");
        Ratio("(b) PersistentActor, 1 actor, PersistAll of 100", "raw SQLite, 100 rows per transaction", ">= 60%");
        Ratio("(c) PersistentActor, 64 actors, Persist one at a time", "raw SQLite, 100 rows per transaction", ">= 60%");
        Ratio("(c) PersistentActor, 64 actors, Persist one at a time", "raw SQLite, 64 rows of 64 ids per transaction", "none: the same rows per transaction as (c) at best");
        Ratio("(c) journal only, 64 writers, 1 event per write", "raw SQLite, 64 rows of 64 ids per transaction", "none");
        return 0;
    }
}
