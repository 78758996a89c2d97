using System.Globalization;
using KvCluster.Actors.Persistence.Sqlite;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// <c>persistence [--seconds N] [--dir PATH]</c>: persisted 256-byte events/s with synchronous=FULL
/// for the three write patterns, recovery replay rate, and the raw SQLite baseline measured in the
/// same run on the same disk with the same pragmas. Prints a Markdown table.
/// </summary>
public sealed class PersistenceBenchCommand : IBenchCommand
{
    private const int PayloadBytes = 256;
    private const int RecoveryEvents = 600_000;

    /// <inheritdoc />
    public string Name => "persistence";

    /// <inheritdoc />
    public string Description => "SQLite journal: events/s for 1-at-a-time, PersistAll(100), 64 writers; replay rate; raw SQLite baseline";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args)
    {
        var seconds = 3.0;
        var root = Path.Combine(Path.GetTempPath(), "akkakv-bench-persistence");
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--seconds")
            {
                seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
            else if (args[i] == "--dir")
            {
                root = args[i + 1];
            }
        }
        var duration = TimeSpan.FromSeconds(seconds);
        var directory = Path.Combine(root, DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(directory);
        var payload = new byte[PayloadBytes];
        new Random(1).NextBytes(payload);
        var rows = new List<(string Name, double Value, string Unit)>();
        void Report(string name, double value, string unit = "events/s")
        {
            rows.Add((name, value, unit));
            Console.WriteLine($"{name}: {value:N0} {unit}");
        }

        try
        {
            Report("raw SQLite, 1 row per transaction", RawSqliteBaseline.RowsPerSecond(Path.Combine(directory, "raw1.db"), 1, duration, payload), "rows/s");
            Report("raw SQLite, 100 rows per transaction", RawSqliteBaseline.RowsPerSecond(Path.Combine(directory, "raw100.db"), 100, duration, payload), "rows/s");

            await using (var journal = SqlitePersistence.OpenJournal(Path.Combine(directory, "journal.db")))
            {
                Report("journal (a) 1 writer, 1 event per write", await JournalPatterns.EventsPerSecond(journal, "a", 1, 1, duration, payload));
                Report("journal (b) 1 writer, atomic writes of 100", await JournalPatterns.EventsPerSecond(journal, "b", 1, 100, duration, payload));
                Report("journal (c) 64 writers, 1 event per write", await JournalPatterns.EventsPerSecond(journal, "c", 64, 1, duration, payload));
                await JournalPatterns.FillAsync(journal, "recovery", RecoveryEvents, payload);
            }
            await using (var journal = SqlitePersistence.OpenJournal(Path.Combine(directory, "journal.db")))
            {
                var (events, perSecond) = await JournalPatterns.ReplayAsync(journal, "recovery");
                Report($"journal replay of {events:N0} events (reopened file)", perSecond);
            }
            foreach (var extra in PersistenceBenchExtensions.Run)
            {
                foreach (var (name, value, unit) in await extra(directory, duration, payload))
                {
                    Report(name, value, unit);
                }
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        Console.WriteLine();
        Console.WriteLine("| measurement | figure |");
        Console.WriteLine("|---|---:|");
        foreach (var (name, value, unit) in rows)
        {
            Console.WriteLine($"| {name} | {value:N0} {unit} |");
        }
        return 0;
    }
}

/// <summary>Further measurements appended to the same run (the persistent-actor modes register here).</summary>
internal static class PersistenceBenchExtensions
{
    /// <summary>Each entry runs in the bench directory and returns (name, figure, unit) rows.</summary>
    public static List<Func<string, TimeSpan, byte[], Task<IReadOnlyList<(string, double, string)>>>> Run { get; } = [];
}
