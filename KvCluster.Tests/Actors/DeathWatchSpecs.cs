using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class DeathWatchSpecs : TestKit
{
    private sealed class Watcher : ReceiveActor
    {
        public Watcher(IActorRef target, IActorRef probe)
        {
            Receive<Terminated>(t => probe.Tell(t));
            Receive<string>(s => s == "unwatch", _ =>
            {
                Context.Unwatch(target);
                Sender.Tell("unwatched");
            });
            Context.Watch(target);
        }
    }

    private sealed class WatcherWithoutHandler : ReceiveActor
    {
        public WatcherWithoutHandler(IActorRef target)
        {
            Context.Watch(target);
        }
    }

    [Fact]
    public void Watch_TargetStops_ReceivesTerminatedWithExistenceConfirmed()
    {
        var target = Sys.ActorOf(Props.Create<EchoActor>());
        Sys.ActorOf(Props.Create(() => new Watcher(target, TestActor)));
        target.Tell(new Identify(1), TestActor);
        ExpectMsg<ActorIdentity>();

        Sys.Stop(target);

        var terminated = ExpectMsg<Terminated>();
        Assert.Equal(target, terminated.ActorRef);
        Assert.True(terminated.ExistenceConfirmed);
        Assert.False(terminated.AddressTerminated);
    }

    [Fact]
    public void Watch_TargetCrashesAndIsStopped_ReceivesTerminated()
    {
        var target = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor, "t")));
        ExpectMsg("t:PreStart");
        Watch(target);

        target.Tell(Kill.Instance);

        ExpectMsg("t:PostStop");
        ExpectTerminated(target);
    }

    [Fact]
    public void Watch_AlreadyStoppedActor_ReceivesTerminatedAtOnce()
    {
        var target = Sys.ActorOf(Props.Create<EchoActor>());
        Watch(target);
        Sys.Stop(target);
        ExpectTerminated(target);

        var late = CreateTestProbe();
        late.Watch(target);

        late.ExpectTerminated(target);
    }

    [Fact]
    public void Watch_MissingPath_TerminatedWithoutExistenceConfirmed()
    {
        var missing = Sys.Provider.ResolveActorRef("kv://test/user/nobody-here");

        Watch(missing);

        Assert.False(ExpectTerminated(missing).ExistenceConfirmed);
    }

    [Fact]
    public void Unwatch_BeforeStop_NoTerminated()
    {
        var target = Sys.ActorOf(Props.Create<EchoActor>());
        var watcher = Sys.ActorOf(Props.Create(() => new Watcher(target, TestActor)));
        watcher.Tell("unwatch", TestActor);
        ExpectMsg("unwatched");

        Sys.Stop(target);

        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void TerminatedNotHandled_DeathPact_StopsWatcher()
    {
        var target = Sys.ActorOf(Props.Create<EchoActor>());
        var watcher = Sys.ActorOf(Props.Create(() => new WatcherWithoutHandler(target)));
        Watch(watcher);
        watcher.Tell(new Identify(null), TestActor);
        ExpectMsg<ActorIdentity>();

        Sys.Stop(target);

        ExpectTerminated(watcher);
    }

    private sealed class FakeRemoteRef(IActorRefProvider provider, ActorPath path) : InternalActorRef
    {
        public override ActorPath Path => path;

        public override IActorRefProvider Provider => provider;

        public override bool IsLocal => false;

        public override void Tell(object message, IActorRef? sender)
        {
        }

        public override void SendSystemMessage(ISystemMessage message)
        {
        }
    }

    [Fact]
    public void AddressTerminated_WatchedRemoteRef_DeliversTerminatedWithAddressTerminated()
    {
        var remoteAddress = new Address("other", "127.0.0.1", 4711);
        var remote = new FakeRemoteRef(Sys.Provider, (ActorPath.CreateRoot(remoteAddress) / "user" / "x").WithUid(7));
        var watcher = Sys.ActorOf(Props.Create(() => new Watcher(remote, TestActor)));
        watcher.Tell(new Identify(null), TestActor);
        ExpectMsg<ActorIdentity>();

        Sys.EventStream.Publish(new AddressTerminated(remoteAddress));

        var terminated = ExpectMsg<Terminated>();
        Assert.Equal(remote, terminated.ActorRef);
        Assert.True(terminated.AddressTerminated);
        Assert.False(terminated.ExistenceConfirmed);
    }
}
