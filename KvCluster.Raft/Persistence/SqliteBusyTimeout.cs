using System.Data.Common;
using LinqToDB.Interceptors;

namespace KvCluster.Raft.Persistence;

/// <summary>
/// Sets SQLite's own busy timeout (<c>PRAGMA busy_timeout</c>, per connection) on every connection linq2db opens for the
/// journal and the snapshot store. Without it Microsoft.Data.Sqlite handles SQLITE_BUSY itself, by sleeping 150 ms
/// before each retry however briefly the lock is held: a journal write that met the snapshot store's save (or a delete)
/// on the same file waited 150 ms, where SQLite's busy handler retries within a few milliseconds of the lock's release
/// (docs/BENCHMARKS.md). Written here because neither Microsoft.Data.Sqlite's connection string nor the plugin's
/// configuration has a setting for it.
/// </summary>
public sealed class SqliteBusyTimeout : ConnectionInterceptor
{
    private readonly string _pragma;

    /// <summary>Creates the interceptor.</summary>
    /// <param name="timeout">How long a statement waits for another connection's lock before SQLITE_BUSY.</param>
    public SqliteBusyTimeout(TimeSpan timeout)
    {
        _pragma = $"PRAGMA busy_timeout = {(long)Math.Ceiling(timeout.TotalMilliseconds)};";
    }

    /// <inheritdoc />
    public override void ConnectionOpened(ConnectionEventData eventData, DbConnection connection) => Apply(connection);

    /// <inheritdoc />
    public override Task ConnectionOpenedAsync(ConnectionEventData eventData, DbConnection connection, CancellationToken cancellationToken)
    {
        Apply(connection);
        return Task.CompletedTask;
    }

    /// <summary>Sets the timeout on <paramref name="connection"/> (an open SQLite connection).</summary>
    /// <param name="connection">The connection.</param>
    public void Apply(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = _pragma;
        command.ExecuteNonQuery();
    }
}
