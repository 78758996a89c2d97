using Akka.Actor;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// The leader keeps leading while an InstallSnapshot transfer is in flight (issue 17: "never blocking the leader's
/// heartbeats or other followers"): chunks are sent from the envelope in memory between the RaftActor's other work, so
/// heartbeats reach the receiving follower and proposals commit with the other follower. Virtual time, in-memory journal.
/// </summary>
public sealed class RaftActorTransferSpecs : RaftActorTestKit
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    [Fact]
    public void TransferInFlight_LeaderKeepsHeartbeatingTheReceiver_AndCommitsProposals()
    {
        var cluster = new RaftActorCluster(
            this, 3, network: Props.Create(() => new StallingNetwork()), configureActor: RaftActorSnapshotSpecs.Snapshots(every: 8, margin: 0, chunk: 1024));
        cluster.Stop(3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5, among: [1, 2]).NodeId;
        var before = RaftActorSnapshotSpecs.Commands(40, padding: 200);
        RaftActorSnapshotSpecs.Commit(this, cluster, leader, before);
        AwaitAssert(() => Assert.True(cluster.Status(leader).FirstLogIndex > 2), s_wait);

        // Node 3 comes back behind the compacted log; its chunk acknowledgements are lost, so the transfer stays in flight.
        cluster.Network.Tell(StallingNetwork.Stall.Instance);
        cluster.Start(3);
        for (var i = 0; i < 50 && Stats(cluster).ChunksTo3 == 0; i++)
        {
            cluster.Tick(1);
        }

        Assert.True(Stats(cluster).ChunksTo3 > 0, "the leader never started sending its snapshot to node 3");
        var term = cluster.Status(leader).Term;
        var atStart = Stats(cluster);

        // Three election timeouts with the transfer in flight: proposals commit, node 3 hears the leader and stays a follower.
        var during = RaftActorSnapshotSpecs.Commands(6, prefix: "during");
        for (var i = 0; i < 3 * RaftActorCluster.MaxTimeout; i++)
        {
            cluster.Tick(1);
            if (i % 10 == 0)
            {
                RaftActorSnapshotSpecs.Commit(this, cluster, leader, [during[i / 10]]);
            }
        }

        var stalled = Stats(cluster);
        var receiver = cluster.Status(3);
        Assert.True(stalled.AcksDropped > 0, "no acknowledgement was held back: the transfer was not in flight");
        Assert.True(stalled.HeartbeatsTo3 - atStart.HeartbeatsTo3 >= 3 * RaftActorCluster.MaxTimeout / RaftActorCluster.MinTimeout,
            $"only {stalled.HeartbeatsTo3 - atStart.HeartbeatsTo3} heartbeats reached node 3 in {3 * RaftActorCluster.MaxTimeout} ticks of transfer");
        Assert.Equal((RaftRole.Follower, term, leader), (receiver.Role, receiver.Term, receiver.Leader));
        Assert.Equal((RaftRole.Leader, term), (cluster.Status(leader).Role, cluster.Status(leader).Term));
        Assert.Empty(cluster.Machines[3].Restored); // the snapshot is still on its way

        // Acknowledgements flow again: node 3 installs the snapshot and then applies what was committed meanwhile.
        cluster.Network.Tell(StallingNetwork.Resume.Instance);
        var all = before.Concat(during).ToArray();
        for (var i = 0; i < 300 && !cluster.Machines[3].Commands.SequenceEqual(all); i++)
        {
            cluster.Tick(1);
        }

        Assert.Equal(all, cluster.Machines[3].Commands);
        Assert.Single(cluster.Machines[3].Restored);
    }

    [Fact]
    public void RestartedFollower_BehindTheCompactedLog_ReceivesTheSnapshotOnce()
    {
        var cluster = new RaftActorCluster(
            this, 3, network: Props.Create(() => new StallingNetwork()), configureActor: RaftActorSnapshotSpecs.Snapshots(every: 8, margin: 0, chunk: 1024));
        cluster.Stop(3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5, among: [1, 2]).NodeId;
        var commands = RaftActorSnapshotSpecs.Commands(40, padding: 200);
        RaftActorSnapshotSpecs.Commit(this, cluster, leader, commands);
        AwaitAssert(() => Assert.True(cluster.Status(leader).FirstLogIndex > 2), s_wait);
        var snapshot = cluster.Status(leader);

        // Node 3 comes back behind the compacted log. The leader hears that the whole snapshot arrived while node 3 is
        // still verifying it, and continues with an append after the snapshot: that append must not be refused (a refusal
        // sends the whole snapshot again).
        cluster.Start(3);
        for (var i = 0; i < 300 && !cluster.Machines[3].Commands.SequenceEqual(commands); i++)
        {
            cluster.Tick(1);
        }

        Assert.Equal(commands, cluster.Machines[3].Commands);
        Assert.Single(cluster.Machines[3].Restored);
        Assert.Equal(snapshot.SnapshotIndex, cluster.Status(leader).SnapshotIndex); // no newer snapshot was sent meanwhile
        Assert.Equal((snapshot.SnapshotBytes + 1023) / 1024, Stats(cluster).ChunksTo3);
    }

    private StallingNetwork.Stats Stats(RaftActorCluster cluster)
    {
        cluster.Network.Tell(StallingNetwork.GetStats.Instance, TestActor);
        return ExpectMsg<StallingNetwork.Stats>();
    }

    /// <summary>A <see cref="SimNetwork"/> that, while stalled, loses node 3's snapshot chunk acknowledgements; counts
    /// the chunks and heartbeats sent to node 3.</summary>
    private sealed class StallingNetwork : ReceiveActor
    {
        private readonly Dictionary<ulong, IActorRef> _nodes = new();
        private bool _stalled;
        private int _chunks;
        private int _heartbeats;
        private int _dropped;

        public StallingNetwork()
        {
            Receive<RegisterNode>(r => _nodes[r.Id] = r.Ref);
            Receive<Stall>(_ => _stalled = true);
            Receive<Resume>(_ => _stalled = false);
            Receive<GetStats>(_ => Sender.Tell(new Stats(_chunks, _heartbeats, _dropped)));
            Receive<RaftMessage>(m =>
            {
                switch (m)
                {
                    case SnapshotChunk { To: 3 }:
                        _chunks++;
                        break;
                    case Heartbeat { To: 3 }:
                        _heartbeats++;
                        break;
                    case SnapshotChunkAck { From: 3 } when _stalled:
                        _dropped++;
                        return;
                }

                if (_nodes.TryGetValue(m.To, out var target))
                {
                    target.Tell(m, Sender);
                }
            });
        }

        public sealed record Stall : INoSerializationVerificationNeeded
        {
            public static Stall Instance { get; } = new();
        }

        public sealed record Resume : INoSerializationVerificationNeeded
        {
            public static Resume Instance { get; } = new();
        }

        public sealed record GetStats : INoSerializationVerificationNeeded
        {
            public static GetStats Instance { get; } = new();
        }

        public sealed record Stats(int ChunksTo3, int HeartbeatsTo3, int AcksDropped) : INoSerializationVerificationNeeded;
    }
}
