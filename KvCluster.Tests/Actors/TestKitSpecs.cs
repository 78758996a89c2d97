using KvCluster.Actors;
using KvCluster.Actors.TestKit;
using Xunit.Sdk;

namespace KvCluster.Tests.Actors;

public sealed class TestKitSpecs : TestKit
{
    private sealed class Counter : ReceiveActor
    {
        public Counter()
        {
            Receive<string>(s => s == "inc", _ => Count++);
            Receive<string>(s => s == "get", _ => Sender.Tell(Count));
        }

        public int Count { get; private set; }
    }

    [Fact]
    public void TestActorRef_ProcessesSynchronously_AndExposesInstance()
    {
        var counter = ActorOfAsTestActorRef<Counter>(Props.Create<Counter>());

        counter.Tell("inc");
        counter.Tell("inc");

        Assert.Equal(2, counter.UnderlyingActor.Count);
    }

    [Fact]
    public void TestActorRef_CanBeWatchedAndStopped()
    {
        var counter = ActorOfAsTestActorRef<Counter>(Props.Create<Counter>());
        Watch(counter);

        Sys.Stop(counter);

        Assert.Equal(counter.Ref, ExpectTerminated(counter).ActorRef);
    }

    [Fact]
    public void ExpectMsg_WrongType_FailsNamingBoth()
    {
        TestActor.Tell(1, null);

        var error = Assert.Throws<XunitException>(() => ExpectMsg<string>(timeout: TimeSpan.FromSeconds(1)));

        Assert.Contains("String", error.Message);
        Assert.Contains("Int32", error.Message);
    }

    [Fact]
    public void ExpectNoMsg_WhenMessageArrives_Fails()
    {
        TestActor.Tell("surprise", null);

        Assert.Throws<XunitException>(() => ExpectNoMsg(TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public void Probe_ReplyAndForward_UseLastSender()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>());
        var probe = CreateTestProbe();

        probe.Send(echo, "x");
        probe.ExpectMsg("x");
        probe.Reply("back");

        probe.ExpectMsg("back");
    }

    [Fact]
    public void FishForMessage_SkipsNonMatching()
    {
        TestActor.Tell(1, null);
        TestActor.Tell(2, null);
        TestActor.Tell("target", null);

        Assert.Equal("target", FishForMessage(m => m is string));
    }

    [Fact]
    public void Within_BoundsExpectTimeouts()
    {
        var error = Assert.Throws<XunitException>(() => Within(TimeSpan.FromMilliseconds(100), () => ExpectMsg<string>(timeout: TimeSpan.FromSeconds(30))));

        Assert.Contains("Timeout", error.Message);
    }

    [Fact]
    public void AwaitCondition_NeverTrue_FailsWithMessage()
    {
        var error = Assert.Throws<XunitException>(() => AwaitCondition(() => false, TimeSpan.FromMilliseconds(50), message: "never"));

        Assert.Contains("never", error.Message);
    }
}
