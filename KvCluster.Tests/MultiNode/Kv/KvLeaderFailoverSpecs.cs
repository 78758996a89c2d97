using KvCluster.Testing.Linearizability;
using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>Leader and follower crashes on three- and five-node KV clusters over TCP with SQLite journals (real time).</summary>
[Trait("Category", "Integration")]
[Collection(KvClusterCollection.Name)]
public sealed class KvLeaderFailoverSpecs : KvClusterSpecBase
{
    [Fact]
    public async Task LeaderCrash_DuringWrites_NewLeaderElectedAndEveryCommittedWriteIntact()
    {
       
        var (config, roles) = Cluster(3);
        await using var spec = await StartAsync(config);
       
        RoleName oldLeader = default;
        long oldTerm = 0;

        await spec.RunAsync(async node =>
        {
            var client = Client(spec, node.Myself);
            var id = spec.Members.First(m => m.Role == node.Myself).Index;
            await node.RunOnAsync(async () => (oldLeader, oldTerm) = Unpack(await KvClusterChecks.AwaitLeaderAsync(spec)), roles[0]);
            await node.EnterBarrierAsync("leader-elected");

            await WorkloadAsync(client, "before", id, 8);
            await node.EnterBarrierAsync("written-before");

            await node.RunOnAsync(() => spec.Conductor.CrashAsync(oldLeader), roles[0]);
            await WorkloadAsync(client, "during", id, 8); // starts while no leader is known
            await node.EnterBarrierAsync("written-during");

            await node.RunOnAsync(async () =>
            {
                var (newLeader, status) = await KvClusterChecks.AwaitLeaderAsync(spec, roles.Where(r => r != oldLeader));
                Assert.NotEqual(oldLeader, newLeader);
                Assert.True(status.Term > oldTerm, $"the new leader's term {status.Term} must exceed the old {oldTerm}"); // Raft §5.2

                await spec.Conductor.RestartAsync(oldLeader);
                await KvClusterChecks.AwaitStatusAsync(spec, oldLeader, s => s.Leader == status.NodeId || s.Term > status.Term, "the restarted old leader follows a leader");
            }, roles[0]);
            await node.EnterBarrierAsync("recovered");
        });

       
        var checker = Client(spec, roles[0]);
        await KvClusterChecks.AssertUniqueWritesIntactAsync(checker, Recorder.ToHistory(), UniquePrefix); // Raft §5.4 leader completeness
        Assert.Contains(Recorder.ToHistory().Operations, o => o.Input.Key.StartsWith($"{UniquePrefix}during", StringComparison.Ordinal) && o.Outcome == OperationOutcome.Ok);
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
       
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(LeaderCrash_DuringWrites_NewLeaderElectedAndEveryCommittedWriteIntact));
    }

    [Fact]
    public async Task LeaderAndFollowerCrash_FiveNodes_RemainingMajorityServesAndRestartedNodesCatchUp()
    {
        var (config, roles) = Cluster(5);
        await using var spec = await StartAsync(config);
        RoleName[] crashed = [];

        await spec.RunAsync(async node =>
        {
            var client = Client(spec, node.Myself);
            var id = KvPartitionSpecs.Index(spec, node.Myself);
            await node.RunOnAsync(async () =>
            {
                var (leader, _) = await KvClusterChecks.AwaitLeaderAsync(spec);
                crashed = [leader, roles.First(r => r != leader)];
            }, roles[0]);
            await node.EnterBarrierAsync("leader-elected");

            await WorkloadAsync(client, "five", id, 3);
            await node.EnterBarrierAsync("written-five");

            // Two of five down: the other three are still a majority (Raft §5.2), so the cluster keeps serving.
            await node.RunOnAsync(() => Task.WhenAll(crashed.Select(spec.Conductor.CrashAsync)), roles[0]);
            await node.EnterBarrierAsync("two-down");
            await WorkloadAsync(client, "three", id, 3);
            await node.EnterBarrierAsync("written-three");

            await node.RunOnAsync(() => Task.WhenAll(crashed.Select(spec.Conductor.RestartAsync)), roles[0]);
            await node.EnterBarrierAsync("restarted");
        });

        var survivors = Recorder.ToHistory().Operations.Where(o => o.Input.Key.StartsWith($"{UniquePrefix}three", StringComparison.Ordinal)).ToArray();
        Assert.Contains(survivors, o => o.Outcome == OperationOutcome.Ok);
        await KvClusterChecks.AwaitLeaderAsync(spec);
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
        await KvClusterChecks.AssertUniqueWritesIntactAsync(Client(spec, crashed[0]), Recorder.ToHistory(), UniquePrefix);
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(LeaderAndFollowerCrash_FiveNodes_RemainingMajorityServesAndRestartedNodesCatchUp));
    }

    private static (RoleName, long) Unpack((RoleName Role, KvCluster.Raft.Actor.RaftStatus Status) leader) => (leader.Role, leader.Status.Term);
}
