using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors;
using KvCluster.Actors.Remote.Actors;

namespace KvCluster.Tests.Remote;

/// <summary>
/// Paths read from the wire: an Ask's one-shot reply path (<c>/temp/$n#uid</c>) takes a short way (no full parse),
/// which must give the same refs as the full parse, and leave everything unusual to it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RemoteWirePathTests
{
    /// <summary>Runs <paramref name="test"/> against a fresh remoting system and its provider, then stops it.</summary>
    private static async Task WithSystemAsync(Func<ActorSystem, RemoteActorRefProvider, Task> test)
    {
        var system = await RemoteSystems.StartAsync("a");
        try
        {
            await test(system, (RemoteActorRefProvider)system.Provider);
        }
        finally
        {
            await RemoteActorSystem.TerminateAsync(system);
        }
    }

    /// <summary>Asks an actor that never answers; returns the Ask, its reply ref and that ref's wire path.</summary>
    private static async Task<(Task<StringValue> Ask, IActorRef Sender, string Wire)> AskSilentAsync(ActorSystem system)
    {
        var collector = new Collector(system, "silent");
        var ask = collector.Ref.Ask<StringValue>(new StringValue { Value = "question" }, TimeSpan.FromSeconds(30));
        var (_, sender) = await collector.ReceiveAsync();
        return (ask, sender!, sender!.Path.ToSerializationFormat());
    }

    [Fact]
    public async Task ResolveWirePath_ReplyPathOfALiveAsk_ReachesTheAsk()
    {
        await WithSystemAsync(async (system, provider) =>
        {
            var (ask, sender, wire) = await AskSilentAsync(system);

            var resolved = provider.ResolveWirePath(wire);
            resolved.Tell(new StringValue { Value = "answer" }, null);

            Assert.StartsWith($"{system.Remote().Address}/temp/$", wire);
            Assert.Equal("answer", (await ask).Value);
        });
    }

    [Fact]
    public async Task ResolveWirePath_ReplyPathOfAFinishedAsk_IsNotALiveRef()
    {
        await WithSystemAsync(async (system, provider) =>
        {
            var (ask, sender, wire) = await AskSilentAsync(system);
            sender.Tell(new StringValue { Value = "first" }, null);
            await ask;

            var resolved = provider.ResolveWirePath(wire);

            Assert.True(resolved.IsTerminated);
            Assert.NotSame(sender, resolved);
        });
    }

    [Theory]
    [InlineData("kv://client@127.0.0.1:5001/temp/$17#42")]
    [InlineData("kv://client@127.0.0.1:5001/temp/$17#-9")]
    [InlineData("kv://client@127.0.0.1:5001/temp/$17")]
    [InlineData("kv://client@[::1]:5001/temp/$3#7")]
    public async Task ResolveWirePath_ReplyPathOfAnotherSystem_EqualsTheFullParse(string wire)
    {
        await WithSystemAsync((system, provider) =>
        {
            var expected = ActorPath.Parse(wire);

            var first = Assert.IsType<RemoteActorRef>(provider.ResolveWirePath(wire));
            var second = Assert.IsType<RemoteActorRef>(provider.ResolveWirePath(wire));

            Assert.Equal(expected, first.Path);
            Assert.Equal(expected.Uid, first.Path.Uid);
            Assert.Equal(expected.Address, first.Path.Address);
            Assert.Equal(wire, first.WirePath);
            Assert.Equal(expected.ToSerializationFormat(), first.Path.ToSerializationFormat());
            Assert.Equal(first.Path, second.Path);
            return Task.CompletedTask;
        });
    }

    [Theory]
    [InlineData("kv://client@127.0.0.1:5001/temp/bad name#1")]
    [InlineData("kv://client@127.0.0.1:5001/temp/$1#not-a-uid")]
    [InlineData("kv://client@127.0.0.1:99999/temp/$1#1")]
    [InlineData("kv://cl ient@127.0.0.1:5001/temp/$1#1")]
    [InlineData("http://client@127.0.0.1:5001/temp/$1#1")]
    public async Task ResolveWirePath_MalformedReplyPath_GoesToDeadLetters(string wire)
    {
        await WithSystemAsync((system, provider) =>
        {
            var resolved = provider.ResolveWirePath(wire);

            Assert.Same(system.DeadLetters, resolved);
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task ResolveWirePath_DeeperPathUnderTemp_IsLeftToTheFullParse()
    {
        await WithSystemAsync((system, provider) =>
        {
            const string Wire = "kv://client@127.0.0.1:5001/temp/$1/child#5";

            var resolved = Assert.IsType<RemoteActorRef>(provider.ResolveWirePath(Wire));

            Assert.Equal(["temp", "$1", "child"], resolved.Path.Elements);
            Assert.Equal(5, resolved.Path.Uid);
            return Task.CompletedTask;
        });
    }

    [Fact]
    public void Address_CachedText_DoesNotChangeEquality()
    {
        var printed = new Address("a", "127.0.0.1", 1);
        _ = printed.ToString();
        var fresh = new Address("a", "127.0.0.1", 1);

        Assert.Equal(fresh, printed);
        Assert.Equal(fresh.GetHashCode(), printed.GetHashCode());
        Assert.NotEqual(new Address("a", "127.0.0.1", 2), printed);
        Assert.Equal("kv://a@127.0.0.1:1", printed.ToString());
    }
}
