using Akka.Actor;
using Akka.Configuration;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Raft.Serialization;

namespace KvCluster.Tests.RaftActor;

/// <summary>Three RaftActors in three actor systems talking protobuf Raft messages over Akka.Remote on loopback TCP (real time).</summary>
[Trait("Category", "Integration")]
public sealed class RaftActorRemoteTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>A remoting system on 127.0.0.1 with a free port, the Raft serializer bound and every message checked.</summary>
    internal static ActorSystem CreateRemoteSystem() => ActorSystem.Create("akkakv", ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.actor.provider = remote
            akka.actor.serialize-messages = on
            akka.actor.serialize-creators = off
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.remote.dot-netty.tcp.port = 0
            akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
            """).WithFallback(RaftWireSerializer.Config));

    [Fact]
    public async Task RemoteCluster_ThreeSystemsOverTcp_ElectsLeaderAndReplicatesCommandsToEveryNode()
    {
        var ids = new ulong[] { 1, 2, 3 };
        var systems = new Dictionary<ulong, ActorSystem>();
        var machines = new Dictionary<ulong, RecordingStateMachine>();
        try
        {
            foreach (var id in ids)
            {
                systems[id] = CreateRemoteSystem();
            }

            var nodes = new Dictionary<ulong, IActorRef>();
            foreach (var id in ids)
            {
                var system = (ExtendedActorSystem)systems[id];
                var peers = ids.Where(p => p != id).ToDictionary(
                    p => p,
                    p => system.Provider.ResolveActorRef(new RootActorPath(((ExtendedActorSystem)systems[p]).Provider.DefaultAddress) / "user" / "raft"));
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
                // Asked from another system, so the request and its answer cross the network too.
                var client = systems[ids.First(i => i != leader)];
                var leaderAddress = ((ExtendedActorSystem)systems[leader]).Provider.DefaultAddress;
                var remoteLeader = ((ExtendedActorSystem)client).Provider.ResolveActorRef(new RootActorPath(leaderAddress) / "user" / "raft");
                var reply = await remoteLeader.Ask<ProposeApplied>(RaftActorCluster.Command(command), Wait);
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
            await Task.WhenAll(systems.Values.Select(s => s.Terminate()));
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
