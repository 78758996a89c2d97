using Grpc.Core;
using Grpc.Health.V1;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Etcd;

/// <summary>
/// The gRPC health service (<c>grpc.health.v1.Health</c>, as etcd registers it) on a real three-node AkkaKv, asked with
/// the gRPC team's own client (Grpc.HealthCheck): SERVING while a node knows a leader, NOT_SERVING once it has lost
/// its quorum, as <c>/health</c> says.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdGrpcHealthTests
{
    private static readonly TimeSpan s_call = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Check_IsServingWithALeader_AndNotServingOnceTheQuorumIsGone()
    {
        await using var cluster = await EtcdTestNodes.StartAsync(3);
        var leader = await cluster.AwaitLeaderAsync();
        var survivor = Enumerable.Range(0, 3).First(i => i != leader);
        using var channel = cluster.Channel(survivor);
        var health = new Health.HealthClient(channel);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + s_call)).Status);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await health.CheckAsync(new HealthCheckRequest { Service = "no.such.Service" }, deadline: DateTime.UtcNow + s_call));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        // The two others stop: the survivor cannot keep or elect a leader.
        foreach (var other in Enumerable.Range(0, 3).Where(i => i != survivor))
        {
            await cluster.StopNodeAsync(other);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        HealthCheckResponse.Types.ServingStatus status;
        while ((status = (await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + s_call)).Status) == HealthCheckResponse.Types.ServingStatus.Serving)
        {
            Assert.True(DateTime.UtcNow < deadline, "the survivor still says SERVING 30 s after losing its quorum");
            await Task.Delay(100);
        }

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, status);
        using var http = cluster.Http(survivor);
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/health")).StatusCode);
    }
}
