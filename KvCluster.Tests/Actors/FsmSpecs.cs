using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class FsmSpecs : TestKit
{
    public FsmSpecs() : base(virtualTime: true)
    {
    }

    public enum Role
    {
        Follower,
        Candidate,
        Leader,
    }

    private sealed record Heartbeat;

    private sealed record VoteGranted;

    private sealed record GetState;

    /// <summary>A Raft-shaped election FSM: followers time out into candidates; enough votes make a leader.</summary>
    private sealed class Election : FSM<Role, int>
    {
        public Election(IActorRef probe)
        {
            StartWith(Role.Follower, 0);
            When(Role.Follower, e => e.FsmEvent switch
            {
                Heartbeat => Stay(),
                FSMBase.StateTimeout => GoTo(Role.Candidate).Using(0),
                _ => null,
            }, timeout: TimeSpan.FromSeconds(1));
            When(Role.Candidate, e => e.FsmEvent switch
            {
                VoteGranted when e.StateData + 1 >= 2 => GoTo(Role.Leader).Using(e.StateData + 1).Replying("elected"),
                VoteGranted => Stay().Using(e.StateData + 1),
                FSMBase.StateTimeout => GoTo(Role.Candidate).Using(0),
                Heartbeat => GoTo(Role.Follower),
                _ => null,
            }, timeout: TimeSpan.FromSeconds(2));
            When(Role.Leader, e => e.FsmEvent switch
            {
                "step-down" => GoTo(Role.Follower).Using(0),
                "stop" => Stop(),
                _ => null,
            });
            WhenUnhandled(e => e.FsmEvent is GetState ? Stay().Replying((StateName, StateData)) : null);
            OnTransition((from, to) => probe.Tell($"{from}->{to}"));
            OnTermination(stop => probe.Tell($"terminated:{stop.Reason}:{stop.TerminatedState}"));
            Initialize();
        }
    }

    private IActorRef StartElection()
    {
        var fsm = Sys.ActorOf(Props.Create(() => new Election(TestActor)));
        fsm.Tell(new GetState(), TestActor);
        ExpectMsg((Role.Follower, 0));
        // The state timeout is re-armed after the event that replied; advancing virtual time before that would
        // measure it from a later instant. Each arm adds a scheduler entry (the start's and this event's).
        AwaitCondition(() => TestScheduler!.PendingCount >= 2);
        return fsm;
    }

    [Fact]
    public void StateTimeout_InFollower_TransitionsToCandidate()
    {
        StartElection();

        Advance(TimeSpan.FromSeconds(1));

        ExpectMsg("Follower->Candidate");
    }

    [Fact]
    public void Heartbeat_BeforeTimeout_StaysFollower_AndRearmsTimeout()
    {
        var fsm = StartElection();

        Advance(TimeSpan.FromMilliseconds(900));
        fsm.Tell(new Heartbeat(), TestActor);
        fsm.Tell(new GetState(), TestActor);
        ExpectMsg((Role.Follower, 0));
        AwaitCondition(() => TestScheduler!.PendingCount >= 4); // both events re-armed it (see StartElection)
        Advance(TimeSpan.FromMilliseconds(900));

        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Advance(TimeSpan.FromMilliseconds(100));
        ExpectMsg("Follower->Candidate");
    }

    [Fact]
    public void Votes_ReachQuorum_BecomesLeaderAndReplies()
    {
        var fsm = StartElection();
        Advance(TimeSpan.FromSeconds(1));
        ExpectMsg("Follower->Candidate");

        fsm.Tell(new VoteGranted(), TestActor);
        fsm.Tell(new VoteGranted(), TestActor);

        // Replies go out before transition handlers run (Akka order).
        ExpectMsg("elected");
        ExpectMsg("Candidate->Leader");
        fsm.Tell(new GetState(), TestActor);
        ExpectMsg((Role.Leader, 2));
    }

    [Fact]
    public void GoToSameState_NotifiesTransition_ButStayDoesNot()
    {
        var fsm = StartElection();
        Advance(TimeSpan.FromSeconds(1));
        ExpectMsg("Follower->Candidate");

        fsm.Tell(new VoteGranted(), TestActor);
        fsm.Tell(new GetState(), TestActor);
        ExpectMsg((Role.Candidate, 1));
        Advance(TimeSpan.FromSeconds(2));

        ExpectMsg("Candidate->Candidate");
    }

    [Fact]
    public void StaleStateTimeout_QueuedBeforeAnEvent_IsIgnored()
    {
        var fsm = StartElection();

        // The heartbeat is queued first; the timeout then fires and queues behind it with an old generation.
        fsm.Tell(new Heartbeat(), TestActor);
        Advance(TimeSpan.FromSeconds(1));
        fsm.Tell(new GetState(), TestActor);

        // If the stale timeout were processed we would see Follower->Candidate before the state reply.
        var first = ReceiveN(1)[0];
        Assert.True(first is ValueTuple<Role, int> state && state.Item1 == Role.Follower, $"unexpected {first}");
    }

    [Fact]
    public void Stop_RunsOnTerminationWithNormalReason_AndStopsActor()
    {
        var fsm = StartElection();
        Advance(TimeSpan.FromSeconds(1));
        ExpectMsg("Follower->Candidate");
        fsm.Tell(new VoteGranted(), TestActor);
        fsm.Tell(new VoteGranted(), TestActor);
        // Replies go out before transition handlers run (Akka order).
        ExpectMsg("elected");
        ExpectMsg("Candidate->Leader");
        var watcher = CreateTestProbe();
        watcher.Watch(fsm);

        fsm.Tell("stop", TestActor);

        ExpectMsg("terminated:Normal:Leader");
        watcher.ExpectTerminated(fsm);
    }

    [Fact]
    public void ExternalStop_RunsOnTerminationWithShutdown()
    {
        var fsm = StartElection();

        Sys.Stop(fsm);

        ExpectMsg("terminated:Shutdown:Follower");
    }

    private sealed class TimerFsm : FSM<string, int>
    {
        public TimerFsm(IActorRef probe)
        {
            StartWith("idle", 0);
            When("idle", e => e.FsmEvent switch
            {
                "arm" => Stay().Replying(Arm()),
                "disarm" => Stay().Replying(Disarm()),
                "ring" => Ring(probe, e.StateData),
                _ => null,
            });
            Initialize();
        }

        private State<string, int> Ring(IActorRef probe, int rings)
        {
            probe.Tell("ring");
            return Stay().Using(rings + 1);
        }

        private string Arm()
        {
            SetTimer("bell", "ring", TimeSpan.FromSeconds(3));
            return "armed";
        }

        private string Disarm()
        {
            CancelTimer("bell");
            return IsTimerActive("bell") ? "still-active" : "disarmed";
        }
    }

    [Fact]
    public void NamedTimer_Fires_AndCancelPreventsDelivery()
    {
        var fsm = Sys.ActorOf(Props.Create(() => new TimerFsm(TestActor)));
        fsm.Tell("arm", TestActor);
        ExpectMsg("armed");

        Advance(TimeSpan.FromSeconds(3));
        Assert.Equal("ring", ExpectMsg<string>());

        fsm.Tell("arm", TestActor);
        ExpectMsg("armed");
        fsm.Tell("disarm", TestActor);
        ExpectMsg("disarmed");
        Advance(TimeSpan.FromSeconds(10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    private sealed class BadTarget : FSM<string, int>
    {
        public BadTarget()
        {
            StartWith("a", 0);
            When("a", e => GoTo("nowhere"));
            Initialize();
        }
    }

    [Fact]
    public void GoTo_UnknownState_StopsTheFsm()
    {
        var fsm = Sys.ActorOf(Props.Create<BadTarget>());
        Watch(fsm);

        fsm.Tell("anything", TestActor);

        ExpectTerminated(fsm);
    }
}
