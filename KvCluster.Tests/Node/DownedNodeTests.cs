using System.Text;
using Akka.Actor;
using Akka.Cluster;
using KvCluster.Client.Protocol;
using KvCluster.Node.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Tests.Node;

/// <summary>
/// A node the cluster downs (the split-brain resolver, or <c>cluster down</c>) comes back without an operator: a new
/// incarnation on the same data (the default), or exit code 5 for a supervisor (<c>--restart-when-downed false</c>).
/// </summary>
[Trait("Category", "Integration")]
public sealed class DownedNodeTests
{
    [Fact]
    public async Task DownedNode_RestartsAsANewIncarnation_RejoinsAndServesWithItsData()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        await cluster.AwaitLeaderAsync();
        await using (var client = await cluster.ClientAsync())
        {
            await client.PutAsync(Bytes("before"), Bytes("down"));
        }

        const int Downed = 2;
        await cluster.StopNodeAsync(Downed);
        var incarnations = new List<KvNode>();
        using var stop = new CancellationTokenSource();
        var run = NodeProgram.RunNodeAsync(cluster.Options[Downed], NullLoggerFactory.Instance, NodeTestSupport.Hooks, stop.Token, node =>
        {
            lock (incarnations)
            {
                incarnations.Add(node);
            }
        });
        try
        {
            var first = await AwaitIncarnationAsync(incarnations, 1);
            var firstUid = await AwaitUpAsync(cluster.Nodes[0]!, first, previousUid: null);

            Cluster.Get(cluster.Nodes[0]!.System).Down(Cluster.Get(first.System).SelfAddress);

            var second = await AwaitIncarnationAsync(incarnations, 2);
            await AwaitUpAsync(cluster.Nodes[0]!, second, firstUid);
            Assert.False(run.IsCompleted);
            await using var viaDowned = await cluster.ConnectWhenServingAsync(Downed);
            Assert.Equal("down", (await viaDowned.GetAsync(Bytes("before"), ReadConsistency.Serializable))?.Value.ToStringUtf8());
            Assert.Equal(KvStatus.Ok, (await viaDowned.PutAsync(Bytes("after"), Bytes("rejoined"))).Status);
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(NodeSettingsTable.ExitOk, await run);
        }
    }

    [Fact]
    public async Task DownedNode_WithRestartWhenDownedOff_ExitsFive()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        await cluster.AwaitLeaderAsync();
        const int Downed = 2;
        await cluster.StopNodeAsync(Downed);
        var incarnations = new List<KvNode>();
        using var stop = new CancellationTokenSource();
        var run = NodeProgram.RunNodeAsync(cluster.Options[Downed] with { RestartWhenDowned = false }, NullLoggerFactory.Instance, NodeTestSupport.Hooks, stop.Token, node =>
        {
            lock (incarnations)
            {
                incarnations.Add(node);
            }
        });

        var only = await AwaitIncarnationAsync(incarnations, 1);
        await AwaitUpAsync(cluster.Nodes[0]!, only, previousUid: null);
        Cluster.Get(cluster.Nodes[0]!.System).Down(Cluster.Get(only.System).SelfAddress);

        Assert.Equal(NodeSettingsTable.ExitDowned, await run.WaitAsync(KvTestCluster.Wait));
    }

    private static async Task<KvNode> AwaitIncarnationAsync(List<KvNode> incarnations, int count)
    {
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        while (true)
        {
            lock (incarnations)
            {
                if (incarnations.Count >= count)
                {
                    return incarnations[count - 1];
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"incarnation {count} of the downed node did not start");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until <paramref name="observer"/> sees <paramref name="node"/> Up (a new uid if one is given).</summary>
    private static async Task<long> AwaitUpAsync(KvNode observer, KvNode node, long? previousUid)
    {
        var address = Cluster.Get(node.System).SelfAddress;
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        while (true)
        {
            var member = Cluster.Get(observer.System).State.Members.FirstOrDefault(m => m.Address.Equals(address) && m.Status == MemberStatus.Up);
            if (member is not null && member.UniqueAddress.Uid != previousUid)
            {
                return member.UniqueAddress.Uid;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{address} is not Up in the cluster{(previousUid is null ? string.Empty : " as a new incarnation")}");
            await Task.Delay(100);
        }
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
