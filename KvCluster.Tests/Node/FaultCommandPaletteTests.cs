using KvCluster.Tests.Persistence;
using Akka.Actor;
using KvCluster.Client;
using KvCluster.Client.Protocol;
using KvCluster.Node.Hosting;
using KvCluster.Pbm;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Tests.Node;

/// <summary>
/// The node's <c>fault</c> pbm palette on two real nodes (each its own one-node group) over Akka.Remote's throttler
/// (<c>--fault-injection true</c>): a black hole cuts the link, heal restores it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FaultCommandPaletteTests : IAsyncLifetime
{
    private static readonly TimeSpan s_ask = TimeSpan.FromSeconds(1);

    private readonly TempDirectory _data = new();
    private KvNode? _a;
    private KvNode? _b;

    private KvNode A => _a!;

    private KvNode B => _b!;

    private string Peer => B.Endpoint.ToString();

    public async Task InitializeAsync()
    {
        var ports = NodeTestSupport.FreePorts(4);
        _a = await KvNode.StartAsync(Options(1, ports[0], ports[1]), NullLoggerFactory.Instance, NodeTestSupport.Hooks);
        _b = await KvNode.StartAsync(Options(2, ports[2], ports[3]), NullLoggerFactory.Instance, NodeTestSupport.Hooks);
    }

    public async Task DisposeAsync()
    {
        foreach (var node in new[] { _a, _b })
        {
            if (node is not null)
            {
                await node.StopAsync();
            }
        }

        _data.Dispose();
    }

    [Fact]
    public async Task Blackhole_Both_CutsTheLinkAndIsListedByStatus_HealRestoresIt()
    {
        Assert.True(await ReachesAsync(), "the nodes do not reach each other before any fault");

        var reply = await RunAsync($"fault blackhole {Peer}");

        Assert.True(reply.Status == CommandStatus.Ok, reply.Body);
        Assert.False(await ReachesOnceAsync(), "a black-holed peer answered");
        Assert.Contains($"{Peer} | blackhole | both", (await RunAsync("fault status")).Body);

        var healed = await RunAsync($"fault heal {Peer}");

        Assert.True(healed.Status == CommandStatus.Ok, healed.Body);
        Assert.True(await ReachesAsync(), "the link did not come back after heal");
        Assert.Contains("no faults on node 1", (await RunAsync("fault status")).Body);
    }

    [Fact]
    public async Task Blackhole_OutOnly_DropsWhatThisNodeSends()
    {
        Assert.True(await ReachesAsync());

        var reply = await RunAsync($"fault blackhole akka.trttl.tcp://{A.Options.SystemName}@{Peer} out");

        Assert.True(reply.Status == CommandStatus.Ok, reply.Body);
        Assert.False(await ReachesOnceAsync());
        Assert.Contains($"{Peer} | blackhole | out", (await RunAsync("fault status")).Body);
    }

    [Fact]
    public async Task Heal_NoPeer_RemovesEveryFault()
    {
        await RunAsync($"fault blackhole {Peer}");
        await RunAsync("fault blackhole 127.0.0.1:2 out");

        var reply = await RunAsync("fault heal");

        Assert.Equal(CommandStatus.Ok, reply.Status);
        Assert.Contains("2 fault(s) removed", reply.Body);
        Assert.Contains("no faults on node 1", (await RunAsync("fault status")).Body);
        Assert.True(await ReachesAsync());
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
        var reply = await RunAsync($"fault blackhole {A.Endpoint}");

        Assert.Equal(CommandStatus.Usage, reply.Status);
        Assert.Contains("own endpoint", reply.Body);
    }

    [Fact]
    public async Task Blackhole_WithoutFaultInjection_FailsSayingHowToTurnItOn()
    {
        using var data = new TempDirectory();
        var ports = NodeTestSupport.FreePorts(2);
        await using var plain = await KvNode.StartAsync(
            Options(3, ports[0], ports[1]) with { DataDir = data.Path, FaultInjection = false },
            NullLoggerFactory.Instance,
            NodeTestSupport.Hooks);

        var reply = await plain.Commands!.ExecuteAsync($"fault blackhole {Peer}");

        Assert.Equal(CommandStatus.Failed, reply.Status);
        Assert.Contains("--fault-injection true", reply.Body);
    }

    private NodeOptions Options(ulong id, int port, int pbmPort) => new()
    {
        Id = id,
        Port = port,
        PbmPort = pbmPort,
        ClientPort = 0,
        DataDir = Path.Combine(_data.Path, $"n{id}"),
        FaultInjection = true,
        ShutdownTimeoutMs = 2000,
        TickMs = 20,
    };

    private Task<CommandResponse> RunAsync(string line) => A.Commands!.ExecuteAsync(line);

    /// <summary>True once B's router answers A within a few seconds (an association may need a moment).</summary>
    private async Task<bool> ReachesAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (await ReachesOnceAsync())
            {
                return true;
            }
        }

        return false;
    }

    private async Task<bool> ReachesOnceAsync()
    {
        try
        {
            var contacts = await A.Resolve(B.Endpoint, KvWireTypes.RouterPath).Ask<Contacts>(new GetContacts(), s_ask);
            return contacts.NodeId == B.NodeId;
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }
}
