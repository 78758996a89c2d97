using System.Buffers.Binary;
using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors.Remote.Protocol;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Tests.Remote;

[Trait("Category", "Integration")]
public sealed class RemoteTransportBadInputTests
{
    private static async Task AssertMessagingStillWorksAsync(RemoteTestNode from, RemoteTestNode to, string text)
    {
        from.Send(to, "probe", new StringValue { Value = text });
        var received = await to.ReceiveAsync();
        Assert.Equal(text, ((StringValue)received.Message).Value);
    }

    [Fact]
    public async Task GarbageBytes_OnRemotingPort_ClosesThatConnectionAndCountsIt()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        using var raw = await RawPeer.ConnectAsync(b.Address);

        await raw.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());

        Assert.True(await raw.WaitForCloseAsync());
        await RemoteTestNode.WaitUntilAsync(() => b.Transport.Counters.MalformedFrames + b.Transport.Counters.OversizedFrames == 1, "the garbage was counted");
        Assert.True(b.Logs.Contains("closing inbound connection"));
        await AssertMessagingStillWorksAsync(a, b, "after garbage");
    }

    [Fact]
    public async Task FrameClaimingTwoGigabytes_ClosesConnectionAsOversized()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        using var raw = await RawPeer.ConnectAsync(b.Address);
        var header = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(header, 2_000_000_000u);
        header[4] = (byte)FrameKind.Envelope;

        await raw.SendAsync(RawPeer.HandshakeFrame(b.Address));
        await raw.ReadFrameAsync();
        await raw.SendAsync(header);

        Assert.True(await raw.WaitForCloseAsync());
        await RemoteTestNode.WaitUntilAsync(() => b.Transport.Counters.OversizedFrames == 1, "the oversized frame was counted");
        Assert.True(b.Logs.Contains("2000000000 bytes", "MaxFrameSize"));
        await AssertMessagingStillWorksAsync(a, b, "after 2 GB claim");
    }

    [Fact]
    public async Task SilentClient_AfterHandshakeTimeout_IsClosedAndCounted()
    {
        await using var b = await RemoteTestNode.StartAsync("b", s => s with { HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        using var raw = await RawPeer.ConnectAsync(b.Address);

        var closed = await raw.WaitForCloseAsync();

        Assert.True(closed);
        Assert.Equal(1, b.Transport.Counters.HandshakeTimeouts);
        Assert.True(b.Logs.Contains("no handshake within"));
    }

    [Fact]
    public async Task HalfOpenPeer_SilentAfterHandshake_IsClosedByIdleTimeout()
    {
        await using var b = await RemoteTestNode.StartAsync("b", s => s with { IdleTimeout = TimeSpan.FromMilliseconds(500) });
        using var raw = await RawPeer.ConnectAsync(b.Address);

        await raw.SendAsync(RawPeer.HandshakeFrame(b.Address));
        var (kind, body) = await raw.ReadFrameAsync();
        var closed = await raw.WaitForCloseAsync();

        Assert.Equal(FrameKind.HandshakeAck, kind);
        Assert.True(HandshakeAck.Parser.ParseFrom(body).Accepted);
        Assert.True(closed);
        Assert.Equal(1, b.Transport.Counters.IdleTimeouts);
    }

    [Fact]
    public async Task Handshake_ExpectingAnotherSystemName_IsRefusedWithBothSidesNamed()
    {
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b");
        var wrong = b.Address with { System = "not-b" };

        a.Transport.Send(wrong, $"{wrong}/user/x", null, new Int64Value { Value = 1 });

        await RemoteTestNode.WaitUntilAsync(() => b.Transport.Counters.HandshakesRejected >= 1 && a.Transport.Counters.HandshakesRejected >= 1, "both sides counted the refusal");
        Assert.True(b.Logs.Contains("refused handshake from " + a.Address, "expected system 'not-b' but this is 'b'"));
        Assert.True(a.Logs.Contains("handshake with " + wrong, "refused us"));
        Assert.False(b.TryReceive(out _));
    }

    [Fact]
    public async Task Handshake_FromAnotherCluster_IsRefused()
    {
        await using var a = await RemoteTestNode.StartAsync("a", s => s with { ClusterName = "staging" });
        await using var b = await RemoteTestNode.StartAsync("b");

        a.Send(b, "x", new Int64Value { Value = 1 });

        await RemoteTestNode.WaitUntilAsync(() => b.Transport.Counters.HandshakesRejected >= 1, "b refused a");
        Assert.True(b.Logs.Contains("cluster 'staging' is not ours ('akkakv')"));
        Assert.False(b.TryReceive(out _));
    }

    [Fact]
    public async Task Handshake_WithOtherProtocolVersion_IsRefused()
    {
        await using var b = await RemoteTestNode.StartAsync("b");
        using var raw = await RawPeer.ConnectAsync(b.Address);
        var hello = RawPeer.Control(FrameKind.Handshake, new Handshake
        {
            ProtocolVersion = 99, ClusterName = "akkakv", SystemName = "old", Host = "127.0.0.1", Port = 9, Uid = 5, ExpectedSystemName = "b",
        });

        await raw.SendAsync(hello);
        var (kind, body) = await raw.ReadFrameAsync();

        Assert.Equal(FrameKind.HandshakeAck, kind);
        var ack = HandshakeAck.Parser.ParseFrom(body);
        Assert.False(ack.Accepted);
        Assert.Contains("protocol version 99", ack.Reason);
        Assert.True(await raw.WaitForCloseAsync());
    }

    [Fact]
    public async Task PeerThatNeverReads_HitsWriteTimeoutAndQueueOverflowWithoutUnboundedMemory()
    {
        await using var a = await RemoteTestNode.StartAsync("a", s => s with
        {
            OutboundQueueCapacity = 64,
            WriteTimeout = TimeSpan.FromMilliseconds(500),
            IdleTimeout = TimeSpan.FromSeconds(30),
        });
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var sink = new RemoteAddress("sink", "127.0.0.1", ((System.Net.IPEndPoint)listener.LocalEndpoint).Port);
        var accept = AcceptAndStallAsync(listener, sink);
        var big = new BytesValue { Value = Google.Protobuf.ByteString.CopyFrom(new byte[256 * 1024]) };

        a.Transport.Send(sink, $"{sink}/user/x", null, big);
        using var stalled = await accept;
        var deadline = DateTime.UtcNow + RemoteTestNode.WaitTimeout;
        while ((a.Transport.Counters.WriteTimeouts == 0 || a.Transport.Counters.QueueOverflows == 0) && DateTime.UtcNow < deadline)
        {
            a.Transport.Send(sink, $"{sink}/user/x", null, big);
            await Task.Delay(5);
        }

        Assert.True(a.Transport.Counters.WriteTimeouts >= 1, a.Transport.Counters.ToString());
        Assert.True(a.Transport.Counters.QueueOverflows >= 1, a.Transport.Counters.ToString());
        Assert.True(a.Logs.Contains("stopped reading"));
    }

    /// <summary>Accepts one connection, answers its handshake, then never reads again.</summary>
    private static async Task<System.Net.Sockets.Socket> AcceptAndStallAsync(System.Net.Sockets.TcpListener listener, RemoteAddress self)
    {
        var socket = await listener.AcceptSocketAsync();
        socket.ReceiveBufferSize = 4096;
        var header = new byte[5];
        await socket.ReceiveAsync(header.AsMemory(0, 5));
        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(header) - 1];
        var read = 0;
        while (read < body.Length)
        {
            read += await socket.ReceiveAsync(body.AsMemory(read));
        }

        var hello = Handshake.Parser.ParseFrom(body);
        await socket.SendAsync(RawPeer.Control(FrameKind.HandshakeAck, new HandshakeAck
        {
            Accepted = true, SystemName = self.System, Host = self.Host, Port = self.Port, Uid = 77,
            ProtocolVersion = RemoteSettings.ProtocolVersion, ClusterName = hello.ClusterName,
        }));
        return socket;
    }

    [Fact]
    public async Task SeededRandomBytes_ThrownAtPort_NeverBreakNormalMessaging()
    {
        const int seed = 20261122;
        await using var a = await RemoteTestNode.StartAsync("a");
        await using var b = await RemoteTestNode.StartAsync("b", s => s with { HandshakeTimeout = TimeSpan.FromMilliseconds(500), IdleTimeout = TimeSpan.FromMilliseconds(500) });
        var random = new Random(seed);

        var attacks = new List<Task>();
        for (var i = 0; i < 40; i++)
        {
            var junk = new byte[random.Next(1, 2048)];
            random.NextBytes(junk);
            var afterHandshake = i % 2 == 0;
            if (i % 4 == 0)
            {
                BinaryPrimitives.WriteUInt32BigEndian(junk, (uint)random.Next(1, junk.Length + 8));
                junk[Math.Min(4, junk.Length - 1)] = (byte)FrameKind.Envelope;
            }

            attacks.Add(AttackAsync(b.Address, junk, afterHandshake, i));
        }

        await Task.WhenAll(attacks);

        Assert.True(b.Transport.Counters.ConnectionsAccepted >= 40, $"seed {seed}: {b.Transport.Counters}");
        await AssertMessagingStillWorksAsync(a, b, $"after fuzz with seed {seed}");
        await AssertMessagingStillWorksAsync(b, a, $"reverse after fuzz with seed {seed}");
    }

    private static async Task AttackAsync(RemoteAddress target, byte[] junk, bool afterHandshake, int index)
    {
        using var raw = await RawPeer.ConnectAsync(target);
        if (afterHandshake)
        {
            await raw.SendAsync(RawPeer.HandshakeFrame(target, system: $"fuzz{index}", port: 10_000 + index, uid: (ulong)index + 1));
        }

        await raw.SendAsync(junk);
        Assert.True(await raw.WaitForCloseAsync(), $"attack {index} ({junk.Length} bytes, after handshake: {afterHandshake}) left the connection open");
    }
}
