using Akka.Actor;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Node.Watch;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Lease;
using KvCluster.Tests.Node;
using static KvCluster.Tests.Watch.WatchSpecSupport;

namespace KvCluster.Tests.Watch;

/// <summary>
/// etcd's require-leader behaviour (metadata <c>hasleader=true</c>, clientv3's WithRequireLeader) on a real three-node
/// AkkaKv whose other two nodes stop, so the third loses its leader: Debian's etcdctl 3.4 watch and a raw keep-alive
/// stream that asked for a leader end with "etcdserver: no leader" (Unavailable); a watch that did not ask stays open;
/// a new call that asks is refused at once.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RequireLeaderTests : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private KvTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await LeaseTestCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static Metadata RequireLeader => new() { { "hasleader", "true" } };

    [Fact]
    public async Task NodeLosesItsLeader_StreamsThatRequireOneEndWithNoLeader_OthersStayOpen_NewOnesAreRefused()
    {
        var leader = await _cluster.AwaitLeaderAsync();
        var survivor = (leader + 1) % 3;
        using var channel = _cluster.Channel(survivor);
        var leases = new KvCluster.Client.Etcd.Lease.LeaseClient(channel);
        var watch = new KvCluster.Client.Etcd.Watch.WatchClient(channel);
        var grant = await RetryAsync(() => leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 }, deadline: DateTime.UtcNow.Add(s_wait)).ResponseAsync);

        using var calls = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        // The first keep-alive may find the new leader's lessor not yet promoted (Unavailable): open the stream again.
        using var keepAlive = await RetryAsync(async () =>
        {
            var call = leases.LeaseKeepAlive(RequireLeader, cancellationToken: calls.Token);
            try
            {
                await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = grant.ID }, calls.Token);
                Assert.True(await call.ResponseStream.MoveNext(calls.Token));
                return call;
            }
            catch
            {
                call.Dispose();
                throw;
            }
        });
        Assert.Equal(60, keepAlive.ResponseStream.Current.TTL);

        using var plainWatch = watch.Watch(cancellationToken: calls.Token);
        await plainWatch.RequestStream.WriteAsync(new WatchRequest { CreateRequest = Prefix("rl/") }, calls.Token);
        Assert.True(await plainWatch.ResponseStream.MoveNext(calls.Token));
        Assert.True(plainWatch.ResponseStream.Current.Created);
        await AwaitStreamsAsync(survivor, 1);

        // etcdctl watch sends hasleader=true (etcdctl/ctlv3/command/watch_command.go). On a loaded machine an election
        // may leave the node without a leader for a moment and etcdctl is refused: start it again.
        using var etcdctl = await StartEtcdctlWatchAsync(survivor);

        foreach (var other in Enumerable.Range(0, 3).Where(i => i != survivor))
        {
            await _cluster.KillNodeAsync(other);
        }

        // The keep-alive stream that asked for a leader ends with etcd's error once the node has none (3 election timeouts).
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(calls.Token);
            limit.CancelAfter(s_wait);
            while (await keepAlive.ResponseStream.MoveNext(limit.Token))
            {
            }
        });
        AssertNoLeader(ended);

        // etcdctl's watch is closed the same way: clientv3 gives up on "no leader" and etcdctl says why.
        using (var exit = new CancellationTokenSource(s_wait))
        {
            await etcdctl.Process.WaitForExitAsync(exit.Token);
        }

        Assert.NotEqual(0, etcdctl.Process.ExitCode);
        Assert.Contains("etcdserver: no leader", etcdctl.Errors);

        // The watch that did not ask for a leader is still served (etcd cancels only the streams that asked).
        var next = plainWatch.ResponseStream.MoveNext(calls.Token);
        await AwaitStreamsAsync(survivor, 1);
        Assert.False(next.IsCompleted, "the watch without hasleader ended when the node lost its leader");

        // New calls that require a leader are refused at once, streams and unary alike.
        using (var refused = watch.Watch(RequireLeader, cancellationToken: calls.Token))
        {
            // The refusal comes before any request is read (a write could race with the call's end).
            AssertNoLeader(await Assert.ThrowsAsync<RpcException>(() => refused.ResponseStream.MoveNext(calls.Token)));
        }

        AssertNoLeader(await Assert.ThrowsAsync<RpcException>(() =>
            leases.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = grant.ID }, RequireLeader, DateTime.UtcNow.AddSeconds(30)).ResponseAsync));

        await calls.CancelAsync();
    }

    /// <summary>Runs a call again while the cluster answers Unavailable (an election under load), for up to a minute.</summary>
    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static void AssertNoLeader(RpcException e)
    {
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Equal("etcdserver: no leader", e.Status.Detail);
    }

    /// <summary>Starts etcdctl watch on node <paramref name="index"/> until its stream is open there (a second stream of the hub).</summary>
    private async Task<EtcdctlLines> StartEtcdctlWatchAsync(int index)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (true)
        {
            var etcdctl = new EtcdctlLines($"127.0.0.1:{_cluster.Options[index].ClientPort}", "watch", "--prefix", "rl/");
            int open;
            while ((open = (await _cluster.Nodes[index]!.WatchHub.Ask<WatchHubStatus>(GetWatchHubStatus.Instance, s_wait)).Streams) < 2 && !etcdctl.Process.HasExited)
            {
                Assert.True(DateTime.UtcNow < deadline, $"etcdctl watch did not open a stream on node {index + 1}: {etcdctl.Errors}");
                await Task.Delay(20);
            }

            if (open >= 2)
            {
                return etcdctl;
            }

            Assert.True(DateTime.UtcNow < deadline, $"etcdctl watch kept exiting on node {index + 1}: {etcdctl.Errors}");
            etcdctl.Dispose();
        }
    }

    /// <summary>Waits until node <paramref name="index"/>'s watch hub has exactly <paramref name="streams"/> open streams.</summary>
    private async Task AwaitStreamsAsync(int index, int streams)
    {
        var deadline = DateTime.UtcNow + s_wait;
        int open;
        while ((open = (await _cluster.Nodes[index]!.WatchHub.Ask<WatchHubStatus>(GetWatchHubStatus.Instance, s_wait)).Streams) != streams)
        {
            Assert.True(DateTime.UtcNow < deadline, $"node {index + 1} has {open} watch streams, not {streams}");
            await Task.Delay(20);
        }
    }
}
