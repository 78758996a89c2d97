using ThrottleDirection = Akka.Remote.Transport.ThrottleTransportAdapter.Direction;
using KvCluster.Testing.MultiNode;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>One-way partitions and a flapping link on a three-node KV cluster over TCP with SQLite journals (real time).</summary>
[Trait("Category", "Integration")]
[Collection(KvClusterCollection.Name)]
public sealed class KvAsymmetricPartitionSpecs : KvClusterSpecBase
{
    [Fact]
    public async Task OneWayPartition_LeaderCannotSend_FollowersElectNewLeaderAndOldLeaderStepsDown()
    {
        var (config, roles) = Cluster(3);
        await using var spec = await StartAsync(config);
        RoleName oldLeader = default;
        ulong oldLeaderId = 0;
        long oldTerm = 0;

        await spec.RunAsync(async node =>
        {
            await node.RunOnAsync(async () =>
            {
                var (leader, status) = await KvClusterChecks.AwaitLeaderAsync(spec);
                (oldLeader, oldLeaderId, oldTerm) = (leader, status.NodeId, status.Term);
                foreach (var other in roles.Where(r => r != leader))
                {
                    spec.Conductor.Blackhole(leader, other, ThrottleDirection.Send);
                }
            }, roles[0]);
            await node.EnterBarrierAsync("leader-muted");

            var others = roles.Where(r => r != oldLeader).ToArray();
            await WorkloadAsync(Client(spec, node.Myself), "muted", KvPartitionSpecs.Index(spec, node.Myself), 5, default, others);
            await node.EnterBarrierAsync("written");

            await node.RunOnAsync(async () =>
            {
                // The old leader still hears the new leader, so it learns the higher term while it cannot answer (Raft §5.1).
                await KvClusterChecks.AwaitStatusAsync(spec, oldLeader,
                    s => s.Role != RaftRole.Leader && s.Term > oldTerm && s.Leader != oldLeaderId,
                    "the muted leader steps down to a higher term");
                spec.Conductor.HealAll();
            }, roles[0]);
            await node.EnterBarrierAsync("healed");
        });

        var (newLeader, _) = await KvClusterChecks.AwaitLeaderAsync(spec);
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
        var acknowledged = await KvClusterChecks.AssertUniqueWritesIntactAsync(Client(spec, roles[0]), Recorder.ToHistory(), UniquePrefix);
        Assert.True(acknowledged > 0, "no write was acknowledged while the old leader was muted");
        Assert.NotEqual(default, newLeader);
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(OneWayPartition_LeaderCannotSend_FollowersElectNewLeaderAndOldLeaderStepsDown));
    }

    [Fact]
    public async Task OneWayPartition_FollowerCannotHearLeader_OnlyPreVotesAndCatchesUpAfterHeal()
    {
        var (config, roles) = Cluster(3);

        // The other follower refuses the pre-vote only while its leader lease (the minimum election timeout) holds:
        // a longer timeout keeps a scheduling stall on a loaded machine from looking like a dead leader.
        config.CommonConfig(RaftKvNodeFactory.ElectionMinTicks, "20").CommonConfig(RaftKvNodeFactory.ElectionMaxTicks, "40");
        await using var spec = await StartAsync(config);
        RoleName deaf = default;
        long deafTerm = 0;

        await spec.RunAsync(async node =>
        {
            await node.RunOnAsync(async () =>
            {
                var (leader, _) = await KvClusterChecks.AwaitLeaderAsync(spec);
                deaf = roles.First(r => r != leader);
                spec.Conductor.Blackhole(leader, deaf, ThrottleDirection.Send);
                deafTerm = (await spec.Node(deaf).StatusAsync(KvClusterChecks.StatusTimeout))!.Term;
            }, roles[0]);
            await node.EnterBarrierAsync("follower-deaf");

            await WorkloadAsync(Client(spec, node.Myself), "deaf", KvPartitionSpecs.Index(spec, node.Myself), 5);
            await node.EnterBarrierAsync("written");

            await node.RunOnAsync(async () =>
            {
                // Thesis §9.6 / §4.2.3: the deaf follower times out, but the other follower still hears the leader and
                // refuses its pre-vote, so it never raises its term.
                var campaigning = await KvClusterChecks.AwaitStatusAsync(spec, deaf, s => s.Role != RaftRole.Follower, "the deaf follower campaigns");
                Assert.Equal(RaftRole.PreCandidate, campaigning.Role);
                Assert.Equal(deafTerm, campaigning.Term);
                spec.Conductor.HealAll();
            }, roles[0]);
            await node.EnterBarrierAsync("healed");
        });

        await KvClusterChecks.AwaitLeaderAsync(spec);
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
        await KvClusterChecks.AssertUniqueWritesIntactAsync(Client(spec, roles[0]), Recorder.ToHistory(), UniquePrefix);
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(OneWayPartition_FollowerCannotHearLeader_OnlyPreVotesAndCatchesUpAfterHeal));
    }

    [Fact]
    public async Task FlappingLink_LeaderToFollowerCutAndHealedRepeatedly_NoAcknowledgedWriteLostAndHistoryLinearizable()
    {
        var (config, roles) = Cluster(3);
        await using var spec = await StartAsync(config);
        var seed = Environment.TickCount;
        using var flapping = new CancellationTokenSource();

        await spec.RunAsync(async node =>
        {
            await node.EnterBarrierAsync("started");
            if (node.IsNode(roles[0]))
            {
                var (leader, _) = await KvClusterChecks.AwaitLeaderAsync(spec);
                var follower = roles.First(r => r != leader);
                var random = new Random(seed);
                for (var flap = 0; flap < 12; flap++)
                {
                    var direction = (ThrottleDirection)random.Next(3); // Send, Receive or Both, from the leader's side
                    spec.Conductor.Blackhole(leader, follower, direction);
                    await Task.Delay(random.Next(50, 350));
                    spec.Conductor.PassThrough(leader, follower, ThrottleDirection.Both);
                    await Task.Delay(random.Next(50, 350));
                }

                await flapping.CancelAsync();
            }
            else
            {
                await WorkloadAsync(Client(spec, node.Myself), "flap", KvPartitionSpecs.Index(spec, node.Myself), 200, flapping.Token);
            }

            await node.EnterBarrierAsync("flapped");
        });

        Assert.False(spec.Conductor.IsFaulty(roles[0], roles[1]) || spec.Conductor.IsFaulty(roles[1], roles[0]), $"seed {seed}");
        await KvClusterChecks.AwaitLeaderAsync(spec);
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
        var acknowledged = await KvClusterChecks.AssertUniqueWritesIntactAsync(Client(spec, roles[0]), Recorder.ToHistory(), UniquePrefix);
        Assert.True(acknowledged > 0, $"no write was acknowledged while the link flapped (seed {seed})");
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), $"{nameof(FlappingLink_LeaderToFollowerCutAndHealedRepeatedly_NoAcknowledgedWriteLostAndHistoryLinearizable)}-seed{seed}");
    }
}
