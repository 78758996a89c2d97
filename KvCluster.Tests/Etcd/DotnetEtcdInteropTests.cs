using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace KvCluster.Tests.Etcd;

/// <summary>
/// AkkaKv answering dotnet-etcd 10.0.0, an etcd client none of us wrote, over the client port of a real node: put, get,
/// delete, prefixes, both branches of a txn, and compaction with a read below it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DotnetEtcdInteropTests : IAsyncLifetime
{
    private KvCluster.Tests.Node.KvTestCluster _cluster = null!;
    private EtcdClient _client = null!;

    public async Task InitializeAsync()
    {
        _cluster = await EtcdTestNodes.StartAsync();
        _client = new EtcdClient(_cluster.Url());
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _cluster.DisposeAsync();
    }

    private static DateTime Deadline => DateTime.UtcNow.AddSeconds(20);

    [Fact]
    public async Task PutGetDelete_OneKey_RoundTrips()
    {
        await _client.PutAsync("greeting", "hello", deadline: Deadline);
        var value = await _client.GetValAsync("greeting", deadline: Deadline);
        var deleted = await _client.DeleteAsync("greeting", deadline: Deadline);
        var after = await _client.GetAsync("greeting", deadline: Deadline);

        Assert.Equal("hello", value);
        Assert.Equal(1, deleted.Deleted);
        Assert.Equal(0, after.Count);
    }

    [Fact]
    public async Task Prefix_GetRangeAndDeleteRange_SeeOnlyThePrefix()
    {
        foreach (var key in new[] { "app/a", "app/b", "app/c", "apq", "other" })
        {
            await _client.PutAsync(key, key.ToUpperInvariant(), deadline: Deadline);
        }

        var range = await _client.GetRangeValAsync("app/", deadline: Deadline);
        var deleted = await _client.DeleteRangeAsync("app/", deadline: Deadline);
        var left = await _client.GetRangeAsync("ap", deadline: Deadline);

        Assert.Equal(["app/a", "app/b", "app/c"], range.Keys.Order());
        Assert.Equal("APP/B", range["app/b"]);
        Assert.Equal(3, deleted.Deleted);
        Assert.Equal("apq", Assert.Single(left.Kvs).Key.ToStringUtf8());
    }

    [Fact]
    public async Task Txn_CompareHoldsThenFails_RunsEachBranch()
    {
        await _client.PutAsync("lock", "free", deadline: Deadline);

        var first = await _client.TransactionAsync(Take(), deadline: Deadline);
        var second = await _client.TransactionAsync(Take(), deadline: Deadline);

        Assert.True(first.Succeeded);
        Assert.False(second.Succeeded);
        Assert.Equal("mine", await _client.GetValAsync("lock", deadline: Deadline));
        Assert.Equal("mine", second.Responses[0].ResponseRange.Kvs[0].Value.ToStringUtf8());

        static TxnRequest Take()
        {
            var txn = new TxnRequest();
            txn.Compare.Add(new Compare { Key = ByteString.CopyFromUtf8("lock"), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = ByteString.CopyFromUtf8("free") });
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8("lock"), Value = ByteString.CopyFromUtf8("mine") } });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8("lock") } });
            return txn;
        }
    }

    [Fact]
    public async Task Compact_ThenGetBelowIt_FailsCompacted_AndTheNewestValueStays()
    {
        var first = await _client.PutAsync("history", "v1", deadline: Deadline);
        await _client.PutAsync("history", "v2", deadline: Deadline);
        var last = await _client.PutAsync("history", "v3", deadline: Deadline);

        var pastBefore = await _client.GetAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("history"), Revision = first.Header.Revision }, deadline: Deadline);
        await _client.CompactAsync(new CompactionRequest { Revision = last.Header.Revision }, deadline: Deadline);
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.GetAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("history"), Revision = first.Header.Revision }, deadline: Deadline));

        Assert.Equal("v1", Assert.Single(pastBefore.Kvs).Value.ToStringUtf8());
        Assert.Equal(StatusCode.OutOfRange, error.StatusCode);
        Assert.Contains("required revision has been compacted", error.Status.Detail);
        Assert.Equal("v3", await _client.GetValAsync("history", deadline: Deadline));
    }
}
