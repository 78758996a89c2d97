using System.Net;
using System.Net.Sockets;
using KvCluster.Actors.Cmd;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.FailureInjection;
using KvCluster.Actors.Remote.Transport;
using KvCluster.Node.Hosting;
using KvCluster.Tests.Persistence;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Tests.Node;

/// <summary>The node's <c>fault</c> pbm palette, run in-process on a real single node (SQLite journal, TCP on loopback).</summary>
public sealed class FaultCommandPaletteTests : IAsyncLifetime
{
    private const string Peer = "127.0.0.1:1";

    private readonly TempDirectory _data = new();
    private KvNode? _node;

    private KvNode Node => _node!;

    private FailureInjector Injector => Node.System.GetExtension<RemoteExtension>()!.FailureInjector;

    private RemoteAddress PeerAddress => new(Node.Options.SystemName, "127.0.0.1", 1);

    public async Task InitializeAsync()
    {
        var ports = FreePorts(2);
        _node = await KvNode.StartAsync(
            new NodeOptions { Id = 1, Port = ports[0], PbmPort = ports[1], DataDir = _data.Path, Peers = string.Empty, ShutdownTimeoutMs = 2000 },
            NullLoggerFactory.Instance);
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.StopAsync();
        }

        _data.Dispose();
    }

    [Fact]
    public async Task Blackhole_Both_DropsFramesEachWayAndIsListedByStatus()
    {
        var reply = await RunAsync($"fault blackhole {Peer}");

        Assert.Equal(CommandStatus.Ok, reply.Status);
        Assert.True(Injector.ShouldDrop(PeerAddress, send: true));
        Assert.True(Injector.ShouldDrop(PeerAddress, send: false));
        var status = await RunAsync("fault status");
        Assert.Contains($"{Peer} | blackhole | both", status.Body);
    }

    [Theory]
    [InlineData("in", false, true)]
    [InlineData("out", true, false)]
    public async Task Blackhole_OneDirection_DropsOnlyThatDirection(string direction, bool dropsSent, bool dropsReceived)
    {
        var reply = await RunAsync($"fault blackhole {Peer} {direction}");

        Assert.Equal(CommandStatus.Ok, reply.Status);
        Assert.Equal(dropsSent, Injector.ShouldDrop(PeerAddress, send: true));
        Assert.Equal(dropsReceived, Injector.ShouldDrop(PeerAddress, send: false));
    }

    [Fact]
    public async Task Blackhole_DirectionChangedFromBothToIn_NoLongerDropsSentFrames()
    {
        await RunAsync($"fault blackhole {Peer} both");

        await RunAsync($"fault blackhole {Peer} in");

        Assert.False(Injector.ShouldDrop(PeerAddress, send: true));
        Assert.True(Injector.ShouldDrop(PeerAddress, send: false));
    }

    [Fact]
    public async Task Blackhole_KvUriForm_TargetsTheSamePeer()
    {
        var reply = await RunAsync($"fault blackhole kv://{Node.Options.SystemName}@{Peer}");

        Assert.Equal(CommandStatus.Ok, reply.Status);
        Assert.True(Injector.ShouldDrop(PeerAddress, send: true));
    }

    [Fact]
    public async Task Heal_OnePeer_RestoresThatLinkOnly()
    {
        var other = new RemoteAddress(Node.Options.SystemName, "127.0.0.1", 2);
        await RunAsync($"fault blackhole {Peer}");
        await RunAsync("fault blackhole 127.0.0.1:2");

        var reply = await RunAsync($"fault heal {Peer}");

        Assert.Equal(CommandStatus.Ok, reply.Status);
        Assert.False(Injector.ShouldDrop(PeerAddress, send: true));
        Assert.True(Injector.ShouldDrop(other, send: true));
        Assert.DoesNotContain($"{Peer} |", (await RunAsync("fault status")).Body);
    }

    [Fact]
    public async Task Heal_NoPeer_RemovesEveryFault()
    {
        await RunAsync($"fault blackhole {Peer}");
        await RunAsync("fault blackhole 127.0.0.1:2 out");

        var reply = await RunAsync("fault heal");

        Assert.Equal(CommandStatus.Ok, reply.Status);
        Assert.Contains("2 fault(s) removed", reply.Body);
        Assert.False(Injector.ShouldDrop(PeerAddress, send: false));
        Assert.Contains("no faults on node 1", (await RunAsync("fault status")).Body);
    }

    [Theory]
    [InlineData("fault blackhole 127.0.0.1:1 sideways", "sideways")]
    [InlineData("fault blackhole not-an-endpoint", "not-an-endpoint")]
    [InlineData("fault heal 127.0.0.1:notaport", "127.0.0.1:notaport")]
    public async Task Command_BadArgument_IsAUsageErrorNamingIt(string line, string named)
    {
        var reply = await RunAsync(line);

        Assert.Equal(CommandStatus.Usage, reply.Status);
        Assert.Contains(named, reply.Body);
        Assert.Contains("no faults", (await RunAsync("fault status")).Body);
    }

    [Fact]
    public async Task Blackhole_OwnEndpoint_IsRefused()
    {
        var reply = await RunAsync($"fault blackhole {Node.Endpoint}");

        Assert.Equal(CommandStatus.Usage, reply.Status);
        Assert.Contains("own endpoint", reply.Body);
    }

    private Task<CommandResponse> RunAsync(string line) => Node.Commands!.ExecuteAsync(line);

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var listener in listeners)
        {
            listener.Start();
        }

        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners)
        {
            listener.Stop();
        }

        return ports;
    }
}
