using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors.Remote.FailureInjection;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Tests.Remote;

public sealed class RemotePrimitivesTests
{
    [Fact]
    public void Registry_RegisteredType_RoundTrips()
    {
        var registry = RemoteTestNode.NewRegistry();
        var (id, bytes) = registry.Serialize(new StringValue { Value = "x" });

        var message = registry.Deserialize(id, bytes);

        Assert.Equal(RemoteTestNode.StringTypeId, id);
        Assert.Equal("x", Assert.IsType<StringValue>(message).Value);
    }

    [Fact]
    public void Registry_UnknownId_ThrowsNamingTheId()
    {
        var registry = new MessageSerializerRegistry();

        var ex = Assert.Throws<UnknownMessageTypeException>(() => registry.Deserialize(4242, ReadOnlySpan<byte>.Empty));

        Assert.Equal(4242, ex.TypeId);
        Assert.Contains("4242", ex.Message);
    }

    [Fact]
    public void Registry_ReservedId_IsRefused()
    {
        var registry = new MessageSerializerRegistry();

        Assert.Throws<ArgumentOutOfRangeException>(() => registry.Register<StringValue>(5));
    }

    [Fact]
    public void Registry_IdTakenByAnotherType_IsRefusedNamingTheOwner()
    {
        var registry = new MessageSerializerRegistry();
        registry.Register<StringValue>(500);

        var ex = Assert.Throws<ArgumentException>(() => registry.Register<Int64Value>(500));

        Assert.Contains("StringValue", ex.Message);
    }

    [Fact]
    public void Registry_SamePairTwice_IsIdempotentButSecondIdIsRefused()
    {
        var registry = new MessageSerializerRegistry();
        registry.Register<StringValue>(500);

        registry.Register<StringValue>(500);

        Assert.Throws<ArgumentException>(() => registry.Register<StringValue>(501));
        Assert.True(registry.IsRegistered(500));
        Assert.False(registry.IsRegistered(501));
    }

    [Theory]
    [InlineData("kv://sys@127.0.0.1:2552", "sys", "127.0.0.1", 2552)]
    [InlineData("kv://sys@host:1/user/a/b#12", "sys", "host", 1)]
    [InlineData("kv://sys@[::1]:9/user", "sys", "::1", 9)]
    public void RemoteAddress_Parse_ReadsSystemHostPort(string text, string system, string host, int port)
    {
        Assert.Equal(new RemoteAddress(system, host, port), RemoteAddress.Parse(text));
    }

    [Theory]
    [InlineData("akka://sys@h:1")]
    [InlineData("kv://h:1")]
    [InlineData("kv://sys@h")]
    [InlineData("kv://sys@h:99999")]
    public void RemoteAddress_ParseInvalid_ThrowsFormatException(string text)
    {
        Assert.Throws<FormatException>(() => RemoteAddress.Parse(text));
    }

    [Fact]
    public void RemoteSettings_InvalidValue_ErrorNamesTheSetting()
    {
        var settings = RemoteTestNode.FastSettings("a") with { IdleTimeout = TimeSpan.FromMilliseconds(10) };

        var ex = Assert.Throws<ArgumentException>(settings.Validate);

        Assert.Contains("IdleTimeout", ex.Message);
    }

    [Fact]
    public void PhiDetector_RegularHeartbeats_StaysAvailable_SilenceMakesUnavailable()
    {
        var detector = new PhiAccrualFailureDetector(threshold: 8, minStdDeviationMs: 50, acceptablePauseMs: 200, firstHeartbeatEstimateMs: 100);
        long now = 0;
        for (var i = 0; i < 20; i++, now += 100)
        {
            detector.Heartbeat(now);
        }

        Assert.True(detector.IsAvailable(now));
        Assert.True(detector.Phi(now + 150) < detector.Phi(now + 600));
        Assert.False(detector.IsAvailable(now + 2_000));
    }

    [Fact]
    public void PhiDetector_BeforeFirstHeartbeat_IsAvailable()
    {
        var detector = new PhiAccrualFailureDetector(8, 50, 200, 100);

        Assert.Equal(0.0, detector.Phi(1_000_000));
        Assert.False(detector.IsMonitoring);
    }

    [Fact]
    public void FailureInjector_SeededDrop_IsReproducible()
    {
        var peer = new RemoteAddress("p", "127.0.0.1", 1);
        bool[] Run()
        {
            var injector = new FailureInjector();
            injector.Drop(peer, ThrottleDirection.Send, 0.3, seed: 11);
            return Enumerable.Range(0, 200).Select(_ => injector.ShouldDrop(peer, send: true)).ToArray();
        }

        var first = Run();

        Assert.Equal(first, Run());
        Assert.InRange(first.Count(d => d), 20, 120);
    }

    [Fact]
    public void FailureInjector_DirectionsAreIndependent_AndPassThroughHeals()
    {
        var peer = new RemoteAddress("p", "127.0.0.1", 1);
        var injector = new FailureInjector();

        injector.Blackhole(peer, ThrottleDirection.Receive);

        Assert.True(injector.ShouldDrop(peer, send: false));
        Assert.False(injector.ShouldDrop(peer, send: true));
        Assert.False(injector.ShouldDrop(peer with { Port = 2 }, send: false));
        injector.PassThrough(peer, ThrottleDirection.Both);
        Assert.False(injector.ShouldDrop(peer, send: false));
    }
}
