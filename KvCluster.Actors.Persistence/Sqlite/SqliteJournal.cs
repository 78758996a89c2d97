using System.Text;
using KvCluster.Actors.Persistence.Journal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;

namespace KvCluster.Actors.Persistence.Sqlite;

/// <summary>
/// The SQLite journal: one database file in WAL mode, one writer thread doing group commit
/// (<see cref="SqliteJournal"/>.Writer.cs), replays and reads on pooled reader connections, which
/// WAL lets run beside the writer.
/// </summary>
internal sealed partial class SqliteJournal : IJournal, IWriteCallbackJournal
{
    /// <summary>The kind recorded in the schema_version table.</summary>
    internal const string Kind = "journal";

    /// <summary>The schema version this build writes and understands.</summary>
    internal const int SchemaVersion = 2;

    /// <summary>
    /// Version 2. Events are appended to <c>journal_event</c> in the order the writer stores them
    /// (<c>ordering</c>, a rowid: a group commit of many persistence ids fills a few pages at the
    /// table's end instead of dirtying one B-tree leaf per id, see docs/benchmarks/persistence.md).
    /// <c>journal_index</c> maps (persistence id, sequence number) to the ordering; the writer fills
    /// it in large sorted batches, so events after the watermark <c>journal_indexed.to_ordering</c>
    /// may have no index entry yet and readers scan that tail (at most a few thousand rows).
    /// Invariant: for every persistence id, the sequence numbers of its events after the watermark
    /// are higher than those of its indexed events. <c>journal_metadata</c> keeps the highest deleted
    /// sequence number per persistence id so it survives deleting everything (as in version 1).
    /// </summary>
    internal const string SchemaSql =
        EventTableSql + IndexTablesSql + "INSERT INTO journal_indexed (id, to_ordering) VALUES (1, 0);" +
        "CREATE TABLE journal_metadata (persistence_id TEXT NOT NULL PRIMARY KEY, highest_deleted_sequence_nr INTEGER NOT NULL) WITHOUT ROWID;";

    /// <summary>
    /// Version 1 to 2: version 1 kept whole events in one table keyed by (persistence id, sequence
    /// number). They are copied in key order into the event table and indexed, all of them; then the
    /// old table is dropped. <c>journal_metadata</c> is unchanged.
    /// </summary>
    internal const string UpgradeFrom1Sql =
        EventTableSql +
        "INSERT INTO journal_event (persistence_id, sequence_nr, timestamp, manifest, writer_uuid, payload) " +
        "SELECT persistence_id, sequence_nr, timestamp, manifest, writer_uuid, payload FROM journal ORDER BY persistence_id, sequence_nr;" +
        IndexTablesSql +
        "INSERT INTO journal_index (persistence_id, sequence_nr, ordering) SELECT persistence_id, sequence_nr, ordering FROM journal_event ORDER BY persistence_id, sequence_nr;" +
        "INSERT INTO journal_indexed (id, to_ordering) VALUES (1, (SELECT coalesce(max(ordering), 0) FROM journal_event));" +
        "DROP TABLE journal;";

    /// <summary>The append-only event table of version 2; the payload last, so scans of the unindexed tail skip it.</summary>
    private const string EventTableSql =
        "CREATE TABLE journal_event (ordering INTEGER PRIMARY KEY, persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, " +
        "timestamp INTEGER NOT NULL, manifest TEXT NOT NULL, writer_uuid TEXT NOT NULL, payload BLOB NOT NULL);";

    /// <summary>The index and its watermark (one row) of version 2.</summary>
    private const string IndexTablesSql =
        "CREATE TABLE journal_index (persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, ordering INTEGER NOT NULL, " +
        "PRIMARY KEY (persistence_id, sequence_nr)) WITHOUT ROWID;" +
        "CREATE TABLE journal_indexed (id INTEGER PRIMARY KEY CHECK (id = 1), to_ordering INTEGER NOT NULL);";

    /// <summary>Indexed events of a range; CROSS JOIN keeps the index as the outer loop.</summary>
    private const string ReplayIndexedSql =
        "SELECT i.sequence_nr, e.timestamp, e.manifest, e.writer_uuid, e.payload FROM journal_index AS i CROSS JOIN journal_event AS e ON e.ordering = i.ordering " +
        "WHERE i.persistence_id = $pid AND i.sequence_nr >= $from AND i.sequence_nr <= $to ORDER BY i.sequence_nr LIMIT $max;";

    /// <summary>Events of a range after the watermark; by the invariant they follow every indexed event of the id.</summary>
    private const string ReplayUnindexedSql =
        "SELECT sequence_nr, timestamp, manifest, writer_uuid, payload FROM journal_event " +
        "WHERE ordering > (SELECT to_ordering FROM journal_indexed) AND persistence_id = $pid AND sequence_nr >= $from AND sequence_nr <= $to " +
        "ORDER BY sequence_nr LIMIT $max;";

    private const string HighestSql =
        "SELECT max(h) FROM (SELECT max(sequence_nr) AS h FROM journal_index WHERE persistence_id = $pid " +
        "UNION ALL SELECT max(sequence_nr) FROM journal_event WHERE ordering > (SELECT to_ordering FROM journal_indexed) AND persistence_id = $pid " +
        "UNION ALL SELECT highest_deleted_sequence_nr FROM journal_metadata WHERE persistence_id = $pid);";

    /// <summary>The full path of the database file; named in every error.</summary>
    private readonly string _path;

    /// <summary>Opens pooled read connections.</summary>
    private readonly string _readerConnectionString;

    /// <summary>Event size and batch limits.</summary>
    private readonly JournalOptions _limits;

    /// <summary>Pending writes and deletes, consumed by the single writer thread.</summary>
    /// <remarks>
    /// The writer spins up to 50 µs before parking when the last operation came that soon: it cut
    /// the writer's idle time per transaction of a lone actor from 12–33 µs to 4–30 µs (median of
    /// six rounds 19 → 11 µs, docs/benchmarks/persistence.md, 2026-12-02).
    /// </remarks>
    private readonly WriterQueue<Operation> _queue = new(TimeSpan.FromMicroseconds(50));

    /// <summary>1 once <see cref="DisposeAsync"/> started.</summary>
    private int _disposed;

    /// <summary>See <see cref="OutstandingOperations"/>.</summary>
    private int _outstanding;

    private SqliteJournal(string path, SqliteConnection writer, string readerConnectionString, SqliteStoreOptions options, ILogger logger)
    {
        _path = path;
        _readerConnectionString = readerConnectionString;
        _limits = options.Journal;
        _indexBatchEvents = options.JournalIndexBatchEvents;
        _relaxIndexingSync = options.Synchronous == SqliteSynchronousMode.Full;
        _writer = writer;
        _logger = logger;
        PrepareWriterStatements();
        try
        {
            PrepareIndexStatements();
            StartIndexing();
        }
        catch
        {
            // The caller closes the connection; a statement left unfinalized would keep the file open.
            foreach (var statement in IndexStatements().Concat<IDisposable?>([_begin, _commit, _rollback, _savepoint, _release, _rollbackToSavepoint]))
            {
                statement?.Dispose();
            }
            throw;
        }
        _writerThread = new Thread(WriterLoop) { IsBackground = true, Name = "sqlite-journal-writer" };
        _writerThread.Start();
    }

    /// <summary>Opens (creating when missing) the journal database at <paramref name="path"/>.</summary>
    internal static SqliteJournal Open(string path, SqliteStoreOptions options)
    {
        var logger = SqlitePersistence.CreateLogger(options, "KvCluster.Actors.Persistence.Sqlite.SqliteJournal");
        var fullPath = Path.GetFullPath(path);
        var (writer, readers) = SqliteDatabase.Open(fullPath, Kind, SchemaVersion, SchemaSql, [UpgradeFrom1Sql], options, logger);
        try
        {
            return new SqliteJournal(fullPath, writer, readers, options, logger);
        }
        catch (SqliteException ex)
        {
            SqliteDatabase.Close(writer);
            throw SqliteDatabase.Wrap(fullPath, Kind, "indexing the events the last run left unindexed", ex);
        }
    }

    /// <summary>The number of transactions the writer committed or attempted; lets tests observe group commit.</summary>
    internal long TransactionCount => Interlocked.Read(ref _transactionCount);

    /// <summary>
    /// Stopwatch ticks the writer spent between the end of one transaction (its callbacks run) and
    /// the start of the next: the round trip of a lone writer's result and next write; for benchmarks.
    /// </summary>
    internal long WriterIdleTicks => Interlocked.Read(ref _idleTicks);

    /// <summary>Operations submitted and not yet completed (queued or in the running transaction); lets tests observe group commit.</summary>
    internal int OutstandingOperations => Volatile.Read(ref _outstanding);

    /// <inheritdoc />
    public Task<IReadOnlyList<Exception?>> WriteMessagesAsync(IReadOnlyList<AtomicWrite> writes)
    {
        ArgumentNullException.ThrowIfNull(writes);
        if (writes.Count == 0)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return Task.FromResult<IReadOnlyList<Exception?>>([]);
        }
        var operation = new WriteOperation(writes);
        Enqueue(operation);
        return operation.Completion.Task;
    }

    /// <inheritdoc />
    public void WriteMessages(IReadOnlyList<AtomicWrite> writes, IWriteCallback callback)
    {
        ArgumentNullException.ThrowIfNull(writes);
        ArgumentNullException.ThrowIfNull(callback);
        if (writes.Count == 0)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            callback.Written([]);
            return;
        }
        Enqueue(new CallbackWriteOperation(writes, callback, _logger));
    }

    /// <inheritdoc />
    public Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        var operation = new DeleteOperation(persistenceId, toSequenceNr);
        Enqueue(operation);
        return operation.Completion.Task;
    }

    /// <summary>Runs <paramref name="sql"/> on the writer connection, in queue order, inside a group transaction; returns its first value. A test hook (e.g. to cap the file size).</summary>
    internal Task<object?> ExecuteOnWriterAsync(string sql)
    {
        var operation = new SqlOperation(sql);
        Enqueue(operation);
        return operation.Completion.Task;
    }

    /// <inheritdoc />
    public Task ReplayMessagesAsync(
        string persistenceId,
        long fromSequenceNr,
        long toSequenceNr,
        long max,
        Action<PersistentRepr> recoveryCallback,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ArgumentNullException.ThrowIfNull(recoveryCallback);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (max == 0 || toSequenceNr < fromSequenceNr)
        {
            return Task.CompletedTask;
        }
        return Task.Run(() => Replay(persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<long> ReadHighestSequenceNrAsync(string persistenceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Task.Run(
            () =>
            {
                try
                {
                    using var connection = new SqliteConnection(_readerConnectionString);
                    connection.Open();
                    using var command = connection.CreateCommand();
                    command.CommandText = HighestSql;
                    command.Parameters.AddWithValue("$pid", persistenceId);
                    return command.ExecuteScalar() is long highest ? highest : 0L;
                }
                catch (SqliteException ex)
                {
                    throw SqliteDatabase.Wrap(_path, Kind, $"reading the highest sequence number of '{persistenceId}'", ex);
                }
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        // Writes already queued are still carried out; then the writer thread closes its connection.
        _queue.Complete();
        await Task.Run(() => _writerThread.Join()).ConfigureAwait(false);
        using var connection = new SqliteConnection(_readerConnectionString);
        SqliteConnection.ClearPool(connection);
    }

    /// <summary>
    /// Reads the range with SQLite's own API rather than a data reader: payloads are copied once
    /// from SQLite's buffer, and manifest and writer strings are decoded only when they change.
    /// The indexed events, then those after the watermark, in one read transaction (one snapshot).
    /// </summary>
    private void Replay(string persistenceId, long from, long to, long max, Action<PersistentRepr> callback, CancellationToken cancellationToken)
    {
        try
        {
            using var connection = new SqliteConnection(_readerConnectionString);
            connection.Open();
            using var transaction = connection.BeginTransaction(deferred: true);
            var db = connection.Handle!;
            var manifest = new TextCache();
            var writer = new TextCache();
            var replayed = ReplayStatement(db, ReplayIndexedSql, persistenceId, from, to, max, manifest, writer, callback, cancellationToken);
            if (replayed < max)
            {
                ReplayStatement(db, ReplayUnindexedSql, persistenceId, from, to, max - replayed, manifest, writer, callback, cancellationToken);
            }
        }
        catch (SqliteException ex)
        {
            throw SqliteDatabase.Wrap(_path, Kind, $"replaying '{persistenceId}'", ex);
        }
    }

    /// <summary>Runs one replay statement; returns the number of events it passed to <paramref name="callback"/>.</summary>
    private static long ReplayStatement(
        sqlite3 db, string sql, string persistenceId, long from, long to, long max, TextCache manifest, TextCache writer,
        Action<PersistentRepr> callback, CancellationToken cancellationToken)
    {
        Check(db, raw.sqlite3_prepare_v2(db, sql, out var statement));
        using (statement)
        {
            Check(db, raw.sqlite3_bind_text(statement, raw.sqlite3_bind_parameter_index(statement, "$pid"), persistenceId));
            Check(db, raw.sqlite3_bind_int64(statement, raw.sqlite3_bind_parameter_index(statement, "$from"), from));
            Check(db, raw.sqlite3_bind_int64(statement, raw.sqlite3_bind_parameter_index(statement, "$to"), to));
            Check(db, raw.sqlite3_bind_int64(statement, raw.sqlite3_bind_parameter_index(statement, "$max"), max));
            long count = 0;
            int rc;
            while ((rc = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var sequenceNr = raw.sqlite3_column_int64(statement, 0);
                var timestamp = raw.sqlite3_column_int64(statement, 1);
                var manifestText = manifest.Get(raw.sqlite3_column_blob(statement, 2));
                var writerText = writer.Get(raw.sqlite3_column_blob(statement, 3));
                var payload = raw.sqlite3_column_blob(statement, 4).ToArray();
                callback(new PersistentRepr(persistenceId, sequenceNr, payload, manifestText, writerText, timestamp));
                count++;
            }
            Check(db, rc);
            return count;
        }
    }

    /// <summary>Throws a <see cref="SqliteException"/> for an error result code.</summary>
    private static void Check(sqlite3 db, int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_ROW or raw.SQLITE_DONE))
        {
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc);
        }
    }

    /// <summary>Decodes a UTF-8 column only when it differs from the previous row's, so replayed events share strings.</summary>
    private sealed class TextCache
    {
        private byte[] _bytes = [];
        private string _text = string.Empty;

        public string Get(ReadOnlySpan<byte> utf8)
        {
            if (!utf8.SequenceEqual(_bytes))
            {
                _bytes = utf8.ToArray();
                _text = Encoding.UTF8.GetString(utf8);
            }
            return _text;
        }
    }

    private void Enqueue(Operation operation)
    {
        Interlocked.Increment(ref _outstanding);
        if (Volatile.Read(ref _disposed) != 0 || !_queue.TryEnqueue(operation))
        {
            Interlocked.Decrement(ref _outstanding);
            throw new ObjectDisposedException(nameof(SqliteJournal), $"The journal '{_path}' is disposed.");
        }
    }
}
