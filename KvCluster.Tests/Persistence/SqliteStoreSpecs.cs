using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Snapshot;
using KvCluster.Actors.Persistence.Sqlite;

namespace KvCluster.Tests.Persistence;

public sealed class SqliteJournalSpec : JournalSpec
{
    private readonly TempDirectory _directory = new();

    protected override IJournal OpenJournal(JournalOptions options) =>
        SqlitePersistence.OpenJournal(_directory.File("journal.db"), new SqliteStoreOptions { Journal = options });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}

/// <summary>
/// The same spec with the journal indexing every 3 events, so that writes, replays, deletes and
/// rejections meet events on both sides of the index watermark (with the default batch of 4096,
/// every event of the spec stays after it).
/// </summary>
public sealed class SqliteJournalSmallIndexBatchSpec : JournalSpec
{
    private readonly TempDirectory _directory = new();

    protected override IJournal OpenJournal(JournalOptions options) =>
        SqlitePersistence.OpenJournal(_directory.File("journal.db"), new SqliteStoreOptions { Journal = options, JournalIndexBatchEvents = 3 });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}

public sealed class SqliteSnapshotStoreSpec : SnapshotStoreSpec
{
    private readonly TempDirectory _directory = new();

    protected override ISnapshotStore OpenStore() => SqlitePersistence.OpenSnapshotStore(_directory.File("snapshots.db"));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
