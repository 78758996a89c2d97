using System.Text;
using Akka.Actor;
using Google.Protobuf;
using KvCluster.Client;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;

namespace KvCluster.Tests.Node;

/// <summary>
/// The ClusterClient front door's conformance spec: <see cref="KvClient"/> (Akka ClusterClient to the receptionist, then
/// <c>/user/kv-router</c>) against real nodes. Every command, the router's forwarding to the leader (a client that knows
/// only a follower never sees NotLeader), and the promise about indeterminate writes (never retried).
/// </summary>
[Trait("Category", "Integration")]
public sealed class KvClientConformanceTests
{
    [Fact]
    public async Task EveryCommand_OnOneNode_BehavesAsDocumented()
    {
        await using var cluster = await KvTestCluster.StartAsync(size: 1);
        await cluster.AwaitLeaderAsync();
        await using var client = await cluster.ClientAsync();

        var put = await client.PutAsync(Bytes("a/1"), Bytes("one"));
        await client.PutAsync(Bytes("a/2"), Bytes("two"));
        await client.PutAsync(Bytes("a/3"), Bytes("three"));
        await client.PutAsync(Bytes("b/1"), Bytes("other"));
        Assert.Equal(KvStatus.Ok, put.Status);

        Assert.Equal("one", (await client.GetAsync(Bytes("a/1")))!.Value.ToStringUtf8());
        Assert.Equal("one", (await client.GetAsync(Bytes("a/1"), ReadConsistency.Serializable))!.Value.ToStringUtf8());
        Assert.Null(await client.GetAsync(Bytes("missing")));

        var scan = await client.RangeAsync(new RangeRequest { Prefix = ByteString.CopyFromUtf8("a/"), Limit = 2 });
        Assert.Equal(["a/1", "a/2"], scan.Kvs.Select(kv => kv.Key.ToStringUtf8()));
        Assert.True(scan.More);

        var current = (await client.GetAsync(Bytes("a/2")))!.ModIndex;
        Assert.Equal(KvStatus.VersionMismatch, (await client.PutAsync(Bytes("a/2"), Bytes("stale"), expectedVersion: current - 1)).Status);
        Assert.Equal(KvStatus.Ok, (await client.PutAsync(Bytes("a/2"), Bytes("swapped"), expectedVersion: current)).Status);
        Assert.Equal("swapped", (await client.GetAsync(Bytes("a/2")))!.Value.ToStringUtf8());

        Assert.Equal(KvStatus.Ok, (await client.DeleteAsync(Bytes("a/1"))).Status);
        Assert.Null(await client.GetAsync(Bytes("a/1")));
        Assert.Equal(2, await client.DeletePrefixAsync(Bytes("a/")));
        var left = await client.RangeAsync(new RangeRequest { Prefix = ByteString.Empty });
        Assert.Equal(["b/1"], left.Kvs.Select(kv => kv.Key.ToStringUtf8()));
    }

    [Fact]
    public async Task Writes_ThroughAClientThatKnowsOnlyAFollower_AreForwardedToTheLeader()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        var leader = await cluster.AwaitLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        await using var client = await cluster.ClientAsync(follower);

        var revisions = new List<long>();
        for (var i = 0; i < 10; i++)
        {
            var result = await client.PutAsync(Bytes($"f{i}"), Bytes("v"));
            Assert.Equal(KvStatus.Ok, result.Status);
            revisions.Add(result.Revision);
        }

        // The follower's router forwarded each write once: the store revision moved by one per put (other log entries,
        // such as a new leader's empty entry, move no revision), and every key was changed once (etcd's version 1).
        Assert.Equal(Enumerable.Range(0, 10).Select(i => revisions[0] + i), revisions);
        var written = await client.RangeAsync(new RangeRequest { Prefix = ByteString.CopyFromUtf8("f") });
        Assert.Equal(10, written.Count);
        Assert.All(written.Kvs, kv => Assert.Equal(1, kv.Version));
    }

    [Fact]
    public async Task WriteThatCannotCommit_TimesOutAsIndeterminate_AndIsNeverRetried()
    {
        // Long election timeouts (4-5 s) keep the leader in place while its followers cannot acknowledge.
        await using var cluster = await KvTestCluster.StartAsync(tune: o => o with { TickMs = 100, ElectionTicksMin = 40, ElectionTicksMax = 50 });
        var leader = await cluster.AwaitLeaderAsync();
        await using var client = await cluster.ClientAsync(TimeSpan.FromMilliseconds(1500), null, leader);
        Assert.Equal(KvStatus.Ok, (await client.PutAsync(Bytes("warm"), Bytes("up"))).Status);
        foreach (var follower in Enumerable.Range(0, 3).Where(i => i != leader))
        {
            // The followers' Raft nodes stop; their remoting stays: the leader's appends go unanswered.
            await cluster.Nodes[follower]!.Raft.GracefulStop(TimeSpan.FromSeconds(5));
        }

        var before = await StatusAsync(cluster, leader);
        var error = await Assert.ThrowsAsync<KvTimeoutException>(() => client.PutAsync(Bytes("unknown"), Bytes("outcome")));

        Assert.Contains("may or may not", error.Message);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var after = await StatusAsync(cluster, leader);
        Assert.Equal(before.LastIndex + 1, after.LastIndex);
    }

    private static Task<RaftStatus> StatusAsync(KvTestCluster cluster, int node) =>
        cluster.Nodes[node]!.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, KvTestCluster.Wait);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
