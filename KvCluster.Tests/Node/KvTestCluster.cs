using KvCluster.Tests.Persistence;
using Akka.Actor;
using KvCluster.Client;
using KvCluster.Node.Hosting;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Tests.Node;

/// <summary>
/// Real AkkaKv nodes in this process: each its own Akka.NET actor system (Akka.Hosting) on a loopback port over
/// Akka.Remote TCP, Akka.Persistence.Sql on SQLite with fsync, serialize-messages on.
/// </summary>
internal sealed class KvTestCluster : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _data = new();
    private readonly ILoggerFactory _loggers;

    private KvTestCluster(int size, ILoggerFactory? loggers, bool pbm, bool clientPort)
    {
        // KV_TEST_LOGS=1 prints the nodes' logs (run with --logger "console;verbosity=detailed" to see them).
        _loggers = loggers ?? (Environment.GetEnvironmentVariable("KV_TEST_LOGS") == "1"
            ? LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information))
            : NullLoggerFactory.Instance);
        var ports = NodeTestSupport.FreePorts(size * 3);
        var pbmPorts = ports[size..(2 * size)];
        var clientPorts = ports[(2 * size)..];
        ports = ports[..size];
        var peers = string.Join(",", ports.Select((p, i) => $"{i + 1}=127.0.0.1:{p}"));
        Options = ports.Select((port, i) => new NodeOptions
        {
            Id = (ulong)(i + 1),
            Port = port,
            DataDir = Path.Combine(_data.Path, $"n{i + 1}"),
            Peers = size == 1 ? string.Empty : peers,
            PbmPort = pbm ? pbmPorts[i] : 0,
            ClientPort = clientPort ? clientPorts[i] : 0,
            TickMs = 20,
            ElectionTicksMin = 10,
            ElectionTicksMax = 20,
            ShutdownTimeoutMs = 2000,
        }).ToArray();
        Nodes = new KvNode?[size];
    }

    public NodeOptions[] Options { get; private set; }

    public KvNode?[] Nodes { get; private set; }

    public IEnumerable<KvEndpoint> Endpoints => Options.Select(o => o.Endpoint);

    /// <summary>Hooks with the membership follower idle (an hour between rounds), for specs of manual membership changes.</summary>
    public static KvNodeHooks ManualMembership { get; } = NodeTestSupport.Hooks with
    {
        MembershipFollower = new KvCluster.Node.Membership.RaftMembershipFollowerSettings { Interval = TimeSpan.FromHours(1) },
    };

    public static async Task<KvTestCluster> StartAsync(int size = 3, ILoggerFactory? loggers = null, bool pbm = false, KvNodeHooks? hooks = null, Func<NodeOptions, NodeOptions>? tune = null, bool clientPort = false)
    {
        var cluster = new KvTestCluster(size, loggers, pbm, clientPort) { Hooks = hooks ?? NodeTestSupport.Hooks };
        if (tune is not null)
        {
            cluster.Options = [.. cluster.Options.Select(tune)];
        }

        try
        {
            for (var i = 0; i < size; i++)
            {
                await cluster.StartNodeAsync(i);
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>Configures <paramref name="size"/> nodes of one static group without starting any (start them with <see cref="StartNodeAsync"/>).</summary>
    public static KvTestCluster Configure(int size = 3, KvNodeHooks? hooks = null) => new(size, null, pbm: false, clientPort: false) { Hooks = hooks ?? NodeTestSupport.Hooks };

    /// <summary>Starts one more node with --join (not a member until raft add-member); returns its index.</summary>
    public async Task<int> StartJoinerAsync()
    {
        var ports = NodeTestSupport.FreePorts(3);
        var index = Options.Length;
        var id = (ulong)(index + 1);
        var peers = string.Join(",", Options.Select(o => $"{o.Id}=127.0.0.1:{o.Port}").Append($"{id}=127.0.0.1:{ports[0]}"));
        var options = Options[0] with
        {
            Id = id,
            Port = ports[0],
            PbmPort = Options[0].PbmPort == 0 ? 0 : ports[1],
            ClientPort = Options[0].ClientPort == 0 ? 0 : ports[2],
            DataDir = Path.Combine(_data.Path, $"n{id}"),
            Peers = peers,
            Join = true,
        };
        Options = [.. Options, options];
        Nodes = [.. Nodes, null];
        await StartNodeAsync(index);
        return index;
    }

    public KvNodeHooks Hooks { get; set; } = NodeTestSupport.Hooks;

    public async Task StartNodeAsync(int index) => Nodes[index] = await KvNode.StartAsync(Options[index], _loggers, Hooks);

    public async Task StopNodeAsync(int index)
    {
        await Nodes[index]!.StopAsync();
        Nodes[index] = null;
    }

    /// <summary>Stops a node as a crash would: connections drop, nothing is drained.</summary>
    public async Task KillNodeAsync(int index)
    {
        await Nodes[index]!.AbortAsync();
        Nodes[index] = null;
    }

    public Task<KvClient> ClientAsync(params int[] indexes) => ClientAsync(null, indexes);

    public Task<KvClient> ClientAsync(string? clientHocon, params int[] indexes) => ClientAsync(TimeSpan.FromSeconds(10), clientHocon, indexes);

    public Task<KvClient> ClientAsync(TimeSpan requestTimeout, string? clientHocon, params int[] indexes) => KvClient.ConnectAsync(new KvClientOptions
    {
        Endpoints = (indexes.Length == 0 ? Enumerable.Range(0, Options.Length) : indexes).Select(i => Options[i].Endpoint).ToArray(),
        RequestTimeout = requestTimeout,
        AkkaConfig = NodeTestSupport.TestHocon + "\n" + clientHocon,
    });

    /// <summary>Connects to one node once it serves clients (a restarted node may need a while to become a cluster member).</summary>
    public async Task<KvClient> ConnectWhenServingAsync(int index)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try
            {
                return await ClientAsync(index);
            }
            catch (KvUnavailableException) when (DateTime.UtcNow < deadline)
            {
                // Not a cluster member yet: Akka's receptionist serves members only.
            }
        }
    }

    /// <summary>Waits until the running nodes agree on one leader; returns its index.</summary>
    public async Task<int> AwaitLeaderAsync()
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var running = Nodes.Where(n => n is not null).Select(n => n!).ToArray();
            var statuses = await Task.WhenAll(running.Select(n => n.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, Wait)));
            var leaders = statuses.Where(s => s.Role == RaftRole.Leader).ToArray();
            if (leaders.Length == 1 && statuses.All(s => s.Leader == leaders[0].NodeId && s.Term == leaders[0].Term))
            {
                return (int)leaders[0].NodeId - 1;
            }

            Assert.True(DateTime.UtcNow < deadline, "no leader: " + string.Join("; ", statuses.Select(s => $"{s.NodeId}:{s.Role}/t{s.Term}")));
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes.Where(n => n is not null))
        {
            await node!.StopAsync();
        }

        _data.Dispose();
    }
}
