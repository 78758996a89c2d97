using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class SelectionAndExtensionSpecs : TestKit
{
    private sealed class Parent : ReceiveActor
    {
        public Parent()
        {
            Context.ActorOf(Props.Create<EchoActor>(), "kid-1");
            Context.ActorOf(Props.Create<EchoActor>(), "kid-2");
            Context.ActorOf(Props.Create<EchoActor>(), "other");
            Receive<string>(s => s.StartsWith("select:", StringComparison.Ordinal), s => Context.ActorSelection(s[7..]).Tell("from-parent", Sender));
        }
    }

    [Fact]
    public async Task ResolveOne_ExistingPath_ReturnsTheActor()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");

        var resolved = await Sys.ActorSelection("/user/echo").ResolveOne(TimeSpan.FromSeconds(5));

        Assert.Equal(echo, resolved);
    }

    [Fact]
    public async Task ResolveOne_FullPathWithAddress_ReturnsTheActor()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");

        var resolved = await Sys.ActorSelection(echo.Path).ResolveOne(TimeSpan.FromSeconds(5));

        Assert.Equal(echo, resolved);
    }

    [Fact]
    public async Task ResolveOne_MissingPath_ThrowsActorNotFound()
    {
        await Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection("/user/missing/child").ResolveOne(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Tell_Wildcard_DeliversToEveryMatch()
    {
        var parent = Sys.ActorOf(Props.Create<Parent>(), "parent");
        parent.Tell(new Identify(null), TestActor);
        ExpectMsg<ActorIdentity>();

        Sys.ActorSelection("/user/parent/kid-*").Tell("hi", TestActor);

        Assert.Equal(["hi", "hi"], ReceiveN(2).Cast<string>());
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void ContextSelection_RelativeWithParentStep_ReachesSibling()
    {
        var parent = Sys.ActorOf(Props.Create<Parent>(), "parent");

        parent.Tell("select:kid-1/../other", TestActor);

        ExpectMsg("from-parent");
        Assert.Equal("other", LastSender!.Path.Name);
    }

    [Fact]
    public async Task Ask_ThroughSelection_Works()
    {
        Sys.ActorOf(Props.Create<EchoActor>(), "echo");

        var reply = await Sys.ActorSelection("/user/echo").Ask<string>("ping", TimeSpan.FromSeconds(5));

        Assert.Equal("ping", reply);
    }

    [Fact]
    public void WildcardMatch_Patterns()
    {
        Assert.True(ActorSelection.WildcardMatch("a*c", "abbbc"));
        Assert.True(ActorSelection.WildcardMatch("a?c", "abc"));
        Assert.False(ActorSelection.WildcardMatch("a?c", "abbc"));
        Assert.True(ActorSelection.WildcardMatch("*", "anything"));
    }

    private sealed class Animal;

    private sealed class Cat;

    [Fact]
    public void EventStream_SubscribeByType_ReceivesAssignableEventsOnly()
    {
        var probe = CreateTestProbe();
        Sys.EventStream.Subscribe(probe.Ref, typeof(IComparable));

        Sys.EventStream.Publish("a string is IComparable");
        Sys.EventStream.Publish(new Animal());
        Sys.EventStream.Publish(42);

        probe.ExpectMsg("a string is IComparable");
        probe.ExpectMsg(42);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void EventStream_Unsubscribe_StopsDelivery()
    {
        var probe = CreateTestProbe();
        Sys.EventStream.Subscribe(probe.Ref, typeof(Cat));
        Assert.True(Sys.EventStream.Unsubscribe(probe.Ref, typeof(Cat)));

        Sys.EventStream.Publish(new Cat());

        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    private sealed class CounterExtension : IExtension
    {
        public int Created;
    }

    private sealed class CounterId : IExtensionId<CounterExtension>
    {
        public int Calls;

        public CounterExtension CreateExtension(ActorSystem system)
        {
            Calls++;
            return new CounterExtension { Created = Calls };
        }
    }

    [Fact]
    public void RegisterExtension_CreatesOncePerSystem()
    {
        var id = new CounterId();

        var first = Sys.RegisterExtension(id);
        var second = Sys.RegisterExtension(id);

        Assert.Same(first, second);
        Assert.Same(first, Sys.GetExtension<CounterExtension>());
        Assert.Equal(1, id.Calls);
    }
}
