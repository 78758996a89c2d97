using Akka.Cluster;
using KvCluster.Node.Hosting;

namespace KvCluster.Tests.Node;

/// <summary>
/// How the nodes of a static group (no seeds) become one Akka cluster when they start at different times
/// (<c>KvNode.Formation.cs</c>): a node must never found a cluster of its own while a peer with a lower id runs, or the
/// group splits into Akka clusters that never merge and the Raft leader's membership follower never sees the nodes of
/// the other one (a joiner then never becomes a learner).
/// </summary>
[Trait("Category", "Integration")]
public sealed class ClusterFormationTests
{
    /// <summary>The form-alone delay of the late node: long enough for nodes 1 and 2 to start and form their cluster first.</summary>
    private static readonly TimeSpan s_formAloneAfter = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task NodeWhoseJoinRoundWentUnanswered_LowerPeersFormedMeanwhile_JoinsTheirClusterInsteadOfFormingItsOwn()
    {
        // Node 3 starts first: its join round reaches nobody, and with a seed-node-timeout of 10 minutes Akka's join
        // process asks the seeds no second time by itself. Nodes 1 and 2 then start and form a cluster of two.
        await using var cluster = KvTestCluster.Configure(3, NodeTestSupport.Hooks with
        {
            ExtraHocon = NodeTestSupport.TestHocon + "\nakka.cluster.seed-node-timeout = 600s",
            FormAloneAfter = s_formAloneAfter,
        });
        await cluster.StartNodeAsync(2);
        cluster.Hooks = NodeTestSupport.Hooks;
        await cluster.StartNodeAsync(0);
        await cluster.StartNodeAsync(1);
        await AwaitUpAsync(cluster.Nodes[0]!, [cluster.Nodes[0]!, cluster.Nodes[1]!], "nodes 1 and 2 forming their cluster");

        // Node 3's formation check finds nodes 1 and 2 running: it asks the seeds again and joins their cluster, where
        // forming a cluster alone would leave it outside theirs for good.
        await AwaitUpAsync(cluster.Nodes[0]!, [.. cluster.Nodes.Select(n => n!)], "node 3 joining the cluster of nodes 1 and 2");
        await AwaitUpAsync(cluster.Nodes[2]!, [.. cluster.Nodes.Select(n => n!)], "node 3 seeing nodes 1 and 2 as members");
    }

    /// <summary>Waits (bounded) until <paramref name="observer"/> sees every node of <paramref name="expected"/> as an Up member.</summary>
    private static async Task AwaitUpAsync(KvNode observer, KvNode[] expected, string what)
    {
        var deadline = DateTime.UtcNow + KvTestCluster.Wait + s_formAloneAfter;
        var addresses = expected.Select(n => Cluster.Get(n.System).SelfAddress).ToArray();
        while (true)
        {
            var members = Cluster.Get(observer.System).State.Members;
            if (addresses.All(a => members.Any(m => m.Address.Equals(a) && m.Status == MemberStatus.Up)))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"node {observer.NodeId}: {what} did not happen; it sees {string.Join(", ", members.Select(m => $"{m.Address.Port}:{m.Status}"))}");
            await Task.Delay(100);
        }
    }
}
