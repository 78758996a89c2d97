using System.Collections.Concurrent;
using KvCluster.Testing.Linearizability;
using KvCluster.Testing.MultiNode;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>Symmetric network partitions of a KV cluster over TCP with SQLite journals (real time).</summary>
[Trait("Category", "Integration")]
[Collection(KvClusterCollection.Name)]
public sealed class KvPartitionSpecs : KvClusterSpecBase
{
    [Fact]
    public async Task MinorityPartition_FiveNodes_MinorityCannotCommitWhileMajorityKeepsServing()
    {
        var (config, roles) = Cluster(5);
        await using var spec = await StartAsync(config);
        RoleName[] minority = [];
        RoleName[] majority = [];
        long minorityCommit = 0;
        var minorityReplies = new ConcurrentBag<KvOpResult>();

        await spec.RunAsync(async node =>
        {
            await node.RunOnAsync(async () =>
            {
                var (leader, _) = await KvClusterChecks.AwaitLeaderAsync(spec);
                minority = [leader, roles.First(r => r != leader)];
                majority = roles.Except(minority).ToArray();
                await spec.Conductor.PartitionAsync(minority);

                // Acknowledgements already delivered before the cut may still commit an entry a majority stored before
                // it (and the leader tells its minority peer): let them settle (10 ticks) before taking the bound.
                await Task.Delay(TimeSpan.FromMilliseconds(250));
                minorityCommit = (await Task.WhenAll(minority.Select(r => spec.Node(r).StatusAsync(KvClusterChecks.StatusTimeout)))).Max(s => s!.Commit);
            }, roles[0]);
            await node.EnterBarrierAsync("partitioned");

            var id = Index(spec, node.Myself);
            if (node.IsNode(minority))
            {
                // Raft §5.3/§5.4: an entry commits only once a majority stores it; two of five never do.
                var client = new KvClusterClient(spec, Recorder, id) { AttemptTimeout = TimeSpan.FromSeconds(1.5), OperationDeadline = TimeSpan.FromSeconds(3) };
                minorityReplies.Add(await client.PutAsync($"minority-{node.Myself}", "must-not-commit", node.Myself));
            }
            else
            {
                await WorkloadAsync(Client(spec, node.Myself), "majority", id, 6, default, majority);
            }

            await node.EnterBarrierAsync("served");
            await node.RunOnAsync(async () =>
            {
                foreach (var role in minority)
                {
                    var status = await spec.Node(role).StatusAsync(KvClusterChecks.StatusTimeout);
                    Assert.True(status!.Commit <= minorityCommit, $"{role} advanced its commit index to {status.Commit} (was at most {minorityCommit}) without a majority");
                }

                spec.Conductor.HealAll();
            }, roles[0]);
            await node.EnterBarrierAsync("healed");
        });

        Assert.Equal(2, minorityReplies.Count);
        Assert.All(minorityReplies, r => Assert.False(r.IsOk, "a write to the minority was acknowledged"));
        var majorityWrites = Recorder.ToHistory().Operations.Where(o => o.Input.Key.StartsWith($"{UniquePrefix}majority", StringComparison.Ordinal)).ToArray();
        foreach (var client in majorityWrites.GroupBy(o => o.ClientId))
        {
            Assert.True(client.Any(o => o.Outcome == OperationOutcome.Ok), $"client {client.Key} on the majority side had no write acknowledged");
        }

        await KvClusterChecks.AwaitLeaderAsync(spec);
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
        await AssertNowhereAsync(spec, minority.Select(r => $"minority-{r}"));
        await KvClusterChecks.AssertUniqueWritesIntactAsync(Client(spec, roles[0]), Recorder.ToHistory(), UniquePrefix);
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(MinorityPartition_FiveNodes_MinorityCannotCommitWhileMajorityKeepsServing));
    }

    [Fact]
    public async Task PartitionHeals_IsolatedLeader_StepsDownAndItsUncommittedEntriesAreNeverApplied()
    {
        var (config, roles) = Cluster(3);
        await using var spec = await StartAsync(config);
        RoleName oldLeader = default;
        ulong oldLeaderId = 0;
        long oldTerm = 0;
        var staleReplies = new ConcurrentBag<KvOpResult>();
        const int StaleWrites = 5;

        await spec.RunAsync(async node =>
        {
            await node.RunOnAsync(async () =>
            {
                var (leader, status) = await KvClusterChecks.AwaitLeaderAsync(spec);
                (oldLeader, oldLeaderId, oldTerm) = (leader, status.NodeId, status.Term);
                spec.Conductor.Partition([leader]);

                // At once, before check-quorum deposes it: several proposals, so the isolated leader appends several
                // entries it can never commit.
                var writes = Enumerable.Range(0, StaleWrites).Select(async i =>
                {
                    var client = new KvClusterClient(spec, Recorder, 100 + i) { AttemptTimeout = TimeSpan.FromSeconds(1), OperationDeadline = TimeSpan.FromSeconds(2) };
                    staleReplies.Add(await client.PutAsync($"stale-{i}", $"uncommitted-{i}", leader));
                }).ToArray();
                await Task.WhenAll(writes);
                var isolated = await spec.Node(leader).StatusAsync(KvClusterChecks.StatusTimeout);
                Assert.True(isolated!.LastIndex > isolated.Commit, $"the isolated leader holds no uncommitted entry: {KvClusterChecks.Describe(isolated)}");
            }, roles[0]);
            await node.EnterBarrierAsync("leader-isolated");

            var majority = roles.Where(r => r != oldLeader).ToArray();
            await WorkloadAsync(Client(spec, node.Myself), "majority", Index(spec, node.Myself), 5, default, majority);
            await node.EnterBarrierAsync("majority-wrote");
            node.RunOn(spec.Conductor.HealAll, roles[0]);
            await node.EnterBarrierAsync("healed");
        });

        // Raft §5.3: the old leader learns the higher term, steps down and takes the new leader's log.
        await KvClusterChecks.AwaitStatusAsync(spec, oldLeader,
            s => s.Role == RaftRole.Follower && s.Term > oldTerm && s.Leader != 0 && s.Leader != oldLeaderId,
            "the old leader follows a newer leader");
        Assert.All(staleReplies, r => Assert.False(r.IsOk, "a write to the isolated leader was acknowledged"));
        var staleKeys = Enumerable.Range(0, StaleWrites).Select(i => $"stale-{i}").ToArray();
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen().Concat(staleKeys));
        await AssertNowhereAsync(spec, staleKeys);
        var reader = Client(spec, roles[0]);
        foreach (var key in staleKeys)
        {
            var read = await reader.GetAsync(key);
            Assert.True(read.IsOk && !read.Output!.Ok, $"{key} is visible to a linearizable read: {read.Output}");
        }

        await KvClusterChecks.AssertUniqueWritesIntactAsync(reader, Recorder.ToHistory(), UniquePrefix);
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(PartitionHeals_IsolatedLeader_StepsDownAndItsUncommittedEntriesAreNeverApplied));
    }

    [Fact]
    public async Task SymmetricPartition_IsolatedFollower_CannotRaiseItsTermAndCatchesUpAfterHeal()
    {
        var (config, roles) = Cluster(3);
        await using var spec = await StartAsync(config);
        RoleName isolated = default;
        long termAtIsolation = 0;

        await spec.RunAsync(async node =>
        {
            await node.RunOnAsync(async () =>
            {
                var (leader, status) = await KvClusterChecks.AwaitLeaderAsync(spec);
                isolated = roles.First(r => r != leader);
                spec.Conductor.Partition([isolated]);
                termAtIsolation = (await spec.Node(isolated).StatusAsync(KvClusterChecks.StatusTimeout))!.Term;
            }, roles[0]);
            await node.EnterBarrierAsync("follower-isolated");

            var connected = roles.Where(r => r != isolated).ToArray();
            await WorkloadAsync(Client(spec, node.Myself), "connected", Index(spec, node.Myself), 5, default, connected);
            await node.EnterBarrierAsync("written");

            await node.RunOnAsync(async () =>
            {
                // Thesis §9.6: the isolated node times out and campaigns, but only in a pre-vote, which it cannot win,
                // so it never raises its term and cannot depose the leader when it comes back.
                var campaigning = await KvClusterChecks.AwaitStatusAsync(spec, isolated, s => s.Role != RaftRole.Follower, "the isolated follower campaigns");
                Assert.Equal(RaftRole.PreCandidate, campaigning.Role);
                Assert.Equal(termAtIsolation, campaigning.Term);
                spec.Conductor.HealAll();
            }, roles[0]);
            await node.EnterBarrierAsync("healed");
        });

        await KvClusterChecks.AwaitLeaderAsync(spec);
        await KvClusterChecks.AwaitConvergedAsync(spec, KeysSeen());
        await KvClusterChecks.AssertUniqueWritesIntactAsync(Client(spec, roles[0]), Recorder.ToHistory(), UniquePrefix);
        KvClusterChecks.AssertLinearizable(Recorder.ToHistory(), nameof(SymmetricPartition_IsolatedFollower_CannotRaiseItsTermAndCatchesUpAfterHeal));
    }

    internal static int Index(MultiNodeSpec<IKvNode> spec, RoleName role) => spec.Members.First(m => m.Role == role).Index;

    /// <summary>No running node's state machine holds any of <paramref name="keys"/>.</summary>
    internal static async Task AssertNowhereAsync(MultiNodeSpec<IKvNode> spec, IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            foreach (var role in spec.Roles)
            {
                var local = await spec.Node(role).LocalGetAsync(key);
                Assert.True(local is { Status: KvStatus.NotFound }, $"{key} was applied on {role}: {local}");
            }
        }
    }
}
