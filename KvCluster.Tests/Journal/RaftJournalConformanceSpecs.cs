using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Google.Protobuf;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Persistence;
using KvCluster.Raft.Serialization;
using KvCluster.Tests.Persistence;
using Microsoft.Data.Sqlite;

namespace KvCluster.Tests.Journal;

/// <summary>
/// What the Raft node relies on from its journal configuration (<see cref="RaftJournalConfig"/>: Akka.Persistence.Sql,
/// linq2db provider SQLite.MS, one SQLite file in the data directory): events replay in order, an atomic write (one
/// Raft Ready: one event with many entries; PersistAll of several events) is one unit, sequence numbers continue after
/// a restart (a new actor system on the same file) and after DeleteMessagesTo, snapshots are saved and selected, and the
/// file runs in WAL mode with synchronous=FULL. The SIGKILL case is in <see cref="RaftJournalCrashSpecs"/>.
/// </summary>
public sealed class RaftJournalConformanceSpecs : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _directory = new();
    private readonly List<ActorSystem> _systems = new();

    public void Dispose()
    {
        foreach (var system in _systems)
        {
            system.Terminate().Wait(s_wait);
        }

        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    /// <summary>A new actor system on the directory's journal (the same file every time).</summary>
    private ActorSystem NewSystem()
    {
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING")
            .WithFallback(RaftJournalConfig.Build(_directory.Path))
            .WithFallback(RaftWireSerializer.Config);
        var system = ActorSystem.Create("akkakv", config);
        _systems.Add(system);
        return system;
    }

    private static async Task StopAsync(ActorSystem system) => await system.Terminate().WaitAsync(s_wait);

    private static Task<Recovered> RecoveredAsync(IActorRef actor) => actor.Ask<Recovered>(new GetRecovered(), s_wait);

    [Fact]
    public async Task Replay_ManyWrites_EventsInWriteOrderWithConsecutiveSequenceNumbers()
    {
        var system = NewSystem();
        var writer = system.ActorOf(JournalProbeActor.Props("order"));
        for (var i = 1; i <= 50; i++)
        {
            Assert.Equal(i, await writer.Ask<long>(new PersistEvents([$"e{i}"]), s_wait));
        }

        var reader = system.ActorOf(JournalProbeActor.Props("order"));
        var recovered = await RecoveredAsync(reader);

        Assert.Equal(Enumerable.Range(1, 50).Select(i => ((long)i, (object)$"e{i}")), recovered.Events);
    }

    [Fact]
    public async Task AtomicWrite_OneRaftReadyWithManyEntries_IsOneRowAndReplaysWhole()
    {
        var system = NewSystem();
        var ready = new ReadyWritten { TruncateFrom = 3, HardState = new HardStateChanged { Term = 7, Vote = 2, Commit = 500 } };
        for (var i = 3; i <= 502; i++)
        {
            ready.Entries.Add(new JournalEntry { Term = 7, Index = i, Data = ByteString.CopyFromUtf8($"put k{i}") });
        }

        var writer = system.ActorOf(JournalProbeActor.Props("batch"));
        Assert.Equal(1, await writer.Ask<long>(new PersistEvents([ready]), s_wait));
        var recovered = await RecoveredAsync(system.ActorOf(JournalProbeActor.Props("batch")));

        var (sequenceNr, replayed) = Assert.Single(recovered.Events);
        Assert.Equal(1, sequenceNr);
        Assert.Equal(ready, replayed);
        Assert.Equal(1L, Scalar<long>("SELECT COUNT(*) FROM journal WHERE persistence_id = 'batch'"));
    }

    [Fact]
    public async Task AtomicWrite_PersistAllOfSeveralEvents_AllReplayedWithConsecutiveNumbers()
    {
        var system = NewSystem();
        var writer = system.ActorOf(JournalProbeActor.Props("all"));

        Assert.Equal(3, await writer.Ask<long>(new PersistEvents(["a", "b", "c"]), s_wait));
        Assert.Equal(5, await writer.Ask<long>(new PersistEvents(["d", "e"]), s_wait));

        var recovered = await RecoveredAsync(system.ActorOf(JournalProbeActor.Props("all")));
        Assert.Equal(new object[] { "a", "b", "c", "d", "e" }, recovered.Events.Select(e => e.Event));
    }

    [Fact]
    public async Task SequenceNumbers_NewActorSystemOnTheSameFile_ContinueAfterTheLast()
    {
        var first = NewSystem();
        var writer = first.ActorOf(JournalProbeActor.Props("restart"));
        Assert.Equal(5, await writer.Ask<long>(new PersistEvents(["1", "2", "3", "4", "5"]), s_wait));
        await StopAsync(first);

        var second = NewSystem();
        var restarted = second.ActorOf(JournalProbeActor.Props("restart"));
        var recovered = await RecoveredAsync(restarted);

        Assert.Equal(5, recovered.LastSequenceNr);
        Assert.Equal(5, recovered.Events.Count);
        Assert.Equal(6, await restarted.Ask<long>(new PersistEvents(["6"]), s_wait));
    }

    [Fact]
    public async Task DeleteMessagesTo_PrefixDeleted_ReplayStartsAfterItAndNumbersAreNeverReused()
    {
        var system = NewSystem();
        var writer = system.ActorOf(JournalProbeActor.Props("delete"));
        Assert.Equal(10, await writer.Ask<long>(new PersistEvents(Enumerable.Range(1, 10).Select(i => (object)$"e{i}").ToArray()), s_wait));

        Assert.Equal(4, await writer.Ask<long>(new DeleteTo(4), s_wait));
        var partial = await RecoveredAsync(system.ActorOf(JournalProbeActor.Props("delete")));
        Assert.Equal(Enumerable.Range(5, 6).Select(i => (long)i), partial.Events.Select(e => e.SequenceNr));

        // Deleting everything keeps the highest sequence number: a restarted writer must not reuse 1..10.
        Assert.Equal(10, await writer.Ask<long>(new DeleteTo(10), s_wait));
        await StopAsync(system);
        var restarted = NewSystem().ActorOf(JournalProbeActor.Props("delete"));
        var empty = await RecoveredAsync(restarted);
        Assert.Empty(empty.Events);
        Assert.Equal(10, empty.LastSequenceNr);
        Assert.Equal(11, await restarted.Ask<long>(new PersistEvents(["e11"]), s_wait));
    }

    [Fact]
    public async Task Snapshot_SavedTwice_RecoveryOffersTheLatestOrTheOneSelectedThenReplaysTheRest()
    {
        var system = NewSystem();
        var writer = system.ActorOf(JournalProbeActor.Props("snap"));
        await writer.Ask<long>(new PersistEvents(["a", "b"]), s_wait);
        Assert.Equal(2, await writer.Ask<long>(new Snapshot("state@2"), s_wait));
        await writer.Ask<long>(new PersistEvents(["c", "d"]), s_wait);
        Assert.Equal(4, await writer.Ask<long>(new Snapshot("state@4"), s_wait));
        await writer.Ask<long>(new PersistEvents(["e"]), s_wait);
        await StopAsync(system);

        var next = NewSystem();
        var latest = await RecoveredAsync(next.ActorOf(JournalProbeActor.Props("snap")));
        var selected = await RecoveredAsync(next.ActorOf(JournalProbeActor.Props("snap", new SnapshotSelectionCriteria(3))));

        Assert.Equal(("state@4", 4L), (latest.Snapshot, latest.SnapshotSequenceNr));
        Assert.Equal(new object[] { "e" }, latest.Events.Select(e => e.Event));
        Assert.Equal(("state@2", 2L), (selected.Snapshot, selected.SnapshotSequenceNr));
        Assert.Equal(new object[] { "c", "d", "e" }, selected.Events.Select(e => e.Event));
        Assert.Equal(5, selected.LastSequenceNr);
    }

    [Fact]
    public async Task Pragmas_ConnectionOpenedLikeThePlugin_WalModeAndSynchronousFull()
    {
        var system = NewSystem();
        await system.ActorOf(JournalProbeActor.Props("pragma")).Ask<long>(new PersistEvents(["x"]), s_wait);

        // journal_mode is stored in the file; synchronous is per connection, so read it on a connection opened with
        // the plugin's connection string: 2 = FULL, e_sqlite3's compiled-in default, which nothing here lowers.
        Assert.Equal("wal", Scalar<string>("PRAGMA journal_mode"));
        Assert.Equal(2L, Scalar<long>("PRAGMA synchronous"));
        Assert.True(Scalar<long>("PRAGMA busy_timeout") >= 0);
        Assert.True(File.Exists(RaftJournalConfig.DatabasePath(_directory.Path) + "-wal"), "a WAL file exists while the journal is open");
    }

    [Fact]
    public void Options_Invalid_ThrowNamingTheSetting()
    {
        var error = Assert.Throws<ArgumentException>(() => RaftJournalConfig.Build(_directory.Path, new RaftJournalOptions { Parallelism = 0 }));

        Assert.Equal(nameof(RaftJournalOptions.Parallelism), error.ParamName);
    }

    /// <summary>Runs a scalar query on a connection opened with the journal's own connection string.</summary>
    private T Scalar<T>(string sql)
    {
        using var connection = new SqliteConnection(RaftJournalConfig.ConnectionString(RaftJournalConfig.DatabasePath(_directory.Path)));
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }
}
