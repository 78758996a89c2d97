using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.FailureInjection;

namespace KvCluster.Tests.Remote;

[Trait("Category", "Integration")]
public sealed class RemoteActorSystemTests
{
    [Fact]
    public async Task CreateAsync_WithPortZero_AddressCarriesBoundPort()
    {
        var system = await RemoteSystems.StartAsync("a");
        try
        {
            var address = system.Remote().Address;

            Assert.NotEqual(0, address.Port);
            Assert.Equal($"kv://a@127.0.0.1:{address.Port}", system.Address.ToString());
        }
        finally
        {
            await RemoteActorSystem.TerminateAsync(system);
        }
    }

    [Fact]
    public async Task ResolveOneThenTell_RemoteEcho_RepliesToSenderAcrossTheNetwork()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var collector = new Collector(a, "collector");

            var echo = await a.ResolveAsync(b, "echo");
            echo.Tell(new StringValue { Value = "hi" }, collector.Ref);
            var (reply, sender) = await collector.ReceiveAsync();

            Assert.False(((InternalActorRef)echo).IsLocal);
            Assert.Equal("hi", Assert.IsType<StringValue>(reply).Value);
            Assert.Equal(echo, sender);
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task Ask_RemoteActor_CompletesWithReplyAndFailure()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var echo = a.Provider.ResolveActorRef(b.PathOf("echo"));

            var reply = await echo.Ask<StringValue>(new StringValue { Value = "question" }, TimeSpan.FromSeconds(10));
            var failure = await Assert.ThrowsAsync<RemoteFailureException>(() => echo.Ask<StringValue>(new StringValue { Value = "fail" }, TimeSpan.FromSeconds(10)));

            Assert.Equal("question", reply.Value);
            Assert.Contains("asked to fail", failure.Message);
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task Ask_ManyTimes_ReplyRefsAreNotCachedByTheReceiver()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var echo = a.Provider.ResolveActorRef(b.PathOf("echo"));
            await echo.Ask<StringValue>(new StringValue { Value = "first" }, TimeSpan.FromSeconds(10));
            var provider = (RemoteActorRefProvider)b.Provider;
            var cachedAfterFirst = provider.CachedRefCount;

            // Each Ask replies through a fresh /temp ref: caching those one-shot paths would fill the
            // cache (and clear it, evicting the refs that do repeat) at the request rate.
            for (var i = 0; i < 50; i++)
            {
                var reply = await echo.Ask<StringValue>(new StringValue { Value = "q" + i }, TimeSpan.FromSeconds(10));
                Assert.Equal("q" + i, reply.Value);
            }

            Assert.Equal(cachedAfterFirst, provider.CachedRefCount);
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task Tell_TenThousandMessagesBetweenActors_ArriveInOrder()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            var sink = new Collector(b, "sink");
            var remoteSink = a.Provider.ResolveActorRef(b.PathOf("sink"));

            for (var i = 0; i < 10_000; i++)
            {
                remoteSink.Tell(new Int64Value { Value = i }, null);
            }

            for (var i = 0; i < 10_000; i++)
            {
                Assert.Equal(i, (await sink.ExpectAsync<Int64Value>()).Value);
            }
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task Forward_ThroughThirdSystem_KeepsOriginalSender()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        var c = await RemoteSystems.StartAsync("c");
        try
        {
            c.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var echoOnC = b.Provider.ResolveActorRef(c.PathOf("echo"));
            b.ActorOf(Props.Create(() => new RemoteForwarderActor(echoOnC)), "forwarder");
            var collector = new Collector(a, "collector");

            a.Provider.ResolveActorRef(b.PathOf("forwarder")).Tell(new StringValue { Value = "via b" }, collector.Ref);
            var (reply, sender) = await collector.ReceiveAsync();

            Assert.Equal("via b", Assert.IsType<StringValue>(reply).Value);
            Assert.Equal(c.PathOf("echo"), sender!.Path.ToString());
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b), RemoteActorSystem.TerminateAsync(c));
        }
    }

    [Fact]
    public async Task Tell_NonProtobufMessage_GoesToLocalDeadLettersWithReason()
    {
        var logs = new CapturingLoggerProvider();
        var a = await RemoteSystems.StartAsync("a", logs: logs);
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            var target = a.Provider.ResolveActorRef(b.PathOf("x"));

            target.Tell("a plain string", null);

            await RemoteTestNode.WaitUntilAsync(() => a.DeadLetterCount == 1, "the string reached a's dead letters");
            Assert.True(logs.Contains("System.String is not a protobuf message"));
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task ResolveOne_MissingRemoteActor_ThrowsActorNotFound()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            await Assert.ThrowsAsync<ActorNotFoundException>(() => a.ResolveAsync(b, "nobody-here"));
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Theory]
    [InlineData("text-id")]
    [InlineData(42)]
    [InlineData(42L)]
    [InlineData(null)]
    public async Task Identify_RemoteActor_EchoesMessageIdAndSubject(object? messageId)
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            var echoOnB = b.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var remote = a.Provider.ResolveActorRef(b.PathOf("echo"));

            var identity = await remote.Ask<ActorIdentity>(new Identify(messageId), TimeSpan.FromSeconds(10));

            Assert.Equal(messageId, identity.MessageId);
            Assert.Equal(echoOnB.Path.ToSerializationFormat(), identity.Subject!.Path.ToSerializationFormat());
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task SelectionWithWildcard_AcrossNetwork_ReachesEveryMatchingActor()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "worker-1");
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "worker-2");
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "other");
            var collector = new Collector(a, "collector");

            a.ActorSelection(b.PathOf("worker-*")).Tell(new StringValue { Value = "all workers" }, collector.Ref);
            var first = await collector.ReceiveAsync();
            var second = await collector.ReceiveAsync();

            var senders = new[] { first.Sender!.Path.Name, second.Sender!.Path.Name }.Order().ToArray();
            Assert.Equal(["worker-1", "worker-2"], senders);
            Assert.False(collector.TryReceive(out _));
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }
}
