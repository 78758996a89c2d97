using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Lease;

/// <summary>
/// etcd's response header on the Lease and Watch responses of a real AkkaKv node: cluster id, member id, raft term and
/// the store's current revision, as etcd's server fills every header (a keep-alive's included, taken before the renewal).
/// </summary>
[Trait("Category", "Integration")]
public sealed class LeaseHeaderTests : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    private KvTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await EtcdTestNodes.StartAsync(size: 1);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task LeaseAndWatchResponses_CarryEtcdsHeader_WithTheCurrentRevision()
    {
        using var channel = _cluster.Channel();
        var kv = new KV.KVClient(channel);
        var leases = new KvCluster.Client.Etcd.Lease.LeaseClient(channel);
        var status = await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.Add(s_wait));
        var reference = status.Header;
        Assert.NotEqual(0UL, reference.ClusterId);
        Assert.Equal(_cluster.Options[0].Id, reference.MemberId);
        Assert.True(reference.RaftTerm >= 1);

        var grant = await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 30 }, deadline: DateTime.UtcNow.Add(s_wait));
        var put = await kv.PutAsync(new PutRequest { Key = B("h/a"), Value = B("1"), Lease = grant.ID }, deadline: DateTime.UtcNow.Add(s_wait));
        await kv.PutAsync(new PutRequest { Key = B("h/b"), Value = B("2") }, deadline: DateTime.UtcNow.Add(s_wait));
        var current = put.Header.Revision + 1;
        AssertHeader(reference, put.Header.Revision - 1, grant.Header);

        using var calls = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using (var keepAlive = leases.LeaseKeepAlive(cancellationToken: calls.Token))
        {
            await keepAlive.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = grant.ID }, calls.Token);
            Assert.True(await keepAlive.ResponseStream.MoveNext(calls.Token));
            var renewed = keepAlive.ResponseStream.Current;
            Assert.Equal(30, renewed.TTL);
            AssertHeader(reference, current, renewed.Header);
            await keepAlive.RequestStream.CompleteAsync();
        }

        var ttl = await leases.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = grant.ID, Keys = true }, deadline: DateTime.UtcNow.Add(s_wait));
        AssertHeader(reference, current, ttl.Header);
        AssertHeader(reference, current, (await leases.LeaseLeasesAsync(new LeaseLeasesRequest(), deadline: DateTime.UtcNow.Add(s_wait))).Header);
        AssertHeader(reference, current, (await KeepAliveUnknownAsync(leases, calls.Token)).Header);

        // Watch: the created response and a catch-up from the history carry the store revision too.
        using (var watch = new KvCluster.Client.Etcd.Watch.WatchClient(channel).Watch(cancellationToken: calls.Token))
        {
            await watch.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = B("h/a"), StartRevision = put.Header.Revision } }, calls.Token);
            Assert.True(await watch.ResponseStream.MoveNext(calls.Token));
            Assert.True(watch.ResponseStream.Current.Created);
            AssertHeader(reference, current, watch.ResponseStream.Current.Header);
            Assert.True(await watch.ResponseStream.MoveNext(calls.Token));
            var replay = watch.ResponseStream.Current;
            Assert.Equal([put.Header.Revision], replay.Events.Select(e => e.Kv.ModRevision));
            AssertHeader(reference, current, replay.Header);
        }

        var revoke = await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = grant.ID }, deadline: DateTime.UtcNow.Add(s_wait));
        AssertHeader(reference, current + 1, revoke.Header);
    }

    private static void AssertHeader(ResponseHeader reference, long revision, ResponseHeader header)
    {
        Assert.Equal(reference.ClusterId, header.ClusterId);
        Assert.Equal(reference.MemberId, header.MemberId);
        Assert.Equal(reference.RaftTerm, header.RaftTerm);
        Assert.Equal(revision, header.Revision);
    }

    /// <summary>A keep-alive of a lease that does not exist: etcd answers TTL 0, with a full header.</summary>
    private static async Task<LeaseKeepAliveResponse> KeepAliveUnknownAsync(KvCluster.Client.Etcd.Lease.LeaseClient leases, CancellationToken cancel)
    {
        using var call = leases.LeaseKeepAlive(cancellationToken: cancel);
        await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = 0x7777 }, cancel);
        Assert.True(await call.ResponseStream.MoveNext(cancel));
        Assert.Equal(0, call.ResponseStream.Current.TTL);
        await call.RequestStream.CompleteAsync();
        return call.ResponseStream.Current;
    }

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);
}
