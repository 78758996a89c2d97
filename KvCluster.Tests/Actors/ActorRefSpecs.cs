using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class ActorRefSpecs : TestKit
{
    [Fact]
    public void Tell_ToEcho_RepliesToSender()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");

        echo.Tell("hello", TestActor);

        Assert.Equal("hello", ExpectMsg<string>());
        Assert.Equal(echo, LastSender);
    }

    [Fact]
    public void Path_OfTopLevelActor_IsUnderUserGuardian()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>(), "echo");

        Assert.Equal("kv://test/user/echo", echo.Path.ToString());
        Assert.NotEqual(0, echo.Path.Uid);
    }

    [Fact]
    public void Forward_KeepsOriginalSender()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>());
        var forwarder = Sys.ActorOf(Props.Create(() => new ForwardingActor(echo)));

        forwarder.Tell("via", TestActor);

        ExpectMsgFrom<string>(echo, s => s == "via");
    }

    [Fact]
    public void Equality_SameNameNewIncarnation_IsNotEqual()
    {
        var first = Sys.ActorOf(Props.Create<EchoActor>(), "again");
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        // The parent frees the name when it processes the child's death, possibly just after we saw it.
        IActorRef second = null!;
        AwaitAssert(() => second = Sys.ActorOf(Props.Create<EchoActor>(), "again"));

        Assert.Equal(first.Path, second.Path);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void ActorOf_DuplicateName_ThrowsInvalidActorName()
    {
        Sys.ActorOf(Props.Create<EchoActor>(), "dup");

        var error = Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<EchoActor>(), "dup"));

        Assert.Contains("dup", error.Message);
    }

    [Fact]
    public void ActorOf_ReservedDollarName_Throws()
    {
        Assert.Throws<InvalidActorNameException>(() => Sys.ActorOf(Props.Create<EchoActor>(), "$x"));
    }

    [Fact]
    public void CreatingActorWithNew_OutsideProps_Throws()
    {
        Assert.Throws<ActorInitializationException>(() => new EchoActor());
    }

    [Fact]
    public void Provider_ResolveActorRef_FindsLiveActorAndRejectsStaleUid()
    {
        var echo = Sys.ActorOf(Props.Create<EchoActor>(), "resolve-me");

        var resolved = Sys.Provider.ResolveActorRef(echo.Path.ToSerializationFormat());
        var stale = Sys.Provider.ResolveActorRef(echo.Path.WithUid(echo.Path.Uid + 1));

        Assert.Equal(echo, resolved);
        Assert.True(stale.IsTerminated);
    }
}
