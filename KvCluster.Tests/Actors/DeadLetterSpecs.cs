using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class DeadLetterSpecs : TestKit
{
    [Fact]
    public void TellToStoppedActor_PublishesDeadLetter_AndCounts()
    {
        var actor = Sys.ActorOf(Props.Create<EchoActor>());
        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor);
        var before = Sys.DeadLetterCount;

        actor.Tell("lost", TestActor);

        var deadLetter = ExpectDeadLetter<string>(s => s == "lost");
        Assert.Equal(actor, deadLetter.Recipient);
        Assert.Equal(TestActor, deadLetter.Sender);
        Assert.True(Sys.DeadLetterCount > before);
    }

    [Fact]
    public void DeadLetter_IsLogged()
    {
        var actor = Sys.ActorOf(Props.Create<EchoActor>());
        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor);

        EventFilter.Info("Dead letter").ExpectOne(() => actor.Tell("lost"));
    }

    [Fact]
    public void SelectionToMissingPath_GoesToDeadLetters()
    {
        Sys.ActorSelection("/user/missing").Tell("nowhere", TestActor);

        ExpectDeadLetter<string>(s => s == "nowhere");
    }

    private sealed class Picky : ReceiveActor
    {
        public Picky()
        {
            Receive<int>(_ => { });
        }
    }

    [Fact]
    public void UnhandledMessage_IsPublishedOnEventStream()
    {
        var actor = Sys.ActorOf(Props.Create<Picky>());
        var listener = CreateTestProbe();
        Sys.EventStream.Subscribe(listener.Ref, typeof(UnhandledMessage));

        actor.Tell("what?", TestActor);

        var unhandled = listener.ExpectMsg<UnhandledMessage>();
        Assert.Equal("what?", unhandled.Message);
        Assert.Equal(actor, unhandled.Recipient);
    }
}

public sealed class DeadLetterLoggingSpecs : KvCluster.Actors.TestKit.TestKit
{
    public DeadLetterLoggingSpecs() : base(setup: new ActorSystemSetup { DeadLetterLogLimit = 3 })
    {
    }

    [Fact]
    public void ManyDeadLetters_AllCounted_ButLoggingIsRateLimited()
    {
        var before = Sys.DeadLetterCount;

        for (var i = 0; i < 20; i++)
        {
            Sys.DeadLetters.Tell(i, null);
        }

        Assert.Equal(before + 20, Sys.DeadLetterCount);
        var logged = Logs.Entries.Count(e => e.Message.StartsWith("Dead letter:", StringComparison.Ordinal));
        Assert.Equal(3, logged);
    }
}
