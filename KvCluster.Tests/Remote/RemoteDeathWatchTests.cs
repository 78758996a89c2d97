using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.FailureInjection;

namespace KvCluster.Tests.Remote;

[Trait("Category", "Integration")]
public sealed class RemoteDeathWatchTests
{
    private static async Task<Terminated> ExpectTerminatedAsync(Collector watcher)
    {
        while (true)
        {
            var (message, _) = await watcher.ReceiveAsync();
            if (message is Terminated terminated)
            {
                return terminated;
            }
        }
    }

    [Fact]
    public async Task Watch_RemoteActorStopped_WatcherGetsTerminated()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var echo = await a.ResolveAsync(b, "echo");
            var watcher = new Collector(a, "watcher");

            watcher.Ref.Tell(new CollectorActor.WatchIt(echo, Then: PoisonPill.Instance), null);
            var terminated = await ExpectTerminatedAsync(watcher);

            Assert.Equal(echo, terminated.ActorRef);
            Assert.True(terminated.ExistenceConfirmed);
            Assert.False(terminated.AddressTerminated);
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task Watch_MissingRemoteActor_TerminatedWithoutExistence()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            var ghost = a.Provider.ResolveActorRef(b.PathOf("ghost"));
            var watcher = new Collector(a, "watcher");

            watcher.Ref.Tell(new CollectorActor.WatchIt(ghost), null);
            var terminated = await ExpectTerminatedAsync(watcher);

            Assert.Equal(ghost, terminated.ActorRef);
            Assert.False(terminated.ExistenceConfirmed);
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task Watch_PeerSystemCrashes_TerminatedByFailureDetector()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var echo = await a.ResolveAsync(b, "echo");
            var watcher = new Collector(a, "watcher");
            watcher.Ref.Tell(new CollectorActor.WatchIt(echo), null);
            await echo.Ask<StringValue>(new StringValue { Value = "alive" }, TimeSpan.FromSeconds(10));

            await RemoteSystems.CrashAsync(b);
            var terminated = await ExpectTerminatedAsync(watcher);

            Assert.Equal(echo, terminated.ActorRef);
            Assert.True(terminated.AddressTerminated);
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task Watch_PeerBlackholed_TerminatedThenHealedLinkCarriesMessagesAgain()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var echo = await a.ResolveAsync(b, "echo");
            var watcher = new Collector(a, "watcher");
            watcher.Ref.Tell(new CollectorActor.WatchIt(echo), null);
            var bAddress = b.Remote().Address;

            a.Remote().FailureInjector.Blackhole(bAddress, ThrottleDirection.Both);
            var terminated = await ExpectTerminatedAsync(watcher);
            a.Remote().FailureInjector.PassThrough(bAddress, ThrottleDirection.Both);
            var reply = await echo.Ask<StringValue>(new StringValue { Value = "healed" }, TimeSpan.FromSeconds(10));

            Assert.True(terminated.AddressTerminated);
            Assert.Equal("healed", reply.Value);
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }

    [Fact]
    public async Task PeerRestart_OnSamePort_OldRefIsDeadAndNewIncarnationIsReachable()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b1 = await RemoteSystems.StartAsync("b");
        var port = b1.Remote().Address.Port;
        ActorSystem? b2 = null;
        try
        {
            b1.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var oldEcho = await a.ResolveAsync(b1, "echo");
            var watcher = new Collector(a, "watcher");
            watcher.Ref.Tell(new CollectorActor.WatchIt(oldEcho), null);
            await oldEcho.Ask<StringValue>(new StringValue { Value = "alive" }, TimeSpan.FromSeconds(10));

            await RemoteSystems.CrashAsync(b1);
            b2 = await RemoteSystems.StartAsync("b", port);
            b2.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var terminated = await ExpectTerminatedAsync(watcher);
            var newEcho = await a.ResolveAsync(b2, "echo");
            var reply = await newEcho.Ask<StringValue>(new StringValue { Value = "new" }, TimeSpan.FromSeconds(10));
            oldEcho.Tell(new StringValue { Value = "to the old incarnation" }, watcher.Ref);

            Assert.Equal(oldEcho, terminated.ActorRef);
            Assert.NotEqual(oldEcho, newEcho);
            Assert.Equal("new", reply.Value);
            await RemoteTestNode.WaitUntilAsync(() => b2.DeadLetterCount >= 1, "the message to the old uid reached b's dead letters");
        }
        finally
        {
            await RemoteActorSystem.TerminateAsync(a);
            if (b2 is not null)
            {
                await RemoteActorSystem.TerminateAsync(b2);
            }
        }
    }

    [Fact]
    public async Task Stop_OnRemoteRef_StopsActorAndWatcherGetsTerminated()
    {
        var a = await RemoteSystems.StartAsync("a");
        var b = await RemoteSystems.StartAsync("b");
        try
        {
            b.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
            var echo = await a.ResolveAsync(b, "echo");
            var watcher = new Collector(a, "watcher");
            watcher.Ref.Tell(new CollectorActor.WatchIt(echo, Then: new StringValue { Value = "sync" }), null);
            await watcher.ExpectAsync<StringValue>();

            ((InternalActorRef)echo).Stop();
            var terminated = await ExpectTerminatedAsync(watcher);

            Assert.Equal(echo, terminated.ActorRef);
            Assert.True(terminated.ExistenceConfirmed);
            await Assert.ThrowsAsync<ActorNotFoundException>(() => a.ResolveAsync(b, "echo"));
        }
        finally
        {
            await Task.WhenAll(RemoteActorSystem.TerminateAsync(a), RemoteActorSystem.TerminateAsync(b));
        }
    }
}
