using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// The raw SQLite baseline: the same file system, pragmas (WAL, synchronous=FULL) and table shape
/// as the journal, one prepared INSERT, explicit BEGIN IMMEDIATE/COMMIT, nothing else.
/// </summary>
internal static class RawSqliteBaseline
{
    public static double RowsPerSecond(string path, int rowsPerTransaction, TimeSpan duration, byte[] payload)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
        Execute(connection,
            "CREATE TABLE IF NOT EXISTS journal (persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, timestamp INTEGER NOT NULL, " +
            "manifest TEXT NOT NULL, writer_uuid TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (persistence_id, sequence_nr)) WITHOUT ROWID;");
        using var begin = Prepared(connection, "BEGIN IMMEDIATE;");
        using var commit = Prepared(connection, "COMMIT;");
        using var insert = Prepared(connection, "INSERT INTO journal VALUES ($pid, $seq, $ts, $m, $w, $p);");
        var pid = insert.Parameters.Add("$pid", SqliteType.Text);
        var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
        var ts = insert.Parameters.Add("$ts", SqliteType.Integer);
        insert.Parameters.Add("$m", SqliteType.Text).Value = "bench";
        insert.Parameters.Add("$w", SqliteType.Text).Value = "raw";
        insert.Parameters.Add("$p", SqliteType.Blob).Value = payload;
        pid.Value = $"raw-{rowsPerTransaction}";
        insert.Prepare();

        long next = 0;
        void Transaction()
        {
            begin.ExecuteNonQuery();
            for (var i = 0; i < rowsPerTransaction; i++)
            {
                seq.Value = ++next;
                ts.Value = next;
                insert.ExecuteNonQuery();
            }
            commit.ExecuteNonQuery();
        }

        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed < TimeSpan.FromMilliseconds(300))
        {
            Transaction();
        }
        var start = next;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            Transaction();
        }
        return (next - start) / clock.Elapsed.TotalSeconds;
    }

    private static SqliteCommand Prepared(SqliteConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
