using KvCluster.Actors;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.InMemory;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.TestKit;
using PersistenceExtension = KvCluster.Actors.Persistence.Persistence;

namespace KvCluster.Tests.Persistence;

/// <summary>PersistentActor's contract (after Akka.Persistence's PersistentActorSpec), on the in-memory stores.</summary>
public sealed class PersistentActorSpecs : TestKitBase
{
    private readonly InMemoryStore _store = new();

    public PersistentActorSpecs()
    {
        DefaultTimeout = TimeSpan.FromSeconds(20);
    }

    private void UseJournal(Func<IJournal, IJournal>? wrap = null, JournalOptions? options = null) =>
        PersistenceExtension.Configure(Sys, new PersistenceSettings(
            () => wrap is null ? _store.OpenJournal(options) : wrap(_store.OpenJournal(options)),
            _store.OpenSnapshotStore));

    private IActorRef StartList(string pid, TestProbe? probe = null)
    {
        var actor = Sys.ActorOf(Props.Create(() => new ListActor(pid, (probe ?? Probe).Ref)));
        return actor;
    }

    private void ExpectRecovered(string[] items, long lastSequenceNr, TestProbe? probe = null)
    {
        var recovered = (probe ?? Probe).FishForMessage<Recovered>();
        Assert.Equal(items, recovered.Items);
        Assert.Equal(lastSequenceNr, recovered.LastSequenceNr);
    }

    private void StopAndWait(IActorRef actor)
    {
        var watcher = CreateTestProbe();
        watcher.Watch(actor);
        Sys.Stop(actor);
        watcher.ExpectTerminated(actor);
    }

    [Fact]
    public void Persist_ThenNewIncarnation_RecoversSameStateAndSequenceNr()
    {
        UseJournal();
        var actor = StartList("p1");
        ExpectRecovered([], 0);
        foreach (var data in new[] { "a", "b", "c" })
        {
            actor.Tell(new Cmd(data), TestActor);
            ExpectMsg($"{data}-{Array.IndexOf(new[] { "a", "b", "c" }, data) + 1}");
        }

        StopAndWait(actor);
        var again = StartList("p1");

        ExpectMsg(new ReplayedEvt("a"));
        ExpectMsg(new ReplayedEvt("b"));
        ExpectMsg(new ReplayedEvt("c"));
        ExpectRecovered(["a", "b", "c"], 3);
        again.Tell(new Cmd("d"), TestActor);
        ExpectMsg("d-4");
    }

    [Fact]
    public void Command_DuringRecovery_HandledAfterRecoveryCompleted()
    {
        UseJournal();
        var first = StartList("p1");
        ExpectRecovered([], 0);
        first.Tell(new Cmd("a"), TestActor);
        ExpectMsg("a-1");
        StopAndWait(first);

        // Sent at once: the command must wait for the replay to finish.
        var actor = StartList("p1");
        actor.Tell(new GetState(), TestActor);

        var state = FishForMessage(m => m is State) as State;
        Assert.Equal(["a"], state!.Items);
    }

    [Fact]
    public void Commands_WhileWriteInFlight_StashedAndHandledInOrderAfterHandler()
    {
        ControlledJournal? journal = null;
        UseJournal(inner => journal = new ControlledJournal(inner) { Hold = true });
        var actor = StartList("p1");
        ExpectRecovered([], 0);

        actor.Tell(new Cmd("a"), TestActor);
        actor.Tell(new Cmd("b"), TestActor);
        actor.Tell(new GetState(), TestActor);
        AwaitAssert(() => Assert.Equal(1, journal!.Batches));
        journal!.Release();

        ExpectMsg("a-1");
        ExpectMsg("b-2");
        Assert.Equal(["a", "b"], ExpectMsg<State>().Items);
        Assert.Equal(1, journal.MaxInFlight);
        Assert.Equal(2, journal.Batches);
    }

    [Fact]
    public void PersistAll_StoredAtomically_HandlersRunInOrderWithSequenceNrs()
    {
        UseJournal();
        var actor = StartList("p1");
        ExpectRecovered([], 0);

        actor.Tell(new CmdAll(["x", "y", "z"]), TestActor);

        ExpectMsg("x-1");
        ExpectMsg("y-2");
        ExpectMsg("z-3");
        actor.Tell(new GetState(), TestActor);
        var state = ExpectMsg<State>();
        Assert.Equal(["x", "y", "z"], state.Items);
        Assert.Equal(3, state.LastSequenceNr);
    }

    [Fact]
    public void SaveSnapshot_ThenRestart_OffersSnapshotThenReplaysOnlyLaterEvents()
    {
        UseJournal();
        var actor = StartList("p1");
        ExpectRecovered([], 0);
        actor.Tell(new CmdAll(["a", "b"]), TestActor);
        ExpectMsg("a-1");
        ExpectMsg("b-2");
        actor.Tell(new TakeSnapshot(), TestActor);
        Assert.Equal(2, ExpectMsg<SaveSnapshotSuccess>().Metadata.SequenceNr);
        actor.Tell(new Cmd("c"), TestActor);
        ExpectMsg("c-3");

        StopAndWait(actor);
        StartList("p1");

        ExpectMsg(new Offered(2));
        ExpectMsg(new ReplayedEvt("c"));
        ExpectRecovered(["a", "b", "c"], 3);
    }

    [Fact]
    public void DeleteMessages_ThenRestart_ReplaysRestAndKeepsNumbering()
    {
        UseJournal();
        var actor = StartList("p1");
        ExpectRecovered([], 0);
        actor.Tell(new CmdAll(["a", "b", "c"]), TestActor);
        ReceiveN(3);

        actor.Tell(new DeleteTo(long.MaxValue), TestActor);
        Assert.Equal(3, ExpectMsg<DeleteMessagesSuccess>().ToSequenceNr);
        StopAndWait(actor);
        var again = StartList("p1");

        ExpectRecovered([], 3);
        again.Tell(new Cmd("d"), TestActor);
        ExpectMsg("d-4");
    }

    [Fact]
    public void DeleteMessages_BeyondLastSequenceNr_RepliesFailure()
    {
        UseJournal();
        var actor = StartList("p1");
        ExpectRecovered([], 0);

        actor.Tell(new DeleteTo(5), TestActor);

        Assert.Equal(5, ExpectMsg<DeleteMessagesFailure>().ToSequenceNr);
    }

    [Fact]
    public void Persist_JournalFails_ActorStopsWithoutRunningHandler()
    {
        UseJournal(inner => new ControlledJournal(inner) { Fail = true });
        var actor = StartList("p1");
        ExpectRecovered([], 0);
        Watch(actor);

        actor.Tell(new Cmd("a"), TestActor);

        var terminated = FishForMessage(m => m is Terminated or string);
        Assert.IsType<Terminated>(terminated);
    }

    [Fact]
    public void Persist_EventRejected_ReportedAndActorGoesOn()
    {
        UseJournal(options: new JournalOptions { MaxEventBytes = 64 });
        var actor = StartList("p1");
        ExpectRecovered([], 0);

        actor.Tell(new Cmd(new string('x', 200)), TestActor);
        var rejected = ExpectMsg<PersistRejected>();
        actor.Tell(new Cmd("small"), TestActor);

        Assert.Equal(1, rejected.SequenceNr);
        ExpectMsg("small-2");
        actor.Tell(new GetState(), TestActor);
        Assert.Equal(["small"], ExpectMsg<State>().Items);
    }

    [Fact]
    public void CommandHandler_Throws_RestartedActorRecoversFromJournal()
    {
        UseJournal();
        var actor = StartList("p1");
        ExpectRecovered([], 0);
        actor.Tell(new Cmd("a"), TestActor);
        ExpectMsg("a-1");

        actor.Tell(new Boom(), TestActor);

        ExpectRecovered(["a"], 1);
        actor.Tell(new Cmd("b"), TestActor);
        ExpectMsg("b-2");
    }

    [Fact]
    public void ManyActors_PersistConcurrently_EachStreamComplete()
    {
        UseJournal();
        var probes = Enumerable.Range(0, 20).Select(_ => CreateTestProbe()).ToArray();
        var actors = probes.Select((p, i) => StartList($"many-{i}", p)).ToArray();
        foreach (var probe in probes)
        {
            probe.FishForMessage<Recovered>();
        }

        for (var round = 1; round <= 5; round++)
        {
            for (var i = 0; i < actors.Length; i++)
            {
                actors[i].Tell(new Cmd($"r{round}"), probes[i].Ref);
            }
        }

        for (var i = 0; i < actors.Length; i++)
        {
            for (var round = 1; round <= 5; round++)
            {
                probes[i].ExpectMsg($"r{round}-{round}");
            }
        }
    }

    [Fact]
    public void PersistenceGet_NotConfigured_ErrorSaysHowToConfigure()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => PersistenceExtension.Get(Sys));

        Assert.Contains("Persistence.Configure", ex.Message);
    }
}
