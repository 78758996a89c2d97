using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class TimerSpecs : TestKit
{
    public TimerSpecs() : base(virtualTime: true)
    {
    }

    private sealed record Start(string Key, object Message, TimeSpan Delay, bool Periodic);

    private sealed record CancelTimer(string Key);

    private sealed class TimerActor : ReceiveActor
    {
        public TimerActor(IActorRef probe)
        {
            Receive<Start>(s =>
            {
                if (s.Periodic)
                {
                    Timers.StartPeriodicTimer(s.Key, s.Message, s.Delay);
                }
                else
                {
                    Timers.StartSingleTimer(s.Key, s.Message, s.Delay);
                }
                Sender.Tell("started");
            });
            Receive<CancelTimer>(c =>
            {
                Timers.Cancel(c.Key);
                Sender.Tell("cancelled");
            });
            Receive<string>(s => s == "active?", _ => Sender.Tell(Timers.IsTimerActive("t")));
            Receive<string>(s => s == "throw", _ => throw new InvalidOperationException("restart"));
            ReceiveAny(m => probe.Tell(m));
        }
    }

    private IActorRef StartTimer(IActorRef actor, Start start)
    {
        actor.Tell(start, TestActor);
        ExpectMsg("started");
        return actor;
    }

    [Fact]
    public void SingleTimer_FiresOnceAtDueVirtualTime()
    {
        var actor = Sys.ActorOf(Props.Create(() => new TimerActor(TestActor)));
        StartTimer(actor, new Start("t", "tick", TimeSpan.FromSeconds(10), false));

        Advance(TimeSpan.FromSeconds(9));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Advance(TimeSpan.FromSeconds(1));

        ExpectMsg("tick");
        Advance(TimeSpan.FromSeconds(60));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void SingleTimer_AfterFiring_IsNotActive()
    {
        var actor = Sys.ActorOf(Props.Create(() => new TimerActor(TestActor)));
        StartTimer(actor, new Start("t", "tick", TimeSpan.FromSeconds(1), false));
        actor.Tell("active?", TestActor);
        ExpectMsg(true);

        Advance(TimeSpan.FromSeconds(1));
        ExpectMsg("tick");
        actor.Tell("active?", TestActor);

        ExpectMsg(false);
    }

    [Fact]
    public void PeriodicTimer_FiresEveryInterval()
    {
        var actor = Sys.ActorOf(Props.Create(() => new TimerActor(TestActor)));
        StartTimer(actor, new Start("t", "tick", TimeSpan.FromSeconds(1), true));

        Advance(TimeSpan.FromSeconds(3));

        Assert.Equal(["tick", "tick", "tick"], ReceiveN(3).Cast<string>());
    }

    [Fact]
    public void CancelledTimer_WhoseMessageIsAlreadyQueued_IsNotDelivered()
    {
        var actor = Sys.ActorOf(Props.Create(() => new TimerActor(TestActor)));
        StartTimer(actor, new Start("t", "stale", TimeSpan.FromSeconds(1), false));

        // The cancel is queued first, then the timer fires and its message queues behind it.
        actor.Tell(new CancelTimer("t"), TestActor);
        Advance(TimeSpan.FromSeconds(1));

        ExpectMsg("cancelled");
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void ReplacedTimer_OnlyNewMessageDelivered()
    {
        var actor = Sys.ActorOf(Props.Create(() => new TimerActor(TestActor)));
        StartTimer(actor, new Start("t", "old", TimeSpan.FromSeconds(1), false));

        // The replacement is queued before the old timer fires, so the old message arrives stale.
        actor.Tell(new Start("t", "new", TimeSpan.FromSeconds(2), false), TestActor);
        Advance(TimeSpan.FromSeconds(1));
        ExpectMsg("started");
        Advance(TimeSpan.FromSeconds(2));

        ExpectMsg("new");
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Restart_CancelsTimers()
    {
        var actor = Sys.ActorOf(Props.Create(() => new TimerActor(TestActor)));
        StartTimer(actor, new Start("t", "tick", TimeSpan.FromSeconds(1), true));

        actor.Tell("throw", TestActor);
        actor.Tell("active?", TestActor);
        ExpectMsg(false);
        Advance(TimeSpan.FromSeconds(5));

        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    private sealed class IdleActor : ReceiveActor
    {
        public IdleActor(IActorRef probe)
        {
            Receive<ReceiveTimeout>(_ => probe.Tell("idle"));
            Receive<string>(s => s == "clear", _ =>
            {
                Context.SetReceiveTimeout(null);
                Sender.Tell("cleared");
            });
            Receive<string>(s => s == "ping", _ => Sender.Tell("pong"));
            Context.SetReceiveTimeout(TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>
    /// Pings and waits until the actor re-armed its receive timeout, which it does after the handler that sent the
    /// pong returned: advancing virtual time before that would measure the timeout from a later instant. Every arm
    /// adds a scheduler entry (a cancelled one counts until it comes due), so the count tells when it happened:
    /// the constructor's arm plus one per message, none of them due yet.
    /// </summary>
    private void PingAndAwaitRearm(IActorRef actor, int pendingAfter)
    {
        actor.Tell("ping", TestActor);
        ExpectMsg("pong");
        AwaitCondition(() => TestScheduler!.PendingCount >= pendingAfter);
    }

    [Fact]
    public void ReceiveTimeout_NoMessages_FiresAfterTimeout_AndRepeats()
    {
        var actor = Sys.ActorOf(Props.Create(() => new IdleActor(TestActor)));
        PingAndAwaitRearm(actor, pendingAfter: 2);

        Advance(TimeSpan.FromSeconds(5));
        ExpectMsg("idle");
        // The timeout re-arms once ReceiveTimeout was handled; wait for that before advancing.
        AwaitCondition(() => TestScheduler!.PendingCount > 0);
        Advance(TimeSpan.FromSeconds(5));

        ExpectMsg("idle");
    }

    [Fact]
    public void ReceiveTimeout_MessageArrives_RestartsTheTimeout()
    {
        var actor = Sys.ActorOf(Props.Create(() => new IdleActor(TestActor)));
        PingAndAwaitRearm(actor, pendingAfter: 2);

        Advance(TimeSpan.FromSeconds(4));
        PingAndAwaitRearm(actor, pendingAfter: 3);
        Advance(TimeSpan.FromSeconds(4));

        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Advance(TimeSpan.FromSeconds(1));
        ExpectMsg("idle");
    }

    [Fact]
    public void ReceiveTimeout_Cleared_NeverFires()
    {
        var actor = Sys.ActorOf(Props.Create(() => new IdleActor(TestActor)));
        actor.Tell("clear", TestActor);
        ExpectMsg("cleared");

        Advance(TimeSpan.FromSeconds(60));

        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
