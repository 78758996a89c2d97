using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class SupervisionSpecs : TestKit
{
    private IActorRef MakeChild(SupervisorStrategy strategy, string name, out IActorRef supervisor)
    {
        supervisor = Sys.ActorOf(Props.Create(() => new SupervisorActor(strategy, TestActor)));
        supervisor.Tell("make:" + name, TestActor);
        return ExpectStarted(name);
    }

    /// <summary>The child's ref (from its parent) and its PreStart report can arrive in either order.</summary>
    private IActorRef ExpectStarted(string name)
    {
        var messages = ReceiveN(2);
        Assert.Contains($"{name}:PreStart", messages);
        return messages.OfType<IActorRef>().Single();
    }

    [Fact]
    public void Restart_ResetsState_AndRunsHooksInOrder_DroppingFailingMessage()
    {
        var child = MakeChild(new OneForOneStrategy(_ => Directive.Restart), "c", out _);
        child.Tell("count", TestActor);
        ExpectMsg(1);

        child.Tell("throw", TestActor);

        ExpectMsg("c:PreRestart:throw");
        ExpectMsg("c:PostStop");
        ExpectMsg("c:PostRestart");
        ExpectMsg("c:PreStart");
        child.Tell("state", TestActor);
        ExpectMsg(0);
    }

    [Fact]
    public void Resume_KeepsState()
    {
        var child = MakeChild(new OneForOneStrategy(_ => Directive.Resume), "c", out _);
        child.Tell("count", TestActor);
        ExpectMsg(1);

        child.Tell("throw", TestActor);
        child.Tell("state", TestActor);

        ExpectMsg(1);
    }

    [Fact]
    public void Stop_StopsChild()
    {
        var child = MakeChild(new OneForOneStrategy(_ => Directive.Stop), "c", out _);
        Watch(child);

        child.Tell("throw", TestActor);

        ExpectMsg("c:PostStop");
        ExpectTerminated(child);
    }

    [Fact]
    public void Escalate_FailsSupervisor_WhoseParentRestartsIt()
    {
        var child = MakeChild(new OneForOneStrategy(_ => Directive.Escalate), "c", out var supervisor);
        Watch(child);

        child.Tell("throw", TestActor);

        // The supervisor is restarted by /user; its default PreRestart stops the child.
        ExpectMsg("c:PostStop");
        ExpectTerminated(child);
        supervisor.Tell("make:c2", TestActor);
        ExpectStarted("c2");
    }

    [Fact]
    public void Escalate_GrandparentResumes_ChildResumesWithStateKept()
    {
        var grandparent = Sys.ActorOf(Props.Create(() => new Spawner(new OneForOneStrategy(_ => Directive.Resume))));
        grandparent.Tell(new SpawnChild(Props.Create(() => new Spawner(new OneForOneStrategy(_ => Directive.Escalate))), "parent"), TestActor);
        var parent = ExpectMsg<IActorRef>();
        parent.Tell(new SpawnChild(Props.Create(() => new LifecycleActor(TestActor, "c")), "c"), TestActor);
        var child = ExpectStartedRef("c");
        child.Tell("count", TestActor);
        ExpectMsg(1);

        child.Tell("throw", TestActor);
        child.Tell("count", TestActor);

        ExpectMsg(2);
    }

    private IActorRef ExpectStartedRef(string name) => ExpectStarted(name);

    [Fact]
    public void RetryLimitWithinWindow_Exceeded_StopsChild()
    {
        var child = MakeChild(new OneForOneStrategy(2, TimeSpan.FromMinutes(1), _ => Directive.Restart), "c", out _);
        Watch(child);

        child.Tell("throw", TestActor);
        child.Tell("throw", TestActor);
        child.Tell("throw", TestActor);

        var terminated = FishForMessage(m => m is Terminated);
        Assert.Equal(child, ((Terminated)terminated).ActorRef);
    }

    [Fact]
    public void AllForOne_RestartsSiblings()
    {
        var strategy = new AllForOneStrategy(_ => Directive.Restart);
        var a = MakeChild(strategy, "a", out var supervisor);
        supervisor.Tell("make:b", TestActor);
        var b = ExpectStarted("b");
        b.Tell("count", TestActor);
        ExpectMsg(1);

        a.Tell("throw", TestActor);

        var events = ReceiveN(8).Cast<string>().ToList();
        Assert.Contains("b:PostRestart", events);
        Assert.Contains("a:PostRestart", events);
        b.Tell("state", TestActor);
        ExpectMsg(0);
    }

    [Fact]
    public void FaultyActor_DoesNotAffectSibling()
    {
        var child = MakeChild(new OneForOneStrategy(_ => Directive.Stop), "bad", out var supervisor);
        supervisor.Tell("make:good", TestActor);
        var good = ExpectStarted("good");

        child.Tell("throw", TestActor);
        ExpectMsg("bad:PostStop");
        good.Tell("count", TestActor);

        ExpectMsg(1);
    }

    [Fact]
    public void Kill_DefaultStrategy_StopsActor()
    {
        var actor = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor, "k")));
        ExpectMsg("k:PreStart");
        Watch(actor);

        actor.Tell(Kill.Instance);

        ExpectMsg("k:PostStop");
        ExpectTerminated(actor);
    }

    [Fact]
    public void PoisonPill_ProcessesEarlierMessagesFirst()
    {
        var actor = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor, "p")));
        ExpectMsg("p:PreStart");

        actor.Tell("count", TestActor);
        actor.Tell(PoisonPill.Instance, TestActor);

        ExpectMsg(1);
        ExpectMsg("p:PostStop");
    }

    private sealed class ThrowsInConstructor : ReceiveActor
    {
        public ThrowsInConstructor() => throw new InvalidOperationException("cannot start");
    }

    [Fact]
    public void ConstructorThrows_DefaultStrategy_StopsWithInitializationError()
    {
        IActorRef actor = null!;

        EventFilter.Error<ActorInitializationException>().ExpectOne(() => actor = Sys.ActorOf(Props.Create<ThrowsInConstructor>()));

        Watch(actor);
        ExpectTerminated(actor);
    }

    [Fact]
    public void DefaultStrategy_Failure_IsLoggedAsError()
    {
        var actor = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor, "l")));
        ExpectMsg("l:PreStart");

        EventFilter.Error<InvalidOperationException>("boom").ExpectOne(() => actor.Tell("throw"));
    }
}
