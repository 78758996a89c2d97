using Akka.Actor;
using KvCluster.Client.Etcd;
using KvCluster.Raft.Actor;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Lease;

/// <summary>
/// A keep-alive that a follower forwards to a leader that has just crashed: a dead node never answers, so the follower
/// sends it again to the next leader once it sees the old one gone, and the client gets its renewal within the request
/// timeout (etcd's client gives a lease up when no renewal comes within its TTL).
/// </summary>
[Trait("Category", "Integration")]
public sealed class LeaseFailoverSpecs
{
    private const long Ttl = 30;

    [Fact]
    public async Task KeepAliveForwardedToACrashedLeader_IsAnsweredByTheNextLeader_WithinTheRequestTimeout()
    {
        // Elections after 2-3 s, so the follower still names the crashed leader when the keep-alive arrives; a request
        // timeout well above an election, so only a request left waiting on the dead leader runs out of time.
        await using var cluster = await KvTestCluster.StartAsync(3, clientPort: true, tune: o => o with { TickMs = 100, ElectionTicksMin = 20, ElectionTicksMax = 30, RequestTimeoutMs = 20_000 });
        var leader = await cluster.AwaitLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        using var channel = cluster.Channel(follower);
        var leases = new KvCluster.Client.Etcd.Lease.LeaseClient(channel);
        var grant = await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = Ttl }, deadline: DateTime.UtcNow.AddSeconds(30));
        using var calls = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var keepAlive = leases.LeaseKeepAlive(cancellationToken: calls.Token);
        Assert.Equal(Ttl, (await RenewAsync(keepAlive, grant.ID, calls.Token)).TTL);
        var killedTerm = (await cluster.Nodes[leader]!.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, KvTestCluster.Wait)).Term;

        await cluster.KillNodeAsync(leader);
        var renewed = await RenewAsync(keepAlive, grant.ID, calls.Token);

        Assert.Equal(grant.ID, renewed.ID);
        Assert.Equal(Ttl, renewed.TTL);
        var newLeader = await cluster.AwaitLeaderAsync();
        var newTerm = (await cluster.Nodes[newLeader]!.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, KvTestCluster.Wait)).Term;
        Assert.True(newTerm > killedTerm, $"the term {newTerm} after the crash is not above the crashed leader's {killedTerm}");
        var ttl = await leases.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = grant.ID }, deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.InRange(ttl.TTL, 1, Ttl);
        await keepAlive.RequestStream.CompleteAsync();
    }

    /// <summary>Sends one keep-alive on the stream and returns its answer (the stream failing fails the spec).</summary>
    private static async Task<LeaseKeepAliveResponse> RenewAsync(Grpc.Core.AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse> keepAlive, long id, CancellationToken cancel)
    {
        await keepAlive.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = id }, cancel);
        Assert.True(await keepAlive.ResponseStream.MoveNext(cancel), "the keep-alive stream ended");
        return keepAlive.ResponseStream.Current;
    }
}
