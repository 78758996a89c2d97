using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class AskSpecs : TestKit
{
    public AskSpecs() : base(virtualTime: true)
    {
    }

    private sealed class Replier : ReceiveActor
    {
        public Replier()
        {
            Receive<int>(n => Sender.Tell(n * 2));
            Receive<string>(s => s == "fail", _ => Sender.Tell(new Status.Failure(new InvalidOperationException("nope"))));
            Receive<string>(s => s == "silent", _ => { });
            Receive<string>(s => s == "path", _ => Sender.Tell(Sender.Path.ToString()));
        }
    }

    [Fact]
    public async Task Ask_Reply_CompletesWithTypedResult()
    {
        var actor = Sys.ActorOf(Props.Create<Replier>());

        var result = await actor.Ask<int>(21, TimeSpan.FromSeconds(5));

        Assert.Equal(42, result);
    }

    [Fact]
    public async Task Ask_StatusFailureReply_FaultsWithCause()
    {
        var actor = Sys.ActorOf(Props.Create<Replier>());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => actor.Ask<int>("fail", TimeSpan.FromSeconds(5)));

        Assert.Equal("nope", error.Message);
    }

    [Fact]
    public async Task Ask_NoReply_TimesOutInVirtualTime()
    {
        var actor = Sys.ActorOf(Props.Create<Replier>());

        var task = actor.Ask<int>("silent", TimeSpan.FromSeconds(30));
        Advance(TimeSpan.FromSeconds(29));
        Assert.False(task.IsCompleted);
        Advance(TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<AskTimeoutException>(() => task);
        Assert.Contains("String", error.Message);
    }

    [Fact]
    public async Task Ask_WrongReplyType_FaultsWithClearCastError()
    {
        var actor = Sys.ActorOf(Props.Create<Replier>());

        var error = await Assert.ThrowsAsync<InvalidCastException>(() => actor.Ask<string>(1, TimeSpan.FromSeconds(5)));

        Assert.Contains("Int32", error.Message);
    }

    [Fact]
    public async Task Ask_TempRef_HasResolvableTempPath()
    {
        var actor = Sys.ActorOf(Props.Create<Replier>());
        var probe = CreateTestProbe();

        var pending = actor.Ask<string>("path", TimeSpan.FromSeconds(5));
        var tempPath = await pending;

        Assert.StartsWith("kv://test/temp/$", tempPath);
        // Once completed, the temp ref is unregistered: resolving it yields a dead ref.
        Assert.True(Sys.Provider.ResolveActorRef(tempPath).IsTerminated);
        _ = probe;
    }

    [Fact]
    public async Task Ask_ReplyThroughResolvedTempPath_Completes()
    {
        var probe = CreateTestProbe();
        var task = probe.Ref.Ask<string>("question", TimeSpan.FromSeconds(30));
        probe.ExpectMsg<string>();
        // Remoting writes the sender's path into the message it sends; the reply comes back addressed to that path.
        var tempPath = ActorPath.Parse(probe.LastSender!.Path.ToSerializationFormat());
        Assert.Equal("temp", tempPath.Elements[0]);

        Sys.Provider.ResolveActorRef(tempPath).Tell("late reply", null);

        Assert.Equal("late reply", await task);
    }
}
