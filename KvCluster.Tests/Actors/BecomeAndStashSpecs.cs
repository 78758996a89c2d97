using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class BecomeAndStashSpecs : TestKit
{
    private sealed class Switcher : ReceiveActor
    {
        public Switcher()
        {
            Receive<string>(s => s == "state", _ => Sender.Tell("initial"));
            Receive<string>(s => s == "become-a", _ => Become(A));
            Receive<string>(s => s == "stack-b", _ => BecomeStacked(B));
        }

        private void A()
        {
            Receive<string>(s => s == "state", _ => Sender.Tell("a"));
            Receive<string>(s => s == "stack-b", _ => BecomeStacked(B));
            Receive<string>(s => s == "unbecome", _ => UnbecomeStacked());
        }

        private void B()
        {
            Receive<string>(s => s == "state", _ => Sender.Tell("b"));
            Receive<string>(s => s == "unbecome", _ => UnbecomeStacked());
        }
    }

    [Fact]
    public void Become_ReplacesBehaviour_AndUnbecomeRestoresInitial()
    {
        var actor = Sys.ActorOf(Props.Create<Switcher>());

        actor.Tell("become-a", TestActor);
        actor.Tell("state", TestActor);
        actor.Tell("unbecome", TestActor);
        actor.Tell("state", TestActor);

        ExpectMsg("a");
        ExpectMsg("initial");
    }

    [Fact]
    public void BecomeStacked_ThenUnbecome_PopsBackToPrevious()
    {
        var actor = Sys.ActorOf(Props.Create<Switcher>());

        actor.Tell("become-a", TestActor);
        actor.Tell("stack-b", TestActor);
        actor.Tell("state", TestActor);
        actor.Tell("unbecome", TestActor);
        actor.Tell("state", TestActor);

        ExpectMsg("b");
        ExpectMsg("a");
    }

    private sealed class Stasher : ReceiveActor, IWithStash
    {
        public Stasher()
        {
            Receive<string>(s => s == "open", _ =>
            {
                Become(Open);
                Stash.UnstashAll();
            });
            Receive<string>(s => s == "twice", _ =>
            {
                Stash.Stash();
                try
                {
                    Stash.Stash();
                }
                catch (IllegalActorStateException error)
                {
                    Sender.Tell(error);
                }
            });
            Receive<string>(s => s == "throw", _ => throw new InvalidOperationException("restart me"));
            ReceiveAny(_ => Stash.Stash());
        }

        public IStash Stash { get; set; } = null!;

        private void Open()
        {
            ReceiveAny(m => Sender.Tell(m));
        }
    }

    [Fact]
    public void UnstashAll_PutsStashedMessagesFirst_InOriginalOrder()
    {
        var actor = Sys.ActorOf(Props.Create<Stasher>());

        actor.Tell(1, TestActor);
        actor.Tell(2, TestActor);
        actor.Tell(3, TestActor);
        actor.Tell("open", TestActor);
        actor.Tell(4, TestActor);

        Assert.Equal([1, 2, 3, 4], ReceiveN(4).Cast<int>());
    }

    [Fact]
    public void Stash_BeyondCapacity_FailsWithStashOverflow()
    {
        var actor = Sys.ActorOf(Props.Create<Stasher>().WithStashCapacity(2));

        EventFilter.Error<StashOverflowException>().ExpectOne(() =>
        {
            actor.Tell(1, TestActor);
            actor.Tell(2, TestActor);
            actor.Tell(3, TestActor);
        });
    }

    [Fact]
    public void Stash_SameMessageTwice_FailsWithIllegalState()
    {
        var actor = Sys.ActorOf(Props.Create<Stasher>());

        actor.Tell("twice", TestActor);

        ExpectMsg<IllegalActorStateException>(e => e.Message.Contains("twice", StringComparison.Ordinal));
    }

    [Fact]
    public void Restart_UnstashesToMailbox_SoNewInstanceSeesStashedMessages()
    {
        var actor = Sys.ActorOf(Props.Create<Stasher>());
        actor.Tell(1, TestActor);
        actor.Tell(2, TestActor);

        actor.Tell("throw", TestActor);
        // The new instance stashes 1 and 2 again (they came back to the mailbox), then opens.
        actor.Tell("open", TestActor);

        Assert.Equal([1, 2], ReceiveN(2).Cast<int>());
    }

    [Fact]
    public void Stop_WithStashedMessages_SendsThemToDeadLetters()
    {
        var actor = Sys.ActorOf(Props.Create<Stasher>());
        actor.Tell("stashed-1", TestActor);

        actor.Tell(PoisonPill.Instance, TestActor);

        ExpectDeadLetter<string>(s => s == "stashed-1");
    }
}
