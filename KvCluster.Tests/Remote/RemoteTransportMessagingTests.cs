using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Tests.Remote;

[Trait("Category", "Integration")]
public sealed class RemoteTransportMessagingTests
{
    [Fact]
    public async Task Send_BetweenTwoSystems_DeliversMessageWithPathsAndOrigin()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");

        var status = a.Send(b, "echo", new StringValue { Value = "hello" }, sender: a.PathOf("client"));
        var received = await b.ReceiveAsync();

        Assert.Equal(SendStatus.Enqueued, status);
        Assert.Equal("hello", Assert.IsType<StringValue>(received.Message).Value);
        Assert.Equal(b.PathOf("echo"), received.Recipient);
        Assert.Equal(a.PathOf("client"), received.Sender);
        Assert.Equal(a.Address, received.From);
        Assert.Equal(a.Transport.Uid, received.FromUid);
        Assert.NotEqual(0, a.Address.Port);
    }

    [Fact]
    public async Task Send_ReplyToSenderPath_ReachesOriginalSender()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");

        a.Send(b, "echo", new StringValue { Value = "ping" }, sender: a.PathOf("client"));
        var request = await b.ReceiveAsync();
        var replyTo = RemoteAddress.Parse(request.Sender);
        b.Transport.Send(replyTo, request.Sender, b.PathOf("echo"), new StringValue { Value = "pong" });
        var reply = await a.ReceiveAsync();

        Assert.Equal("pong", Assert.IsType<StringValue>(reply.Message).Value);
        Assert.Equal(a.PathOf("client"), reply.Recipient);
        Assert.Equal(b.PathOf("echo"), reply.Sender);
    }

    [Fact]
    public async Task Send_TenThousandMessages_ArriveInSendOrder()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        const int count = 10_000;

        for (var i = 0; i < count; i++)
        {
            while (a.Send(b, "sink", new Int64Value { Value = i }) == SendStatus.QueueFull)
            {
                await Task.Yield();
            }
        }

        var received = new List<long>(count);
        for (var i = 0; i < count; i++)
        {
            received.Add(((Int64Value)(await b.ReceiveAsync()).Message).Value);
        }

        Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), received);
    }

    [Fact]
    public async Task Send_AmongThreeSystems_EachPairDelivers()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        await using var c = await RemoteTestNode.StartAsync("c");
        RemoteTestNode[] nodes = [a, b, c];

        foreach (var from in nodes)
        {
            foreach (var to in nodes.Where(n => n != from))
            {
                from.Send(to, "inbox", new StringValue { Value = from.Address.System });
            }
        }

        foreach (var node in nodes)
        {
            var senders = new[] { await node.ReceiveAsync(), await node.ReceiveAsync() }
                .Select(m => ((StringValue)m.Message).Value).Order().ToArray();
            Assert.Equal(nodes.Where(n => n != node).Select(n => n.Address.System).Order().ToArray(), senders);
        }
    }

    [Fact]
    public async Task Send_UnregisteredType_GoesToDeadLettersWithReason()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");

        var status = a.Send(b, "x", new DoubleValue { Value = 1 });

        Assert.Equal(SendStatus.UnknownType, status);
        var dead = Assert.Single(a.DeadLetters);
        Assert.Contains("DoubleValue is not registered", dead.Reason);
        Assert.Equal(1, a.Transport.Counters.DeadLetters);
    }

    [Fact]
    public async Task Send_MessageLargerThanMaxFrame_GoesToDeadLetters()
    {
        await using var a = await RemoteTestNode.StartAsync("a", s => s with { MaxFrameSize = 4096 });
        await using var b = await RemoteTestNode.StartAsync("b");

        var status = a.Send(b, "x", new BytesValue { Value = Google.Protobuf.ByteString.CopyFrom(new byte[5000]) });

        Assert.Equal(SendStatus.TooLarge, status);
        Assert.Contains("exceeds MaxFrameSize", Assert.Single(a.DeadLetters).Reason);
    }

    [Fact]
    public async Task Send_TypeIdUnknownToReceiver_DropsThatMessageAndKeepsConnection()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b", registry: RemoteTestNode.NewRegistry(withStrings: false));

        a.Send(b, "x", new StringValue { Value = "unknown to b" });
        a.Send(b, "x", new Int64Value { Value = 7 });
        var received = await b.ReceiveAsync();

        Assert.Equal(7, ((Int64Value)received.Message).Value);
        Assert.Equal(1, b.Transport.Counters.UnknownTypeIds);
        Assert.True(b.Logs.Contains("type id 1002"));
    }

    [Fact]
    public async Task Send_ToUnreachableAddressWithFullQueue_OverflowsToDeadLettersAndStaysBounded()
    {
        await using var a = await RemoteTestNode.StartAsync("a", s => s with { OutboundQueueCapacity = 16 });
        var nowhere = new RemoteAddress("ghost", "127.0.0.1", 1);

        var statuses = Enumerable.Range(0, 100).Select(i => a.Transport.Send(nowhere, $"{nowhere}/user/x", null, new Int64Value { Value = i })).ToList();

        Assert.True(statuses.Count(s => s == SendStatus.QueueFull) >= 100 - 17);
        Assert.Equal(statuses.Count(s => s == SendStatus.QueueFull), a.Transport.Counters.QueueOverflows);
        Assert.Equal(a.Transport.Counters.QueueOverflows, a.DeadLetters.Count);
        Assert.Contains("is full", a.DeadLetters.First().Reason);
    }

    [Fact]
    public async Task Dispose_WithQueuedMessages_HandsThemToDeadLetters()
    {
        var a = await RemoteTestNode.StartAsync("a");
        var nowhere = new RemoteAddress("ghost", "127.0.0.1", 1);
        a.Transport.Send(nowhere, $"{nowhere}/user/x", null, new Int64Value { Value = 1 });

        await a.DisposeAsync();
        var late = a.Transport.Send(nowhere, $"{nowhere}/user/x", null, new Int64Value { Value = 2 });

        Assert.Equal(SendStatus.Stopped, late);
        Assert.Equal(2, a.DeadLetters.Count);
    }

    [Fact]
    public async Task Send_ThreeMegabyteMessage_UnderMaxFrameSize_IsDelivered()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        var bytes = new byte[3 * 1024 * 1024];
        new Random(5).NextBytes(bytes);

        a.Send(b, "x", new BytesValue { Value = Google.Protobuf.ByteString.CopyFrom(bytes) });
        var received = await b.ReceiveAsync();

        Assert.True(((BytesValue)received.Message).Value.Span.SequenceEqual(bytes));
    }
}
