namespace KvCluster.Raft.Persistence;

/// <summary>
/// Settings of the Raft journal and snapshot store (Akka.Persistence.Sql on a SQLite file through Microsoft.Data.Sqlite,
/// linq2db provider <c>SQLite.MS</c>). The defaults suit one node per process with one Raft stream; each maps to an
/// Akka.Persistence.Sql setting of the same meaning (named in each property's summary).
/// <para>Measured on the 2-core development machine (Release, WAL, synchronous=FULL, each writer waiting for its
/// acknowledgement before the next write, as a RaftLogActor does): one stream, 100-byte events: 2343 writes/s
/// (0.43 ms per acknowledged write) with parallelism 1, 2010/s with 3; eight streams at once: 548 writes/s with
/// parallelism 1 against 234/s (and 2.4 times the CPU per write) with 3, as the extra writers only wait on SQLite's one
/// write lock; eight streams writing 5000-byte events (a Ready of ~50 entries): 945 writes/s, i.e. ~47,000 entries/s.
/// Hence parallelism 1, and one event per Raft Ready.</para>
/// </summary>
public sealed record RaftJournalOptions
{
    /// <summary>The SQLite file, relative to the data directory (or absolute). Default <c>raft.db</c>.</summary>
    public string FileName { get; init; } = "raft.db";

    /// <summary>
    /// How long a statement waits for a lock held by another connection before failing (SQLite busy timeout, through
    /// Microsoft.Data.Sqlite's <c>Default Timeout</c>, which retries a busy database until it expires). Default 30 s.
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>parallelism</c>: concurrent writers of the journal. SQLite admits one writer at a time (WAL lets readers run
    /// beside it), so more writers only wait on each other's lock; a Raft node has one stream with at most one write in
    /// flight. Default 1.
    /// </summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>
    /// <c>batch-size</c>: how many queued atomic writes (of all persistent actors of the system) go into one database
    /// transaction. A Raft node already carries a whole Ready in one event (one row), so batching across writes only
    /// helps when several streams write at once. Default 100 (the plugin's).
    /// </summary>
    public int BatchSize { get; init; } = 100;

    /// <summary><c>replay-batch-size</c>: rows read per round trip during recovery. Each Raft row holds a batch of
    /// entries, so rows are larger than usual; default 1000 (the plugin's).</summary>
    public int ReplayBatchSize { get; init; } = 1000;

    /// <summary><c>buffer-size</c>: writes queued beyond this are rejected (which stops the Raft node). Default 5000.</summary>
    public int BufferSize { get; init; } = 5000;

    /// <summary>Whether the journal and snapshot store become the system's default plugins (the RaftActor then needs no
    /// plugin id). Default true.</summary>
    public bool IsDefaultPlugin { get; init; } = true;

    /// <summary>The plugin identifier: the journal is <c>akka.persistence.journal.&lt;id&gt;</c>, the snapshot store
    /// <c>akka.persistence.snapshot-store.&lt;id&gt;</c>. Default <c>sql</c>.</summary>
    public string PluginIdentifier { get; init; } = "sql";

    /// <summary>Checks every setting; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(FileName))
        {
            throw new ArgumentException("FileName must not be empty.", nameof(FileName));
        }

        if (BusyTimeout < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"BusyTimeout must be at least 1 s, was {BusyTimeout}.", nameof(BusyTimeout));
        }

        if (Parallelism < 1)
        {
            throw new ArgumentException($"Parallelism must be at least 1, was {Parallelism}.", nameof(Parallelism));
        }

        if (BatchSize < 1)
        {
            throw new ArgumentException($"BatchSize must be at least 1, was {BatchSize}.", nameof(BatchSize));
        }

        if (ReplayBatchSize < 1)
        {
            throw new ArgumentException($"ReplayBatchSize must be at least 1, was {ReplayBatchSize}.", nameof(ReplayBatchSize));
        }

        if (BufferSize < BatchSize)
        {
            throw new ArgumentException($"BufferSize ({BufferSize}) must be at least BatchSize ({BatchSize}).", nameof(BufferSize));
        }

        if (string.IsNullOrWhiteSpace(PluginIdentifier) || PluginIdentifier.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
        {
            throw new ArgumentException($"PluginIdentifier must be letters, digits, '-' or '_', was '{PluginIdentifier}'.", nameof(PluginIdentifier));
        }
    }
}
