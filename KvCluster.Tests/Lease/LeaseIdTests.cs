using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Node.Etcd;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Lease;

/// <summary>Lease ids chosen by the nodes (grants without an id): etcd's member-id-and-counter scheme, unique cluster-wide.</summary>
public sealed class LeaseIdGeneratorSpecs
{
    [Fact]
    public void Next_OfTwoMembersStartedTogether_NeverCollides_AndIsPositive()
    {
        var now = DateTimeOffset.UtcNow;
        var one = new LeaseIdGenerator(1, now);
        var two = new LeaseIdGenerator(2, now);
        var ids = Enumerable.Range(0, 10_000).SelectMany(_ => new[] { one.Next(), two.Next() }).ToList();

        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.True(id > 0));
    }

    [Fact]
    public void Next_AfterARestart_DoesNotRepeatTheIdsOfTheFirstRun()
    {
        var started = DateTimeOffset.UtcNow;
        var first = new LeaseIdGenerator(7, started);
        var before = Enumerable.Range(0, 200).Select(_ => first.Next()).ToHashSet();

        var restarted = new LeaseIdGenerator(7, started.AddMilliseconds(1));

        Assert.DoesNotContain(restarted.Next(), before);
    }

    [Fact]
    public void Next_OfAMemberIdWithTheSignBit_IsStillPositive()
    {
        var generator = new LeaseIdGenerator(ulong.MaxValue, DateTimeOffset.UtcNow);

        Assert.True(generator.Next() > 0);
    }
}

/// <summary>Grants without an id through all three nodes of a real cluster at once: every id distinct, every lease there.</summary>
[Trait("Category", "Integration")]
public sealed class LeaseIdTests : IAsyncLifetime
{
    private KvTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await LeaseTestCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task ConcurrentGrantsWithoutAnId_OnEveryNode_GetDistinctIds_AndATakenIdIsSkipped()
    {
        var channels = Enumerable.Range(0, 3).Select(i => _cluster.Channel(i)).ToArray();
        try
        {
            var clients = channels.Select(c => new KvCluster.Client.Etcd.Lease.LeaseClient(c)).ToArray();
            var grants = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
            {
                var node = i % 3;
                var response = await GrantAsync(clients[node], 0);
                return (Node: node, response.ID);
            }));

            Assert.Equal(30, grants.Select(g => g.ID).Distinct().Count());
            Assert.All(grants, g => Assert.Equal((long)_cluster.Options[g.Node].Id, g.ID >> 48));
            var listed = (await clients[1].LeaseLeasesAsync(new LeaseLeasesRequest(), deadline: DateTime.UtcNow.AddSeconds(60))).Leases.Select(l => l.ID).ToHashSet();
            Assert.Superset(grants.Select(g => g.ID).ToHashSet(), listed);

            // A client takes the id node 1 would choose next: node 1's next grant skips it instead of failing.
            var last = (await GrantAsync(clients[0], 0)).ID;
            Assert.Equal(last + 1, (await GrantAsync(clients[2], last + 1)).ID);
            var next = (await GrantAsync(clients[0], 0)).ID;
            Assert.NotEqual(last + 1, next);
            Assert.True(next > last + 1, $"node 1 chose {next:x16} after {last:x16}");
            Assert.Equal((long)_cluster.Options[0].Id, next >> 48);
        }
        finally
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    /// <summary>
    /// A grant (of <paramref name="id"/>, or a node-chosen id for 0), tried again while the cluster answers Unavailable
    /// (a loaded machine); a named grant that answers "already exists" on a retry was applied by an earlier attempt.
    /// </summary>
    private static async Task<LeaseGrantResponse> GrantAsync(KvCluster.Client.Etcd.Lease.LeaseClient client, long id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        for (var retried = false; ; retried = true)
        {
            try
            {
                return await client.LeaseGrantAsync(new LeaseGrantRequest { ID = id, TTL = 60 }, deadline: DateTime.UtcNow.AddSeconds(30));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            catch (RpcException e) when (retried && id != 0 && e.StatusCode == StatusCode.FailedPrecondition)
            {
                return new LeaseGrantResponse { ID = id, TTL = 60 };
            }
        }
    }
}
