using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class LifecycleSpecs : TestKit
{
    [Fact]
    public void Stop_Parent_StopsChildrenFirst()
    {
        var parent = Sys.ActorOf(Props.Create(() => new LifecycleActor(TestActor, "p")));
        ExpectMsg("p:PreStart");
        parent.Tell("child:c", TestActor);
        var started = ReceiveN(2);
        Assert.Contains("c:PreStart", started);
        var child = started.OfType<IActorRef>().Single();
        Watch(parent);

        Sys.Stop(parent);

        ExpectMsg("c:PostStop");
        ExpectMsg("p:PostStop");
        ExpectTerminated(parent);
        Assert.True(((InternalActorRef)child).IsTerminated);
    }

    [Fact]
    public void Context_ChildByName_ReturnsNobodyWhenMissing()
    {
        IActorRef? found = null;
        var actor = ActorOfAsTestActorRef<ChildLookup>(Props.Create(() => new ChildLookup(r => found = r)));

        actor.Tell("missing");

        Assert.True(found.IsNobody());
    }

    private sealed class ChildLookup : ReceiveActor
    {
        public ChildLookup(Action<IActorRef> report)
        {
            Receive<string>(name => report(Context.Child(name)));
        }
    }

    [Fact]
    public void StoppedSubscriber_IsRemovedFromEventStream()
    {
        var subscriber = Sys.ActorOf(Props.Create<EchoActor>());
        Sys.EventStream.Subscribe(subscriber, typeof(string));
        Watch(subscriber);
        Sys.Stop(subscriber);
        ExpectTerminated(subscriber);

        // The stopping actor removed its own subscriptions.
        AwaitAssert(() => Assert.False(Sys.EventStream.Unsubscribe(subscriber, typeof(string))));
    }

    [Fact]
    public async Task Ask_Cancelled_TaskIsCancelled()
    {
        var silent = Sys.ActorOf(Props.Create<Silent>());
        using var cts = new CancellationTokenSource();

        var task = silent.Ask<string>("hello?", TimeSpan.FromSeconds(30), cts.Token);
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
    }

    private sealed class Silent : ReceiveActor
    {
        public Silent()
        {
            ReceiveAny(_ => { });
        }
    }

    [Fact]
    public void Identify_LiveActor_RepliesWithItsRef()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>());

        echo.Tell(new Identify("id-1"), TestActor);

        var identity = ExpectMsg<ActorIdentity>();
        Assert.Equal("id-1", identity.MessageId);
        Assert.Equal(echo, identity.Subject);
    }
}
