using KvCluster.Actors.Persistence.Snapshot;

namespace KvCluster.Tests.Persistence;

/// <summary>
/// The conformance spec every <see cref="ISnapshotStore"/> implementation inherits (after
/// Akka.Persistence.TCK's SnapshotStoreSpec): selection criteria, deletes, overwrite, reopen.
/// </summary>
public abstract class SnapshotStoreSpec : IAsyncLifetime
{
    private static readonly DateTimeOffset s_t0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    protected ISnapshotStore Store { get; private set; } = null!;

    /// <summary>Opens the store under test; called again by <see cref="ReopenAsync"/> on the same storage.</summary>
    protected abstract ISnapshotStore OpenStore();

    public Task InitializeAsync()
    {
        Store = OpenStore();
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync() => await Store.DisposeAsync();

    protected async Task ReopenAsync()
    {
        await Store.DisposeAsync();
        Store = OpenStore();
    }

    /// <summary>Saves snapshots of "p" at sequence numbers 10, 20, 30, taken at t0 + 1, 2, 3 minutes.</summary>
    private async Task<SnapshotMetadata[]> SaveThreeAsync()
    {
        var saved = new List<SnapshotMetadata>();
        for (var i = 1; i <= 3; i++)
        {
            var metadata = new SnapshotMetadata("p", i * 10, s_t0.AddMinutes(i));
            await Store.SaveAsync(metadata, "state", new byte[] { (byte)i, 42 });
            saved.Add(metadata);
        }
        return [.. saved];
    }

    [Fact]
    public async Task Load_NoSnapshot_ReturnsNull()
    {
        Assert.Null(await Store.LoadAsync("p", SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public async Task Load_Latest_ReturnsHighestSequenceNrWithData()
    {
        var saved = await SaveThreeAsync();

        var loaded = await Store.LoadAsync("p", SnapshotSelectionCriteria.Latest);

        Assert.NotNull(loaded);
        Assert.Equal(saved[2], loaded.Metadata);
        Assert.Equal("state", loaded.Manifest);
        Assert.Equal(new byte[] { 3, 42 }, loaded.Data.ToArray());
    }

    [Fact]
    public async Task Load_MaxSequenceNr_ReturnsLatestAtOrBelow()
    {
        var saved = await SaveThreeAsync();

        Assert.Equal(saved[1], (await Store.LoadAsync("p", SnapshotSelectionCriteria.UpTo(29)))?.Metadata);
        Assert.Equal(saved[1], (await Store.LoadAsync("p", SnapshotSelectionCriteria.UpTo(20)))?.Metadata);
        Assert.Null(await Store.LoadAsync("p", SnapshotSelectionCriteria.UpTo(9)));
    }

    [Fact]
    public async Task Load_MaxTimestamp_ReturnsLatestTakenAtOrBefore()
    {
        var saved = await SaveThreeAsync();

        var loaded = await Store.LoadAsync("p", new SnapshotSelectionCriteria(long.MaxValue, s_t0.AddMinutes(2)));

        Assert.Equal(saved[1], loaded?.Metadata);
    }

    [Fact]
    public async Task Load_MinSequenceNrAboveAll_ReturnsNull()
    {
        await SaveThreeAsync();

        Assert.Null(await Store.LoadAsync("p", new SnapshotSelectionCriteria(long.MaxValue, DateTimeOffset.MaxValue, MinSequenceNr: 31)));
    }

    [Fact]
    public async Task Load_NoneCriteria_ReturnsNull()
    {
        await SaveThreeAsync();

        Assert.Null(await Store.LoadAsync("p", SnapshotSelectionCriteria.None));
    }

    [Fact]
    public async Task Load_OtherPersistenceId_IsIsolated()
    {
        await SaveThreeAsync();

        Assert.Null(await Store.LoadAsync("q", SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public async Task Save_SameSequenceNr_ReplacesSnapshot()
    {
        await Store.SaveAsync(new SnapshotMetadata("p", 5, s_t0), "v1", new byte[] { 1 });

        await Store.SaveAsync(new SnapshotMetadata("p", 5, s_t0.AddSeconds(1)), "v2", new byte[] { 2 });

        var loaded = await Store.LoadAsync("p", SnapshotSelectionCriteria.Latest);
        Assert.Equal("v2", loaded?.Manifest);
        Assert.Equal(new byte[] { 2 }, loaded?.Data.ToArray());
    }

    [Fact]
    public async Task Save_TimestampWithOffset_RoundTripsAsSameInstant()
    {
        var taken = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.FromHours(2)).AddTicks(1234);

        await Store.SaveAsync(new SnapshotMetadata("p", 1, taken), "", new byte[] { 1 });

        var loaded = await Store.LoadAsync("p", SnapshotSelectionCriteria.Latest);
        Assert.Equal(taken.UtcTicks, loaded?.Metadata.Timestamp.UtcTicks);
    }

    [Fact]
    public async Task Delete_Metadata_RemovesOnlyThatSnapshot()
    {
        var saved = await SaveThreeAsync();

        await Store.DeleteAsync(saved[2]);

        Assert.Equal(saved[1], (await Store.LoadAsync("p", SnapshotSelectionCriteria.Latest))?.Metadata);
        Assert.Equal(saved[0], (await Store.LoadAsync("p", SnapshotSelectionCriteria.UpTo(10)))?.Metadata);
    }

    [Fact]
    public async Task Delete_Criteria_RemovesAllMatching()
    {
        var saved = await SaveThreeAsync();

        await Store.DeleteAsync("p", SnapshotSelectionCriteria.UpTo(20));

        Assert.Equal(saved[2], (await Store.LoadAsync("p", SnapshotSelectionCriteria.Latest))?.Metadata);
        Assert.Null(await Store.LoadAsync("p", SnapshotSelectionCriteria.UpTo(29)));
    }

    [Fact]
    public async Task Delete_CriteriaOfOtherPersistenceId_RemovesNothing()
    {
        var saved = await SaveThreeAsync();

        await Store.DeleteAsync("q", SnapshotSelectionCriteria.Latest);

        Assert.Equal(saved[2], (await Store.LoadAsync("p", SnapshotSelectionCriteria.Latest))?.Metadata);
    }

    [Fact]
    public async Task Reopen_AfterDispose_SnapshotsSurvive()
    {
        var saved = await SaveThreeAsync();

        await ReopenAsync();

        var loaded = await Store.LoadAsync("p", SnapshotSelectionCriteria.Latest);
        Assert.Equal(saved[2], loaded?.Metadata);
        Assert.Equal(new byte[] { 3, 42 }, loaded?.Data.ToArray());
    }
}
