using System.Text;
using Akka.Actor;
using KvCluster.Client;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;

namespace KvCluster.Tests.Node;

/// <summary>Three real nodes in this process, driven through the client library over loopback TCP.</summary>
[Trait("Category", "Integration")]
public sealed class KvClusterTests
{
    [Fact]
    public async Task Put_ThroughAFollowerEndpoint_IsReadBackFromAnotherNode()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        var leader = await cluster.AwaitLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        var other = Enumerable.Range(0, 3).First(i => i != leader && i != follower);

        await using (var writer = await cluster.ClientAsync(follower))
        {
            // Only the follower is a contact point; learned endpoints must not matter for the write's path.
            var result = await writer.PutAsync(Bytes("greeting"), Bytes("hello"));
            Assert.Equal(KvStatus.Ok, result.Status);
        }

        await using var reader = await cluster.ClientAsync(other);
        var read = await reader.GetAsync(Bytes("greeting"));
        Assert.NotNull(read);
        Assert.Equal("hello", Text(read.Value));
    }

    [Fact]
    public async Task SerializableGet_OnAFollower_EventuallySeesTheWriteAndNeverAnUncommittedOne()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        var leader = await cluster.AwaitLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        await using var client = await cluster.ClientAsync(leader);
        await client.PutAsync(Bytes("k"), Bytes("v1"));

        await using var local = await cluster.ClientAsync(follower);
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        KeyValue? seen;
        do
        {
            seen = await local.GetAsync(Bytes("k"), ReadConsistency.Serializable);
        }
        while (seen is null && DateTime.UtcNow < deadline);

        Assert.NotNull(seen);
        Assert.Equal("v1", Text(seen.Value));
    }

    [Fact]
    public async Task LeaderKilled_ClientWritesSucceedUnderTheNewLeader_AndEveryAcknowledgedWriteSurvives()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        var oldLeader = await cluster.AwaitLeaderAsync();
        await using var client = await cluster.ClientAsync();
        var acknowledged = new Dictionary<string, string>();
        for (var i = 0; i < 5; i++)
        {
            await client.PutAsync(Bytes($"before-{i}"), Bytes($"v{i}"));
            acknowledged[$"before-{i}"] = $"v{i}";
        }

        await cluster.KillNodeAsync(oldLeader);

        var indeterminate = 0;
        for (var i = 0; i < 5; i++)
        {
            var key = $"after-{i}";
            while (true)
            {
                try
                {
                    var result = await client.PutAsync(Bytes(key), Bytes($"w{i}"));
                    Assert.Equal(KvStatus.Ok, result.Status);
                    acknowledged[key] = $"w{i}";
                    break;
                }
                catch (Exception e) when (e is KvTimeoutException or KvUnavailableException { Indeterminate: true })
                {
                    // A write sent to the dying leader has an unknown outcome (a timeout, or the connection closed
                    // while it was in flight); the client never retries it itself. Retrying here is safe because this
                    // test writes each key with one value.
                    indeterminate++;
                    Assert.True(indeterminate <= 2, "more than two writes had an unknown outcome after one crash");
                }
            }
        }

        var newLeader = await cluster.AwaitLeaderAsync();
        Assert.NotEqual(oldLeader, newLeader);
        foreach (var (key, value) in acknowledged)
        {
            var read = await client.GetAsync(Bytes(key));
            Assert.True(read is not null, $"acknowledged key {key} is missing after the leader crashed");
            Assert.Equal(value, Text(read.Value));
        }
    }

    [Fact]
    public async Task AllNodesRestartedFromDisk_KeepEveryCommittedWrite()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        await cluster.AwaitLeaderAsync();
        await using (var client = await cluster.ClientAsync())
        {
            for (var i = 0; i < 20; i++)
            {
                await client.PutAsync(Bytes($"key-{i:D2}"), Bytes($"value-{i}"));
            }

            await client.DeleteAsync(Bytes("key-07"));
        }

        for (var i = 0; i < 3; i++)
        {
            await cluster.StopNodeAsync(i);
        }

        for (var i = 0; i < 3; i++)
        {
            await cluster.StartNodeAsync(i);
        }

        await cluster.AwaitLeaderAsync();
        await using var after = await cluster.ClientAsync();
        var range = await after.RangeAsync(new RangeRequest { Prefix = Google.Protobuf.ByteString.CopyFromUtf8("key-") });
        Assert.Equal(19, range.Count);
        Assert.DoesNotContain(range.Kvs, kv => Text(kv.Key) == "key-07");
        Assert.Equal("value-19", Text(range.Kvs.Single(kv => Text(kv.Key) == "key-19").Value));
    }

    [Fact]
    public async Task OrderlyStop_AfterALongLog_SnapshotsEverythingApplied_AndTheRestartServesItFromThatSnapshot()
    {
        await using var cluster = await KvTestCluster.StartAsync(size: 1);
        await cluster.AwaitLeaderAsync();
        await using (var client = await cluster.ClientAsync())
        {
            // More entries than a stop snapshots for (1,000), fewer than any snapshot trigger of the node (10,000).
            for (var batch = 0; batch < 12; batch++)
            {
                await Task.WhenAll(Enumerable.Range(0, 100).Select(i => client.PutAsync(Bytes($"k-{batch:D2}-{i:D3}"), Bytes($"v{batch}.{i}"))));
            }
        }

        var before = await cluster.Nodes[0]!.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, KvTestCluster.Wait);
        Assert.Equal(0, before.SnapshotIndex);

        await cluster.StopNodeAsync(0);
        await cluster.StartNodeAsync(0);

        await cluster.AwaitLeaderAsync(); // recovered
        var after = await cluster.Nodes[0]!.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, KvTestCluster.Wait);
        Assert.True(after.SnapshotIndex >= before.Applied, $"snapshot {after.SnapshotIndex} after the restart; {before.Applied} applied before the stop");
        await using var reader = await cluster.ClientAsync();
        var range = await reader.RangeAsync(new RangeRequest { Prefix = Google.Protobuf.ByteString.CopyFromUtf8("k-") });
        Assert.Equal(1_200, range.Count);
        Assert.Equal("v11.99", Text(range.Kvs.Single(kv => Text(kv.Key) == "k-11-099").Value));
    }

    [Fact]
    public async Task FollowerRestartedFromDisk_ServesItsDataLocallyWithoutTheOthers()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        var leader = await cluster.AwaitLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        await using (var client = await cluster.ClientAsync())
        {
            await client.PutAsync(Bytes("durable"), Bytes("yes"));
            // A linearizable read through the follower proves it has applied the write.
            await using var viaFollower = await cluster.ClientAsync(follower);
            Assert.NotNull(await viaFollower.GetAsync(Bytes("durable")));
        }

        for (var i = 0; i < 3; i++)
        {
            await cluster.StopNodeAsync(i);
        }

        await cluster.StartNodeAsync(follower);
        await using var local = await cluster.ConnectWhenServingAsync(follower);
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        KeyValue? read;
        do
        {
            read = await local.GetAsync(Bytes("durable"), ReadConsistency.Serializable);
        }
        while (read is null && DateTime.UtcNow < deadline);

        Assert.NotNull(read);
        Assert.Equal("yes", Text(read.Value));
    }

    [Fact]
    public async Task Put_OverTheValueLimit_IsABadRequestAndNothingIsWritten()
    {
        await using var cluster = await KvTestCluster.StartAsync(size: 1);
        await cluster.AwaitLeaderAsync();
        // The client's own remoting carries frames as large as the node's (4 MiB) without extra settings.
        await using var client = await cluster.ClientAsync();

        var error = await Assert.ThrowsAsync<KvBadRequestException>(() => client.PutAsync(Bytes("big"), new byte[(1024 * 1024) + 1]));

        Assert.Contains("value", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Null(await client.GetAsync(Bytes("big")));
    }

    [Fact]
    public async Task CompareAndSet_WithAStaleVersion_IsRejectedAndKeepsTheValue()
    {
        await using var cluster = await KvTestCluster.StartAsync(size: 1);
        await cluster.AwaitLeaderAsync();
        await using var client = await cluster.ClientAsync();
        var first = await client.PutAsync(Bytes("cas"), Bytes("a"));
        await client.PutAsync(Bytes("cas"), Bytes("b"));

        var stale = await client.PutAsync(Bytes("cas"), Bytes("c"), expectedVersion: first.Put.Current.ModIndex);

        Assert.Equal(KvStatus.VersionMismatch, stale.Status);
        Assert.Equal("b", Text((await client.GetAsync(Bytes("cas")))!.Value));
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string Text(Google.Protobuf.ByteString bytes) => bytes.ToStringUtf8();
}
