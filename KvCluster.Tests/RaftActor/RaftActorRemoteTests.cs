using KvCluster.Actors;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.InMemory;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Tests.Remote;

namespace KvCluster.Tests.RaftActor;

/// <summary>Three RaftActors in three actor systems talking protobuf Raft messages over loopback TCP (real time).</summary>
[Trait("Category", "Integration")]
public sealed class RaftActorRemoteTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RemoteCluster_ThreeSystemsOverTcp_ElectsLeaderAndReplicatesCommandsToEveryNode()
    {
        var ids = new ulong[] { 1, 2, 3 };
        var systems = new Dictionary<ulong, ActorSystem>();
        var machines = new Dictionary<ulong, RecordingStateMachine>();
        var store = new InMemoryStore();
        try
        {
            foreach (var id in ids)
            {
                var registry = RemoteTestNode.NewRegistry();
                KvCluster.Raft.Actor.RaftActor.RegisterWireTypes(registry);
                systems[id] = await RemoteActorSystem.CreateAsync(RemoteTestNode.FastSettings($"node{id}"), registry: registry);
                KvCluster.Actors.Persistence.Persistence.Configure(systems[id], RaftActorCluster.InMemoryPersistence(store));
            }

            var nodes = new Dictionary<ulong, IActorRef>();
            foreach (var id in ids)
            {
                var system = systems[id];
                var peers = ids.Where(p => p != id).ToDictionary(p => p, p => (IActorRef)system.Provider.ResolveActorRef(systems[p].PathOf("raft")));
                var machine = machines[id] = new RecordingStateMachine();
                var settings = new RaftActorSettings
                {
                    Raft = new RaftConfig { NodeId = id, Voters = ids, ElectionTimeoutMinTicks = 10, ElectionTimeoutMaxTicks = 20 },
                    StateMachineFactory = () => machine,
                    TickInterval = TimeSpan.FromMilliseconds(20),
                };
                nodes[id] = system.ActorOf(KvCluster.Raft.Actor.RaftActor.Props(settings, peers), "raft");
            }

            var leader = await AwaitLeaderAsync(nodes);
            var commands = new[] { "x=1", "y=2", "z=3" };
            foreach (var command in commands)
            {
                var reply = await nodes[leader].Ask<ProposeApplied>(RaftActorCluster.Command(command), Wait);
                Assert.StartsWith($"ok:{command}@", RaftActorCluster.Text(reply.Result));
            }

            var deadline = DateTime.UtcNow + Wait;
            while (!ids.All(id => machines[id].Commands.SequenceEqual(commands)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            Assert.All(ids, id => Assert.Equal(commands, machines[id].Commands));
        }
        finally
        {
            await Task.WhenAll(systems.Values.Select(RemoteActorSystem.TerminateAsync));
        }
    }

    private static async Task<ulong> AwaitLeaderAsync(Dictionary<ulong, IActorRef> nodes)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var statuses = await Task.WhenAll(nodes.Values.Select(n => n.Ask<RaftStatus>(GetRaftStatus.Instance, Wait)));
            var leaders = statuses.Where(s => s.Role == RaftRole.Leader).ToArray();
            if (leaders.Length == 1 && statuses.All(s => s.Leader == leaders[0].NodeId && s.Term == leaders[0].Term))
            {
                return leaders[0].NodeId;
            }

            Assert.True(DateTime.UtcNow < deadline, "no leader elected over TCP: " + string.Join("; ", statuses.Select(s => $"{s.NodeId}:{s.Role}/t{s.Term}")));
            await Task.Delay(20);
        }
    }
}
