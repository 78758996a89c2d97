using KvCluster.Actors.Persistence.Journal;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Persistence.Sqlite;

/// <summary>SQLite's <c>PRAGMA synchronous</c> setting for a journal or snapshot store.</summary>
public enum SqliteSynchronousMode
{
    /// <summary>Every commit is fsynced before it is acknowledged: an acknowledged write survives power loss. The default.</summary>
    Full,

    /// <summary>In WAL mode commits are not fsynced (only checkpoints are): the database stays consistent, but the last acknowledged writes may be lost on power loss.</summary>
    Normal,

    /// <summary>No fsync at all: a power loss may lose acknowledged writes or corrupt the database. For benchmarks and throw-away data only; logs a warning.</summary>
    Off,
}

/// <summary>How a SQLite journal or snapshot store opens and runs its database file.</summary>
public sealed record SqliteStoreOptions
{
    /// <summary>Durability of commits; <see cref="SqliteSynchronousMode.Full"/> unless you accept losing acknowledged writes.</summary>
    public SqliteSynchronousMode Synchronous { get; init; } = SqliteSynchronousMode.Full;

    /// <summary>
    /// Runs <c>PRAGMA quick_check</c> when the file is opened so that a corrupted file is refused at
    /// start-up rather than found by a later read; costs one scan of the file. Default <c>true</c>.
    /// </summary>
    public bool QuickCheckOnOpen { get; init; } = true;

    /// <summary>How long a statement waits for a lock held by another connection before it fails. Default 30 s.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Limits of the journal (ignored by the snapshot store).</summary>
    public JournalOptions Journal { get; init; } = new();

    /// <summary>
    /// How many appended events the journal's writer lets go unindexed before it indexes them in one
    /// sorted batch (see <c>SqliteJournal.Index.cs</c>). Internal: tests lower it to cross the boundary often.
    /// </summary>
    internal int JournalIndexBatchEvents { get; init; } = 4096;

    /// <summary>Where warnings go (for instance about <see cref="SqliteSynchronousMode.Off"/>); none when <c>null</c>.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Throws when a setting is out of range; called by <see cref="SqlitePersistence"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Synchronous))
        {
            throw new ArgumentOutOfRangeException(nameof(Synchronous), Synchronous, "SqliteStoreOptions.Synchronous must be Full, Normal or Off.");
        }
        if (BusyTimeout <= TimeSpan.Zero || BusyTimeout > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(BusyTimeout), BusyTimeout, "SqliteStoreOptions.BusyTimeout must be positive and at most one day.");
        }
        if (JournalIndexBatchEvents <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(JournalIndexBatchEvents), JournalIndexBatchEvents, "SqliteStoreOptions.JournalIndexBatchEvents must be positive.");
        }
        ArgumentNullException.ThrowIfNull(Journal, nameof(Journal));
        Journal.Validate();
    }
}
