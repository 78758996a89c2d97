using KvCluster.Actors;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Sqlite;
using KvCluster.Actors.TestKit;
using Microsoft.Data.Sqlite;
using PersistenceExtension = KvCluster.Actors.Persistence.Persistence;

namespace KvCluster.Tests.Persistence;

/// <summary>Persistent actors on real SQLite files: state survives the actor system itself.</summary>
[Trait("Category", "Integration")]
public sealed class SqlitePersistentActorSpecs : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private sealed class Kit : TestKitBase
    {
        public Kit(string dataDirectory, JournalOptions? journal = null)
        {
            DefaultTimeout = TimeSpan.FromSeconds(30);
            PersistenceExtension.Configure(Sys, PersistenceSettings.Sqlite(dataDirectory, new SqliteStoreOptions { BusyTimeout = TimeSpan.FromMinutes(2), Journal = journal ?? new JournalOptions() }));
        }

        public IActorRef StartList(string pid) => Sys.ActorOf(Props.Create(() => new ListActor(pid, TestActor)));

        public void Shutdown() => Sys.Terminate().WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
    }

    [Fact]
    public void PersistentActor_NewActorSystemOnSameFiles_RecoversSnapshotAndEvents()
    {
        using (var kit = new Kit(_directory.Path))
        {
            var actor = kit.StartList("sq");
            kit.FishForMessage(m => m is Recovered);
            actor.Tell(new CmdAll(["a", "b"]), kit.TestActor);
            kit.ExpectMsg("a-1");
            kit.ExpectMsg("b-2");
            actor.Tell(new TakeSnapshot(), kit.TestActor);
            kit.ExpectMsg<SaveSnapshotSuccess>();
            actor.Tell(new Cmd("c"), kit.TestActor);
            kit.ExpectMsg("c-3");
            kit.Shutdown();
        }

        Assert.True(File.Exists(Path.Combine(_directory.Path, PersistenceSettings.JournalFileName)));
        Assert.True(File.Exists(Path.Combine(_directory.Path, PersistenceSettings.SnapshotFileName)));
        using (var kit = new Kit(_directory.Path))
        {
            var actor = kit.StartList("sq");
            kit.ExpectMsg(new Offered(2));
            kit.ExpectMsg(new ReplayedEvt("c"));
            var recovered = kit.ExpectMsg<Recovered>();
            Assert.Equal(["a", "b", "c"], recovered.Items);
            Assert.Equal(3, recovered.LastSequenceNr);
            actor.Tell(new Cmd("d"), kit.TestActor);
            kit.ExpectMsg("d-4");
            kit.Shutdown();
        }
    }

    [Fact]
    public void PersistentActors_ManyWritingAtOnce_ShareGroupCommits()
    {
        using var kit = new Kit(_directory.Path);
        const int actorCount = 32;
        var actors = Enumerable.Range(0, actorCount).Select(i => kit.StartList($"g{i}")).ToArray();
        for (var i = 0; i < actorCount; i++)
        {
            kit.FishForMessage(m => m is Recovered);
        }
        var journal = (SqliteJournal)PersistenceExtension.Get(kit.Sys).Journal;
        var before = journal.TransactionCount;
        using var blocker = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(_directory.Path, PersistenceSettings.JournalFileName),
            Pooling = false,
        }.ConnectionString);
        blocker.Open();
        Execute(blocker, "BEGIN IMMEDIATE;");

        // The writer waits for the file lock with what it took first; every other write queues for the next transaction.
        foreach (var actor in actors)
        {
            actor.Tell(new Cmd("x"), kit.TestActor);
        }
        kit.AwaitAssert(() => Assert.Equal(actorCount, journal.OutstandingOperations), TimeSpan.FromSeconds(30));
        Execute(blocker, "ROLLBACK;");
        var replies = kit.ReceiveN(actorCount);

        Assert.All(replies, r => Assert.Equal("x-1", r));
        Assert.InRange(journal.TransactionCount - before, 1, 2);
        kit.Shutdown();
    }

    [Fact]
    public async Task Persist_SqliteStorageFails_ActorStopsWithoutRunningHandler()
    {
        using var kit = new Kit(_directory.Path);
        var actor = kit.StartList("full");
        kit.FishForMessage(m => m is Recovered);
        actor.Tell(new Cmd("a"), kit.TestActor);
        kit.ExpectMsg("a-1");
        var journal = (SqliteJournal)PersistenceExtension.Get(kit.Sys).Journal;
        await journal.ExecuteOnWriterAsync("PRAGMA max_page_count = 1;");
        kit.Watch(actor);

        actor.Tell(new Cmd(new string('x', 8000)), kit.TestActor);

        var terminated = kit.FishForMessage(m => m is Terminated or string);
        Assert.IsType<Terminated>(terminated);
        kit.Shutdown();
    }

    [Fact]
    public void Persist_SqliteEventTooLarge_RejectedAndActorGoesOn()
    {
        using var kit = new Kit(_directory.Path, new JournalOptions { MaxEventBytes = 64 });
        var actor = kit.StartList("big");
        kit.FishForMessage(m => m is Recovered);

        actor.Tell(new Cmd(new string('x', 200)), kit.TestActor);
        var rejected = kit.ExpectMsg<PersistRejected>();
        actor.Tell(new Cmd("small"), kit.TestActor);

        Assert.Equal(1, rejected.SequenceNr);
        kit.ExpectMsg("small-2");
        kit.Shutdown();
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
