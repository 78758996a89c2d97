using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// The raw SQLite baseline: the same file system and pragmas (WAL, synchronous=FULL) as the journal, a minimal
/// journal table keyed by (persistence_id, sequence_nr), one prepared INSERT, explicit BEGIN IMMEDIATE/COMMIT,
/// nothing else. (Akka.Persistence.Sql's table adds an ordering rowid and a unique index on the same key: part of
/// what the comparison measures.) Like the journal, it keeps its connection open for the whole run and is warmed
/// up until the WAL has wrapped once (closing the last connection deletes the WAL, and a growing WAL costs an extra
/// metadata flush per fsync, which would make the baseline unfairly slow), opens its connection with the journal's
/// connection-string settings, and runs on a dedicated thread (its thread CPU is the cost of the rows themselves).
/// </summary>
internal sealed class RawSqliteBaseline : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _insert;
    /// <summary>The INSERT into the staging table of the design probe.</summary>
    private readonly SqliteCommand _stagedInsert;
    /// <summary>Moves the staged rows, sorted, into the journal table and empties the staging table.</summary>
    private readonly SqliteCommand _move;
    /// <summary>Transactions of the design probe so far; every <see cref="_stageEvery"/>-th one moves the staged rows.</summary>
    private int _stagedTransactions;
    /// <summary>The INSERT's persistence id, varied when the rows go to several ids.</summary>
    private readonly SqliteParameter _persistenceId;
    private readonly SqliteParameter _sequenceNr;
    private readonly SqliteParameter _timestamp;
    private long _next;
    /// <summary>How many persistence ids the rows of the current measurement go to.</summary>
    private int _ids = 1;
    /// <summary>Above 0: the design probe, moving staged rows every that many transactions.</summary>
    private int _stageEvery;
    /// <summary>The persistence ids of the current measurement when <see cref="_ids"/> is above 1.</summary>
    private string[] _idNames = [];

    public RawSqliteBaseline(string path, byte[] payload)
    {
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ConnectionString);
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA synchronous=FULL;");
        Execute(
            "CREATE TABLE journal (persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, timestamp INTEGER NOT NULL, " +
            "manifest TEXT NOT NULL, writer_uuid TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (persistence_id, sequence_nr)) WITHOUT ROWID;");
        Execute(
            "CREATE TABLE staging (ordering INTEGER PRIMARY KEY, persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, timestamp INTEGER NOT NULL, " +
            "manifest TEXT NOT NULL, writer_uuid TEXT NOT NULL, payload BLOB NOT NULL);");
        _begin = Prepared("BEGIN IMMEDIATE;");
        _commit = Prepared("COMMIT;");
        _insert = Prepared("INSERT INTO journal VALUES ($pid, $seq, $ts, $m, $w, $p);");
        _persistenceId = _insert.Parameters.Add("$pid", SqliteType.Text);
        _persistenceId.Value = "raw";
        _sequenceNr = _insert.Parameters.Add("$seq", SqliteType.Integer);
        _timestamp = _insert.Parameters.Add("$ts", SqliteType.Integer);
        _insert.Parameters.Add("$m", SqliteType.Text).Value = "bench";
        _insert.Parameters.Add("$w", SqliteType.Text).Value = "raw";
        _insert.Parameters.Add("$p", SqliteType.Blob).Value = payload;
        _insert.Prepare();
        _stagedInsert = Prepared("INSERT INTO staging (persistence_id, sequence_nr, timestamp, manifest, writer_uuid, payload) VALUES ($pid, $seq, $ts, $m, $w, $p);");
        foreach (SqliteParameter parameter in _insert.Parameters)
        {
            _stagedInsert.Parameters.Add(parameter.ParameterName, parameter.SqliteType);
        }
        _stagedInsert.Prepare();
        _move = Prepared(
            "INSERT INTO journal SELECT persistence_id, sequence_nr, timestamp, manifest, writer_uuid, payload FROM staging ORDER BY persistence_id, sequence_nr; DELETE FROM staging;");
        // The same warm-up the journal gets: 20,000 rows of 256 B in transactions of 2,000 (for larger rows, the
        // same number of bytes, so that the WAL wraps once either way).
        var warmupRows = (int)Math.Max(10, 20_000L * 256 / Math.Max(1, payload.Length));
        for (var done = 0; done < warmupRows; done += 2000)
        {
            Transaction(Math.Min(2000, warmupRows - done));
        }
    }

    /// <summary>
    /// Inserts <paramref name="rowsPerTransaction"/> rows per transaction for <paramref name="duration"/>;
    /// returns rows/s. With <paramref name="persistenceIds"/> above 1 the rows of each transaction go
    /// round-robin to that many persistence ids (as the journal's group commit of many actors does),
    /// so each transaction dirties a B-tree page per id instead of appending to one id's pages.
    /// </summary>
    /// <param name="stageEvery">
    /// Above 0: a design probe, not a baseline. Rows go into an append-only staging table (ordered
    /// by insertion, so a transaction dirties a few pages whatever the ids), and every
    /// <paramref name="stageEvery"/> transactions the staged rows move, sorted, into the journal
    /// table inside that transaction.
    /// </param>
    public double RowsPerSecond(int rowsPerTransaction, TimeSpan duration, int persistenceIds = 1, int stageEvery = 0)
    {
        _ids = persistenceIds;
        _stageEvery = stageEvery;
        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed < TimeSpan.FromMilliseconds(300))
        {
            Transaction(rowsPerTransaction);
        }
        var start = _next;
        var cpuStart = ThreadCpu.CurrentThreadNanoseconds();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            Transaction(rowsPerTransaction);
        }
        var elapsed = clock.Elapsed.TotalSeconds;
        // The baseline's thread CPU per row, to set beside the journal writer's in the actor modes.
        Console.WriteLine($"    thread CPU: {(ThreadCpu.CurrentThreadNanoseconds() - cpuStart) / 1000.0 / Math.Max(1, _next - start):N1} µs/row (raw, {rowsPerTransaction} rows per transaction)");
        return (_next - start) / elapsed;
    }

    public void Dispose()
    {
        _begin.Dispose();
        _commit.Dispose();
        _insert.Dispose();
        _stagedInsert.Dispose();
        _move.Dispose();
        SqliteConnection.ClearPool(_connection);
        _connection.Dispose();
    }

    private void Transaction(int rows)
    {
        _begin.ExecuteNonQuery();
        if (_ids > 1 && _idNames.Length != _ids)
        {
            _idNames = [.. Enumerable.Range(0, _ids).Select(i => $"raw-{_ids}-{i}")];
        }
        for (var i = 0; i < rows; i++)
        {
            if (_ids > 1)
            {
                // Row n of the run goes to id n mod ids, with sequence number n div ids: ascending per id.
                _persistenceId.Value = _idNames[(int)(_next % _ids)];
            }
            _sequenceNr.Value = ++_next;
            _timestamp.Value = _next;
            if (_stageEvery > 0)
            {
                for (var p = 0; p < _insert.Parameters.Count; p++)
                {
                    _stagedInsert.Parameters[p].Value = _insert.Parameters[p].Value;
                }
                _stagedInsert.ExecuteNonQuery();
            }
            else
            {
                _insert.ExecuteNonQuery();
            }
        }
        if (_stageEvery > 0 && ++_stagedTransactions % _stageEvery == 0)
        {
            _move.ExecuteNonQuery();
        }
        _commit.ExecuteNonQuery();
    }

    private SqliteCommand Prepared(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private void Execute(string sql)
    {
        using var command = Prepared(sql);
        command.ExecuteNonQuery();
    }
}
