using Google.Protobuf;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Etcd;

/// <summary>The leader compacts the history by itself (revision mode), through the Raft log (issue 15).</summary>
[Trait("Category", "Integration")]
public sealed class AutoCompactionNodeTests
{
    [Fact]
    public async Task RevisionMode_KeepsTheNewestRevisions_AndCompactsTheRestWithoutAClient()
    {
        await using var cluster = await KvTestCluster.StartAsync(1, clientPort: true, tune: o => o with { AutoCompactionRetention = "5" });
        await cluster.AwaitLeaderAsync();
        using var channel = cluster.Channel();
        var kv = new KV.KVClient(channel);
        long revision = 0;
        for (var i = 0; i < 20; i++)
        {
            revision = (await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("k"), Value = ByteString.CopyFromUtf8($"v{i}") }, deadline: DateTime.UtcNow.AddSeconds(20))).Header.Revision;
        }

        // The compactor checks every 5 s; wait (bounded) until a read of the first revisions is refused as compacted.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        RpcException? refused = null;
        while (refused is null && DateTime.UtcNow < deadline)
        {
            try
            {
                await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("k"), Revision = 2 }, deadline: DateTime.UtcNow.AddSeconds(20));
                await Task.Delay(200);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.OutOfRange)
            {
                refused = e;
            }
        }

        Assert.NotNull(refused);
        Assert.Contains("required revision has been compacted", refused.Status.Detail);

        // The newest five revisions stay readable.
        var kept = await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("k"), Revision = revision - 4 }, deadline: DateTime.UtcNow.AddSeconds(20));
        Assert.Equal("v15", Assert.Single(kept.Kvs).Value.ToStringUtf8());
    }
}
