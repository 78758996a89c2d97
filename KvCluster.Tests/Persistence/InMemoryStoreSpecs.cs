using KvCluster.Actors.Persistence.InMemory;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Snapshot;

namespace KvCluster.Tests.Persistence;

public sealed class InMemoryJournalSpec : JournalSpec
{
    private readonly InMemoryStore _store = new();

    protected override IJournal OpenJournal(JournalOptions options) => _store.OpenJournal(options);
}

public sealed class InMemorySnapshotStoreSpec : SnapshotStoreSpec
{
    private readonly InMemoryStore _store = new();

    protected override ISnapshotStore OpenStore() => _store.OpenSnapshotStore();
}
