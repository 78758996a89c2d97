using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>Crashes and restarts from the SQLite journal on a three-node KV cluster over TCP (real time).</summary>
[Trait("Category", "Integration")]
[Collection(KvClusterCollection.Name)]
public sealed class KvRestartSpecs : KvClusterSpecBase
{
    [Fact]
    public async Task FollowerDownDuringWrites_RestartsFromItsJournal_CatchesUpWithEveryWrite()
    {
        var (config, roles) = Cluster(3);
        await using var spec = await StartAsync(config);
        RoleName down = default;

        await spec.RunAsync(async node =>
        {
            await node.RunOnAsync(async () =>
            {
                var (leader, _) = await KvClusterChecks.AwaitLeaderAsync(spec);
                down = roles.First(r => r != leader);
            }, roles[0]);
            await node.EnterBarrierAsync("leader-elected");

            var client = Client(spec, node.Myself);
            var id = KvPartitionSpecs.Index(spec, node.Myself);
            await WorkloadAsync(client, "before", id, 4);
            await node.EnterBarrierAsync("written-before");

            // The follower crashes while every client writes.
            var writes = WorkloadAsync(client, "while-down", id, 10);
            await node.RunOnAsync(async () =>
            {
                // Crash once writes of this workload are being committed, not before they started.
                var (leader, status) = await KvClusterChecks.AwaitLeaderAsync(spec);
                await KvClusterChecks.AwaitStatusAsync(spec, leader, s => s.Commit > status.Commit, "the leader commits writes of the while-down workload");
                await spec.Conductor.CrashAsync(down);
            }, roles[0]);
            await writes;
            await node.EnterBarrierAsync("written-while-down");

            await node.RunOnAsync(async () =>
            {
                var leader = await KvClusterChecks.AwaitLeaderAsync(spec, roles.Where(r => r != down));
                var restarted = await spec.Conductor.RestartAsync(down);
                var recovered = await restarted.StatusAsync(KvClusterChecks.StatusTimeout);
                Assert.True(recovered!.LastIndex > 0, "the restarted follower recovered no log from its journal");
                await KvClusterChecks.AwaitStatusAsync(spec, down, s => s.Applied >= leader.Status.Commit, $"the restarted follower applies up to {leader.Status.Commit}");
            }, roles[0]);
            await node.EnterBarrierAsync("caught-up");
        });

        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
        var acknowledged = await KvClusterChecks.AssertUniqueWritesIntactAsync(Client(spec, down), Recorder.ToHistory(), UniquePrefix);
        Assert.True(acknowledged > 0, "no write was acknowledged");
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(FollowerDownDuringWrites_RestartsFromItsJournal_CatchesUpWithEveryWrite));
    }

    [Fact]
    public async Task AllNodesCrashAtOnce_DuringWrites_RestartFromJournalsWithEveryAcknowledgedWrite()
    {
        var (config, roles) = Cluster(3);
        await using var spec = await StartAsync(config);

        await spec.RunAsync(async node =>
        {
            await node.RunOnAsync(() => KvClusterChecks.AwaitLeaderAsync(spec), roles[0]);
            await node.EnterBarrierAsync("leader-elected");

            var client = Client(spec, node.Myself);
            var id = KvPartitionSpecs.Index(spec, node.Myself);
            var writes = WorkloadAsync(client, "around-crash", id, 10);
            await node.RunOnAsync(async () =>
            {
                // Crash once writes of this workload are being committed, not before they started.
                var (leader, status) = await KvClusterChecks.AwaitLeaderAsync(spec);
                await KvClusterChecks.AwaitStatusAsync(spec, leader, s => s.Commit > status.Commit, "the leader commits writes of the around-crash workload");
                await Task.WhenAll(roles.Select(spec.Conductor.CrashAsync));
                await Task.WhenAll(roles.Select(spec.Conductor.RestartAsync));
            }, roles[0]);
            await writes;
            await node.EnterBarrierAsync("restarted-and-written");
        });

        // Raft §5.4 / Figure 2: an acknowledged write was fsynced on a majority before the leader applied it.
        await KvClusterChecks.AwaitLeaderAsync(spec);
        var acknowledged = await KvClusterChecks.AssertUniqueWritesIntactAsync(Client(spec, roles[0]), Recorder.ToHistory(), UniquePrefix);
        Assert.True(acknowledged > 0, "no write was acknowledged");
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
        Assert.All(roles, r => Assert.Equal(2, spec.IncarnationOf(r)));
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(AllNodesCrashAtOnce_DuringWrites_RestartFromJournalsWithEveryAcknowledgedWrite));
    }
}
