using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace KvCluster.Tests.Persistence;

/// <summary>What only the SQLite stores do: files, schema versions, pragmas, group commit, storage failures.</summary>
public sealed class SqliteJournalTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static PersistentRepr Event(string pid, long seq, int size = 16) => new(pid, seq, new byte[size], "e");

    private static void ExecuteRaw(string path, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [Fact]
    public async Task OpenJournal_MissingFile_CreatesItWithSchemaAndNoLeftovers()
    {
        var path = _directory.File("sub/dir/journal.db");

        await using (var journal = SqlitePersistence.OpenJournal(path))
        {
            Assert.Equal(0, await journal.ReadHighestSequenceNrAsync("a"));
        }

        Assert.True(File.Exists(path));
        Assert.False(File.Exists(path + ".creating"));
    }

    [Fact]
    public async Task OpenJournal_NewerSchemaVersion_RefusedNamingFileAndBothVersions()
    {
        var path = _directory.File("journal.db");
        await SqlitePersistence.OpenJournal(path).DisposeAsync();
        ExecuteRaw(path, "UPDATE schema_version SET version = 7;");

        var ex = Assert.Throws<PersistenceSchemaVersionException>(() => SqlitePersistence.OpenJournal(path));

        Assert.Equal(path, ex.FilePath);
        Assert.Equal(7, ex.FileVersion);
        Assert.Equal(SqliteJournal.SchemaVersion, ex.SupportedVersion);
        Assert.Contains(path, ex.Message);
        Assert.Contains("schema version 7", ex.Message);
        Assert.Contains($"schema version {SqliteJournal.SchemaVersion}", ex.Message);
    }

    [Fact]
    public async Task OpenSnapshotStore_OnJournalFile_RefusedBecauseStoresNeedSeparateFiles()
    {
        var path = _directory.File("journal.db");
        await SqlitePersistence.OpenJournal(path).DisposeAsync();

        var ex = Assert.Throws<PersistenceStoreException>(() => SqlitePersistence.OpenSnapshotStore(path));

        Assert.Contains("journal database, not a snapshot database", ex.Message);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public async Task OpenJournal_ForeignSqliteDatabase_RefusedAndLeftUntouched()
    {
        var path = _directory.File("other.db");
        ExecuteRaw(path, "CREATE TABLE stuff (x INTEGER); INSERT INTO stuff VALUES (1);");
        var before = await File.ReadAllBytesAsync(path);

        var ex = Assert.Throws<PersistenceStoreCorruptedException>(() => SqlitePersistence.OpenJournal(path));

        Assert.Contains("not an AkkaKv journal database", ex.Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public void OpenJournal_EmptyFile_RefusedNotRecreated()
    {
        var path = _directory.File("journal.db");
        File.WriteAllBytes(path, []);

        var ex = Assert.Throws<PersistenceStoreCorruptedException>(() => SqlitePersistence.OpenJournal(path));

        Assert.Contains(path, ex.Message);
        Assert.Equal(0, new FileInfo(path).Length);
    }

    [Fact]
    public void OpenJournal_WalWithoutDatabaseFile_Refused()
    {
        var path = _directory.File("journal.db");
        File.WriteAllBytes(path + "-wal", new byte[32]);

        var ex = Assert.Throws<PersistenceStoreCorruptedException>(() => SqlitePersistence.OpenJournal(path));

        Assert.Contains("-wal", ex.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void OpenJournal_InvalidOptions_ErrorNamesTheSetting()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SqlitePersistence.OpenJournal(_directory.File("j.db"), new SqliteStoreOptions { Journal = new JournalOptions { MaxEventBytes = 0 } }));

        Assert.Contains("MaxEventBytes", ex.Message);
    }

    [Fact]
    public async Task OpenJournal_SynchronousOff_LogsWarningNamingFile()
    {
        var path = _directory.File("journal.db");
        var logs = new ListLoggerFactory();

        await SqlitePersistence.OpenJournal(path, new SqliteStoreOptions { Synchronous = SqliteSynchronousMode.Off, LoggerFactory = logs }).DisposeAsync();

        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("synchronous=OFF", warning.Message);
        Assert.Contains(path, warning.Message);
    }

    [Fact]
    public async Task OpenJournal_SynchronousFull_LogsNoWarning()
    {
        var logs = new ListLoggerFactory();

        await SqlitePersistence.OpenJournal(_directory.File("journal.db"), new SqliteStoreOptions { LoggerFactory = logs }).DisposeAsync();

        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task WriteMessages_QueuedWhileTransactionBlocked_CommittedInTheNextTransaction()
    {
        var path = _directory.File("journal.db");
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(path, new SqliteStoreOptions { BusyTimeout = TimeSpan.FromMinutes(2) });
        await journal.WriteMessagesAsync([new AtomicWrite(Event("warmup", 1))]);
        var before = journal.TransactionCount;
        using var blocker = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        blocker.Open();
        using (var begin = blocker.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE;";
            begin.ExecuteNonQuery();
        }

        // The writer blocks on the write lock with whatever it took first; everything else queues behind it.
        var tasks = Enumerable.Range(1, 100).Select(i => journal.WriteMessagesAsync([new AtomicWrite(Event($"p{i % 10}", (i / 10) + 1))])).ToList();
        Assert.Equal(100, journal.OutstandingOperations);
        using (var rollback = blocker.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK;";
            rollback.ExecuteNonQuery();
        }
        var results = await Task.WhenAll(tasks);

        Assert.All(results, r => Assert.Null(Assert.Single(r)));
        Assert.InRange(journal.TransactionCount - before, 1, 2);
        for (var p = 0; p < 10; p++)
        {
            Assert.Equal(p == 0 ? 11 : 10, await journal.ReadHighestSequenceNrAsync($"p{p}"));
        }
    }

    [Fact]
    public async Task WriteMessages_WriteLockHeldPastBusyTimeout_FaultsTheWriteAndJournalRecovers()
    {
        var path = _directory.File("journal.db");
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(path, new SqliteStoreOptions { BusyTimeout = TimeSpan.FromMilliseconds(100) });
        await journal.WriteMessagesAsync([new AtomicWrite(Event("a", 1))]);
        using var blocker = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        blocker.Open();
        using var command = blocker.CreateCommand();
        command.CommandText = "BEGIN IMMEDIATE;";
        command.ExecuteNonQuery();

        // The writer's BEGIN fails once the busy timeout is over: the write is failed, not left waiting.
        var ex = await Assert.ThrowsAsync<PersistenceStoreException>(
            () => journal.WriteMessagesAsync([new AtomicWrite(Event("a", 2))]).WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.Equal(path, ex.FilePath);
        command.CommandText = "ROLLBACK;";
        command.ExecuteNonQuery();
        Assert.Null(Assert.Single(await journal.WriteMessagesAsync([new AtomicWrite(Event("a", 2))])));
        Assert.Equal(2, await journal.ReadHighestSequenceNrAsync("a"));
    }

    [Fact]
    public async Task WriteMessages_StorageFull_FaultsEveryWriteOfTheTransactionAndJournalRecovers()
    {
        var path = _directory.File("journal.db");
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(path, new SqliteStoreOptions { BusyTimeout = TimeSpan.FromMinutes(2) });
        await journal.WriteMessagesAsync([new AtomicWrite(Event("a", 1))]);
        // Cap the file at its current size: any write needing a new page now fails with SQLITE_FULL.
        await journal.ExecuteOnWriterAsync("PRAGMA max_page_count = 1;");

        var tasks = Enumerable.Range(0, 10).Select(i => journal.WriteMessagesAsync([new AtomicWrite(Event($"big{i}", 1, size: 8000))])).ToList();

        foreach (var task in tasks)
        {
            var ex = await Assert.ThrowsAsync<PersistenceStoreException>(() => task);
            Assert.Equal(path, ex.FilePath);
            Assert.Contains(path, ex.Message);
        }
        await journal.ExecuteOnWriterAsync("PRAGMA max_page_count = 1000000;");
        Assert.Null(Assert.Single(await journal.WriteMessagesAsync([new AtomicWrite(Event("big0", 1, size: 8000))])));
        for (var i = 1; i < 10; i++)
        {
            Assert.Equal(0, await journal.ReadHighestSequenceNrAsync($"big{i}"));
        }
    }

    [Fact]
    public async Task WriteMessagesCallback_AfterCommit_ReportsEachWriteOnTheWriterThread()
    {
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(_directory.File("journal.db"));
        await journal.WriteMessagesAsync([new AtomicWrite(Event("a", 1))]);
        var acknowledgement = new CallbackAcknowledgement();

        journal.WriteMessages([new AtomicWrite(Event("a", 1)), new AtomicWrite(Event("a", 2)), new AtomicWrite(Event("b", 1))], acknowledgement);
        var results = await acknowledgement.Task;

        Assert.IsType<EventRejectedException>(results[0]);
        Assert.Null(results[1]);
        Assert.Null(results[2]);
        Assert.Equal("sqlite-journal-writer", acknowledgement.CallbackThread?.Name);
        Assert.Equal(2, await journal.ReadHighestSequenceNrAsync("a"));
        Assert.Equal(1, await journal.ReadHighestSequenceNrAsync("b"));
    }

    [Fact]
    public async Task WriteMessagesCallback_StorageFull_ReportsFailureNamingFile()
    {
        var path = _directory.File("journal.db");
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(path);
        await journal.WriteMessagesAsync([new AtomicWrite(Event("a", 1))]);
        await journal.ExecuteOnWriterAsync("PRAGMA max_page_count = 1;");

        var ex = await Assert.ThrowsAsync<PersistenceStoreException>(() => CallbackAcknowledgement.WriteAsync(journal, [new AtomicWrite(Event("big", 1, size: 8000))]));

        Assert.Equal(path, ex.FilePath);
        Assert.Equal(0, await journal.ReadHighestSequenceNrAsync("big"));
    }

    [Fact]
    public async Task WriteMessagesCallback_CallbackThrows_WriterGoesOnAndWriteIsStored()
    {
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(_directory.File("journal.db"));

        journal.WriteMessages([new AtomicWrite(Event("a", 1))], new ThrowingCallback());
        var next = await CallbackAcknowledgement.WriteAsync(journal, [new AtomicWrite(Event("a", 2))]);

        Assert.Null(Assert.Single(next));
        Assert.Equal(2, await journal.ReadHighestSequenceNrAsync("a"));
    }

    [Fact]
    public async Task WriteMessagesCallback_JournalDisposed_ThrowsAndNeverCallsBack()
    {
        var journal = (SqliteJournal)SqlitePersistence.OpenJournal(_directory.File("journal.db"));
        await journal.DisposeAsync();
        var acknowledgement = new CallbackAcknowledgement();

        Assert.Throws<ObjectDisposedException>(() => journal.WriteMessages([new AtomicWrite(Event("a", 1))], acknowledgement));

        Assert.False(acknowledgement.Task.IsCompleted);
    }

    private sealed class ThrowingCallback : IWriteCallback
    {
        public void Written(IReadOnlyList<Exception?> results) => throw new InvalidOperationException("callback failed");

        public void Failed(Exception error) => throw new InvalidOperationException("callback failed");
    }
}
