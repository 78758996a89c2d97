using KvCluster.Actors.TestKit.Linearizability;
using KvCluster.Actors.TestKit.MultiNode;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>Leader and follower crashes on a three-node KV cluster over TCP with SQLite journals (real time).</summary>
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

    private static (RoleName, long) Unpack((RoleName Role, KvCluster.Raft.Actor.RaftStatus Status) leader) => (leader.Role, leader.Status.Term);
}

/// <summary>The KV cluster specs run one at a time (each starts several nodes on the 2 cores).</summary>
[CollectionDefinition(Name)]
public sealed class KvClusterCollection
{
    public const string Name = "KV multi-node cluster";
}
