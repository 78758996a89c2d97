using System.Text;
using System.Threading.Channels;
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
    internal const int SchemaVersion = 1;

    /// <summary>
    /// Version 1: events keyed by (persistence id, sequence number) in a clustered table, and the
    /// highest deleted sequence number per persistence id so it survives deleting everything.
    /// </summary>
    internal const string SchemaSql =
        "CREATE TABLE journal (persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, timestamp INTEGER NOT NULL, " +
        "manifest TEXT NOT NULL, writer_uuid TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (persistence_id, sequence_nr)) WITHOUT ROWID;" +
        "CREATE TABLE journal_metadata (persistence_id TEXT NOT NULL PRIMARY KEY, highest_deleted_sequence_nr INTEGER NOT NULL) WITHOUT ROWID;";

    private const string ReplaySql =
        "SELECT sequence_nr, timestamp, manifest, writer_uuid, payload FROM journal " +
        "WHERE persistence_id = $pid AND sequence_nr >= $from AND sequence_nr <= $to ORDER BY sequence_nr LIMIT $max;";

    private const string HighestSql =
        "SELECT max(h) FROM (SELECT max(sequence_nr) AS h FROM journal WHERE persistence_id = $pid " +
        "UNION ALL SELECT highest_deleted_sequence_nr FROM journal_metadata WHERE persistence_id = $pid);";

    /// <summary>The full path of the database file; named in every error.</summary>
    private readonly string _path;

    /// <summary>Opens pooled read connections.</summary>
    private readonly string _readerConnectionString;

    /// <summary>Event size and batch limits.</summary>
    private readonly JournalOptions _limits;

    /// <summary>Pending writes and deletes, consumed by the single writer thread.</summary>
    private readonly Channel<Operation> _queue = Channel.CreateUnbounded<Operation>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false });

    /// <summary>1 once <see cref="DisposeAsync"/> started.</summary>
    private int _disposed;

    /// <summary>See <see cref="OutstandingOperations"/>.</summary>
    private int _outstanding;

    private SqliteJournal(string path, SqliteConnection writer, string readerConnectionString, JournalOptions limits, ILogger logger)
    {
        _path = path;
        _readerConnectionString = readerConnectionString;
        _limits = limits;
        _writer = writer;
        _logger = logger;
        PrepareWriterStatements();
        _writerThread = new Thread(WriterLoop) { IsBackground = true, Name = "sqlite-journal-writer" };
        _writerThread.Start();
    }

    /// <summary>Opens (creating when missing) the journal database at <paramref name="path"/>.</summary>
    internal static SqliteJournal Open(string path, SqliteStoreOptions options)
    {
        var logger = SqlitePersistence.CreateLogger(options, "KvCluster.Actors.Persistence.Sqlite.SqliteJournal");
        var fullPath = Path.GetFullPath(path);
        var (writer, readers) = SqliteDatabase.Open(fullPath, Kind, SchemaVersion, SchemaSql, options, logger);
        return new SqliteJournal(fullPath, writer, readers, options.Journal, logger);
    }

    /// <summary>The number of transactions the writer committed or attempted; lets tests observe group commit.</summary>
    internal long TransactionCount => Interlocked.Read(ref _transactionCount);

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

    /// <summary>Runs <paramref name="sql"/> on the writer connection, in queue order; a test hook (e.g. to cap the file size).</summary>
    internal Task ExecuteOnWriterAsync(string sql)
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
        _queue.Writer.TryComplete();
        await Task.Run(() => _writerThread.Join()).ConfigureAwait(false);
        using var connection = new SqliteConnection(_readerConnectionString);
        SqliteConnection.ClearPool(connection);
    }

    /// <summary>
    /// Reads the range with SQLite's own API rather than a data reader: payloads are copied once
    /// from SQLite's buffer, and manifest and writer strings are decoded only when they change.
    /// </summary>
    private void Replay(string persistenceId, long from, long to, long max, Action<PersistentRepr> callback, CancellationToken cancellationToken)
    {
        try
        {
            using var connection = new SqliteConnection(_readerConnectionString);
            connection.Open();
            var db = connection.Handle!;
            Check(db, raw.sqlite3_prepare_v2(db, ReplaySql, out var statement));
            using (statement)
            {
                Check(db, raw.sqlite3_bind_text(statement, raw.sqlite3_bind_parameter_index(statement, "$pid"), persistenceId));
                Check(db, raw.sqlite3_bind_int64(statement, raw.sqlite3_bind_parameter_index(statement, "$from"), from));
                Check(db, raw.sqlite3_bind_int64(statement, raw.sqlite3_bind_parameter_index(statement, "$to"), to));
                Check(db, raw.sqlite3_bind_int64(statement, raw.sqlite3_bind_parameter_index(statement, "$max"), max));
                var manifest = new TextCache();
                var writer = new TextCache();
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
                }
                Check(db, rc);
            }
        }
        catch (SqliteException ex)
        {
            throw SqliteDatabase.Wrap(_path, Kind, $"replaying '{persistenceId}'", ex);
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
        if (Volatile.Read(ref _disposed) != 0 || !_queue.Writer.TryWrite(operation))
        {
            Interlocked.Decrement(ref _outstanding);
            throw new ObjectDisposedException(nameof(SqliteJournal), $"The journal '{_path}' is disposed.");
        }
    }
}
