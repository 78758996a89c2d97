using System.Text;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Sqlite;
using Microsoft.Data.Sqlite;

namespace KvCluster.Tests.Persistence;

/// <summary>
/// The SQLite journal's schema version 2: the append-only event table, its index filled in
/// batches behind a watermark, and the upgrade of a version 1 file.
/// </summary>
public sealed class SqliteJournalIndexTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static PersistentRepr Event(string pid, long seq, int size = 16) =>
        new(pid, seq, Encoding.UTF8.GetBytes($"{pid}-{seq}".PadRight(size, '.')), "e", "w", 1_700_000_000_000 + seq);

    private static object? QueryRaw(string path, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static async Task<List<PersistentRepr>> ReplayAsync(IJournal journal, string pid, long from = 1, long to = long.MaxValue, long max = long.MaxValue)
    {
        var replayed = new List<PersistentRepr>();
        await journal.ReplayMessagesAsync(pid, from, to, max, replayed.Add);
        return replayed;
    }

    private static async Task WriteEachAsync(IJournal journal, string pid, long from, long to)
    {
        for (var seq = from; seq <= to; seq++)
        {
            Assert.Null(Assert.Single(await journal.WriteMessagesAsync([new AtomicWrite(Event(pid, seq))])));
        }
    }

    /// <summary>A file as version 1 wrote it: whole events keyed by (persistence id, sequence number).</summary>
    private static void CreateVersion1File(string path, bool withJournalTable = true)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText =
            "PRAGMA journal_mode=WAL;" +
            "CREATE TABLE schema_version (component TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;" +
            "INSERT INTO schema_version VALUES ('journal', 1);" +
            "CREATE TABLE journal_metadata (persistence_id TEXT NOT NULL PRIMARY KEY, highest_deleted_sequence_nr INTEGER NOT NULL) WITHOUT ROWID;" +
            "INSERT INTO journal_metadata VALUES ('b', 2), ('gone', 7);";
        if (withJournalTable)
        {
            command.CommandText +=
                "CREATE TABLE journal (persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, timestamp INTEGER NOT NULL, " +
                "manifest TEXT NOT NULL, writer_uuid TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (persistence_id, sequence_nr)) WITHOUT ROWID;";
        }
        command.ExecuteNonQuery();
        if (!withJournalTable)
        {
            return;
        }
        command.CommandText = "INSERT INTO journal VALUES ($pid, $seq, $ts, 'e', 'w', $payload);";
        var pid = command.Parameters.Add("$pid", SqliteType.Text);
        var seq = command.Parameters.Add("$seq", SqliteType.Integer);
        var ts = command.Parameters.Add("$ts", SqliteType.Integer);
        var payload = command.Parameters.Add("$payload", SqliteType.Blob);
        // Inserted out of key order on purpose: the upgrade must replay each id in sequence order.
        foreach (var (p, s) in new[] { ("b", 3L), ("a", 2L), ("a", 1L), ("a", 3L) })
        {
            pid.Value = p;
            seq.Value = s;
            ts.Value = 1_700_000_000_000 + s;
            payload.Value = Encoding.UTF8.GetBytes($"{p}-{s}".PadRight(16, '.'));
            command.ExecuteNonQuery();
        }
    }

    [Fact]
    public async Task OpenJournal_Version1File_UpgradedKeepingEveryEventAndDeletedHighest()
    {
        var path = _directory.File("journal.db");
        CreateVersion1File(path);

        await using (var journal = SqlitePersistence.OpenJournal(path))
        {
            var a = await ReplayAsync(journal, "a");
            Assert.Equal(new long[] { 1, 2, 3 }, a.Select(e => e.SequenceNr));
            Assert.All(a, e => Assert.Equal(("e", "w", 1_700_000_000_000 + e.SequenceNr), (e.Manifest, e.WriterUuid, e.Timestamp)));
            Assert.All(a, e => Assert.Equal(Event("a", e.SequenceNr).Payload.ToArray(), e.Payload.ToArray()));
            Assert.Equal(new long[] { 3 }, (await ReplayAsync(journal, "b")).Select(e => e.SequenceNr));
            Assert.Equal(3, await journal.ReadHighestSequenceNrAsync("a"));
            Assert.Equal(7, await journal.ReadHighestSequenceNrAsync("gone"));

            var results = await journal.WriteMessagesAsync([new AtomicWrite(Event("a", 3)), new AtomicWrite(Event("a", 4))]);

            Assert.Contains("already stored", Assert.IsType<EventRejectedException>(results[0]).Message);
            Assert.Null(results[1]);
        }
        Assert.Equal(2L, QueryRaw(path, "SELECT version FROM schema_version;"));
        Assert.Equal(0L, QueryRaw(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'journal';"));
        await using (var reopened = SqlitePersistence.OpenJournal(path))
        {
            Assert.Equal(new long[] { 1, 2, 3, 4 }, (await ReplayAsync(reopened, "a")).Select(e => e.SequenceNr));
        }
    }

    [Fact]
    public void OpenJournal_Version1UpgradeFails_FileStaysVersion1()
    {
        var path = _directory.File("journal.db");
        CreateVersion1File(path, withJournalTable: false);

        var ex = Assert.ThrowsAny<PersistenceStoreException>(() => SqlitePersistence.OpenJournal(path));

        Assert.Contains(path, ex.Message);
        Assert.Equal(1L, QueryRaw(path, "SELECT version FROM schema_version;"));
        Assert.Equal(0L, QueryRaw(path, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'journal_event%' OR name LIKE 'journal_index%';"));
    }

    [Fact]
    public async Task OpenJournal_UnindexedEventsLeftByLastRun_IndexedAtOpen()
    {
        var path = _directory.File("journal.db");
        await using (var journal = SqlitePersistence.OpenJournal(path, new SqliteStoreOptions { JournalIndexBatchEvents = 1000 }))
        {
            await WriteEachAsync(journal, "a", 1, 5);
        }
        Assert.Equal(0L, QueryRaw(path, "SELECT to_ordering FROM journal_indexed;"));

        await using (var reopened = SqlitePersistence.OpenJournal(path, new SqliteStoreOptions { JournalIndexBatchEvents = 1000 }))
        {
            Assert.Equal(5L, QueryRaw(path, "SELECT to_ordering FROM journal_indexed;"));
            Assert.Equal(5L, QueryRaw(path, "SELECT count(*) FROM journal_index WHERE persistence_id = 'a';"));
            Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, (await ReplayAsync(reopened, "a")).Select(e => e.SequenceNr));
            var duplicate = await reopened.WriteMessagesAsync([new AtomicWrite(Event("a", 5))]);
            Assert.IsType<EventRejectedException>(Assert.Single(duplicate));
        }
    }

    [Fact]
    public async Task WriteMessages_BatchFull_IndexedSortedAndSynchronousFullAgain()
    {
        var path = _directory.File("journal.db");
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(path, new SqliteStoreOptions { JournalIndexBatchEvents = 4 });

        await WriteEachAsync(journal, "a", 1, 3);
        Assert.Equal(0L, QueryRaw(path, "SELECT to_ordering FROM journal_indexed;"));
        await WriteEachAsync(journal, "b", 1, 1);
        // Queued behind the indexing transaction that followed the fourth event's group commit.
        var synchronous = await journal.ExecuteOnWriterAsync("PRAGMA synchronous;");

        Assert.Equal(2L, synchronous);
        Assert.Equal(4L, QueryRaw(path, "SELECT to_ordering FROM journal_indexed;"));
        Assert.Equal(4L, QueryRaw(path, "SELECT count(*) FROM journal_index;"));
    }

    [Fact]
    public async Task ReplayMessages_RangeAndMaxAcrossTheWatermark_InSequenceOrder()
    {
        await using var journal = SqlitePersistence.OpenJournal(_directory.File("journal.db"), new SqliteStoreOptions { JournalIndexBatchEvents = 4 });
        // Interleaved ids: a's first events end up indexed, its last ones after the watermark.
        for (var seq = 1; seq <= 5; seq++)
        {
            await WriteEachAsync(journal, "a", seq, seq);
            await WriteEachAsync(journal, "b", seq, seq);
        }

        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, (await ReplayAsync(journal, "a")).Select(e => e.SequenceNr));
        Assert.Equal(new long[] { 2, 3, 4 }, (await ReplayAsync(journal, "a", 2, 4)).Select(e => e.SequenceNr));
        Assert.Equal(new long[] { 3, 4, 5 }, (await ReplayAsync(journal, "b", 3, max: 3)).Select(e => e.SequenceNr));
        Assert.Equal(new long[] { 5 }, (await ReplayAsync(journal, "b", 5)).Select(e => e.SequenceNr));
        Assert.Equal(5, await journal.ReadHighestSequenceNrAsync("a"));
    }

    [Fact]
    public async Task WriteMessages_GapFilledBelowUnindexedEvents_ReplayedInSequenceOrder()
    {
        await using var journal = SqlitePersistence.OpenJournal(_directory.File("journal.db"));
        await WriteEachAsync(journal, "a", 1, 2);
        await WriteEachAsync(journal, "a", 5, 6);

        var results = await journal.WriteMessagesAsync([new AtomicWrite([Event("a", 3), Event("a", 4)]), new AtomicWrite(Event("a", 7))]);

        Assert.All(results, Assert.Null);
        var replayed = await ReplayAsync(journal, "a");
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7 }, replayed.Select(e => e.SequenceNr));
        Assert.All(replayed, e => Assert.Equal(Event("a", e.SequenceNr).Payload.ToArray(), e.Payload.ToArray()));
        Assert.Equal(7, await journal.ReadHighestSequenceNrAsync("a"));
    }

    [Fact]
    public async Task WriteMessages_AfterDeleteBelowHighest_SequenceNrReusedOnlyWhereDeleted()
    {
        await using var journal = SqlitePersistence.OpenJournal(_directory.File("journal.db"), new SqliteStoreOptions { JournalIndexBatchEvents = 2 });
        await WriteEachAsync(journal, "a", 1, 5);
        await journal.DeleteMessagesToAsync("a", 2);

        var results = await journal.WriteMessagesAsync([new AtomicWrite(Event("a", 2)), new AtomicWrite(Event("a", 3))]);

        Assert.Null(results[0]);
        Assert.IsType<EventRejectedException>(results[1]);
        Assert.Equal(new long[] { 2, 3, 4, 5 }, (await ReplayAsync(journal, "a")).Select(e => e.SequenceNr));
    }

    [Fact]
    public async Task WriteMessages_OneMebibyteEvents_StoredIndexedAndReplayed()
    {
        await using var journal = SqlitePersistence.OpenJournal(_directory.File("journal.db"), new SqliteStoreOptions { JournalIndexBatchEvents = 2 });
        var payloads = Enumerable.Range(1, 3).Select(i => Enumerable.Range(0, 1 << 20).Select(b => (byte)(b * i)).ToArray()).ToArray();

        for (var i = 0; i < payloads.Length; i++)
        {
            Assert.Null(Assert.Single(await journal.WriteMessagesAsync([new AtomicWrite(new PersistentRepr("big", i + 1, payloads[i], "blob"))])));
        }

        var replayed = await ReplayAsync(journal, "big");
        Assert.Equal(new long[] { 1, 2, 3 }, replayed.Select(e => e.SequenceNr));
        for (var i = 0; i < payloads.Length; i++)
        {
            Assert.Equal(payloads[i], replayed[i].Payload.ToArray());
        }
    }
}
