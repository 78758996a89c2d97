using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors.Remote.FailureInjection;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Tests.Remote;

[Trait("Category", "Integration")]
public sealed class RemoteTransportFailureTests
{
    private static async Task<List<long>> ReceiveValuesAsync(RemoteTestNode node, int count)
    {
        var values = new List<long>(count);
        for (var i = 0; i < count; i++)
        {
            values.Add(((Int64Value)(await node.ReceiveAsync()).Message).Value);
        }

        return values;
    }

    [Fact]
    public async Task Blackhole_ThenPassThrough_DropsDuringAndDeliversAfter()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        a.Send(b, "x", new Int64Value { Value = 0 });
        await b.ReceiveAsync();

        a.Transport.FailureInjector.Blackhole(b.Address, ThrottleDirection.Send);
        for (var i = 1; i <= 50; i++)
        {
            a.Send(b, "x", new Int64Value { Value = i });
        }

        await RemoteTestNode.WaitUntilAsync(() => a.Transport.Counters.InjectedDrops >= 50, "the 50 messages were black-holed");
        a.Transport.FailureInjector.PassThrough(b.Address, ThrottleDirection.Both);
        a.Send(b, "x", new Int64Value { Value = 999 });
        var next = await b.ReceiveAsync();

        Assert.Equal(999, ((Int64Value)next.Message).Value);
        Assert.False(b.TryReceive(out _));
    }

    [Fact]
    public async Task BlackholeBothWays_StopsHeartbeats_FailureDetectorTerminatesPeerAddress()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        a.Send(b, "x", new Int64Value { Value = 0 });
        await b.ReceiveAsync();
        await RemoteTestNode.WaitUntilAsync(() => a.Transport.IsConnected(b.Address), "a is associated with b");

        a.Transport.FailureInjector.Blackhole(b.Address, ThrottleDirection.Both);

        await RemoteTestNode.WaitUntilAsync(() => !a.Terminated.IsEmpty, "a's failure detector judged b unreachable");
        Assert.Equal((b.Address, b.Transport.Uid), Assert.Single(a.Terminated));
        Assert.True(a.Logs.Contains("is unreachable (phi"));
    }

    [Fact]
    public async Task ReceiveBlackholeOnReceiver_DropsInboundTraffic_UntilHealed()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        a.Send(b, "x", new Int64Value { Value = 0 });
        await b.ReceiveAsync();

        b.Transport.FailureInjector.Blackhole(a.Address, ThrottleDirection.Receive);
        a.Send(b, "x", new Int64Value { Value = 1 });
        await RemoteTestNode.WaitUntilAsync(() => b.Transport.Counters.InjectedDrops >= 1, "b dropped the inbound message");
        b.Transport.FailureInjector.HealAll();
        a.Send(b, "x", new Int64Value { Value = 2 });

        Assert.Equal(2, ((Int64Value)(await b.ReceiveAsync()).Message).Value);
    }

    [Fact]
    public async Task DropFraction_Seeded_DropsSomeButNotAllAndKeepsOrder()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        a.Transport.FailureInjector.Drop(b.Address, ThrottleDirection.Send, 0.5, seed: 7);
        const int count = 2000;

        for (var i = 0; i < count; i++)
        {
            a.Send(b, "x", new Int64Value { Value = i });
        }

        await RemoteTestNode.WaitUntilAsync(
            () => a.Transport.Counters.EnvelopesSent + a.Transport.Counters.InjectedDrops >= count,
            "the writer loop has processed every message");
        a.Transport.FailureInjector.PassThrough(b.Address, ThrottleDirection.Send);
        a.Send(b, "x", new Int64Value { Value = -1 });
        var received = new List<long>();
        while (true)
        {
            var value = ((Int64Value)(await b.ReceiveAsync()).Message).Value;
            if (value == -1)
            {
                break;
            }

            received.Add(value);
        }

        Assert.InRange(received.Count, count / 4, count * 3 / 4);
        Assert.Equal(received.Order(), received);
        Assert.True(a.Transport.Counters.InjectedDrops >= count - received.Count);
    }

    [Theory]
    [InlineData(ThrottleDirection.Send)]
    [InlineData(ThrottleDirection.Receive)]
    public async Task Delay_InEitherDirection_DeliversEverythingInOrder(ThrottleDirection direction)
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        if (direction == ThrottleDirection.Send)
        {
            a.Transport.FailureInjector.Delay(b.Address, direction, TimeSpan.FromMilliseconds(100));
        }
        else
        {
            b.Transport.FailureInjector.Delay(a.Address, direction, TimeSpan.FromMilliseconds(100));
        }

        for (var i = 0; i < 500; i++)
        {
            a.Send(b, "x", new Int64Value { Value = i });
        }

        var received = await ReceiveValuesAsync(b, 500);

        Assert.Equal(Enumerable.Range(0, 500).Select(i => (long)i), received);
    }

    [Fact]
    public async Task PeerRestart_OnSamePortWithNewUid_ReconnectsAndReportsNewIncarnation()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        var b1 = await RemoteTestNode.StartAsync("b");
        var port = b1.Address.Port;
        a.Send(b1, "x", new Int64Value { Value = 1 });
        await b1.ReceiveAsync();
        var oldUid = b1.Transport.Uid;

        await b1.DisposeAsync();
        await using var b2 = await RemoteTestNode.StartAsync("b", port: port);
        await RemoteTestNode.WaitUntilAsync(
            () =>
            {
                a.Send(b2, "x", new Int64Value { Value = 2 });
                return b2.TryReceive(out _);
            },
            "a's messages reach the restarted b");

        Assert.Equal(b2.Address, b1.Address);
        await RemoteTestNode.WaitUntilAsync(() => !a.Restarts.IsEmpty, "a noticed the restart");
        Assert.Equal((b2.Address, oldUid, b2.Transport.Uid), a.Restarts.First());
    }

    [Fact]
    public async Task AbruptPeerStop_FailureDetectorReportsAddressTerminatedOnce()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        var b = await RemoteTestNode.StartAsync("b");
        a.Send(b, "x", new Int64Value { Value = 1 });
        await b.ReceiveAsync();
        await RemoteTestNode.WaitUntilAsync(() => a.Transport.IsConnected(b.Address), "a is associated with b");
        var uid = b.Transport.Uid;

        await b.DisposeAsync();

        await RemoteTestNode.WaitUntilAsync(() => !a.Terminated.IsEmpty, "a judged b unreachable");
        await RemoteTestNode.WaitUntilAsync(() => a.Transport.Counters.ConnectFailures >= 3, "a keeps trying to reconnect with backoff");
        Assert.Equal((b.Address, uid), Assert.Single(a.Terminated));
    }
}
