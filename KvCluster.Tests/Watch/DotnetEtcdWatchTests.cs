using System.Collections.Concurrent;
using Akka.Actor;
using dotnet_etcd;
using Google.Protobuf;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Watch;

/// <summary>dotnet-etcd 10.0.0's Watch against a real AkkaKv node: every put and delete of a prefix, in order.</summary>
[Trait("Category", "Integration")]
public sealed class DotnetEtcdWatchTests : IAsyncLifetime
{
    private KvTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await EtcdTestNodes.StartAsync(size: 1);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Watch_Prefix_SeesEveryChangeInOrder()
    {
        using var client = new EtcdClient(_cluster.Url());
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = new ConcurrentQueue<Mvccpb.Event>();
        var request = new Etcdserverpb.WatchRequest
        {
            CreateRequest = new Etcdserverpb.WatchCreateRequest { Key = ByteString.CopyFromUtf8("d/"), RangeEnd = ByteString.CopyFromUtf8("d0") },
        };
        var watching = client.WatchAsync(request, (Etcdserverpb.WatchResponse response) =>
        {
            foreach (var e in response.Events)
            {
                events.Enqueue(e);
            }
        }, cancellationToken: cancel.Token);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await _cluster.Nodes[0]!.WatchHub.Ask<KvCluster.Node.Watch.WatchHubStatus>(KvCluster.Node.Watch.GetWatchHubStatus.Instance, TimeSpan.FromSeconds(30))).Synced < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "dotnet-etcd's watch was not established within 30 s");
            await Task.Delay(20);
        }

        for (var i = 0; i < 20; i++)
        {
            await client.PutAsync($"d/{i % 3}", $"v{i}", deadline: DateTime.UtcNow.AddSeconds(20));
        }

        await client.DeleteAsync("d/1", deadline: DateTime.UtcNow.AddSeconds(20));
        while (events.Count < 21)
        {
            Assert.True(DateTime.UtcNow < deadline.AddSeconds(30), $"only {events.Count} of 21 events arrived");
            await Task.Delay(20);
        }

        await cancel.CancelAsync();
        var seen = events.ToArray();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"v{i}"), seen.Take(20).Select(e => e.Kv.Value.ToStringUtf8()));
        Assert.Equal(Mvccpb.Event.Types.EventType.Delete, seen[20].Type);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.Item1.Kv.ModRevision < p.Item2.Kv.ModRevision));
        _ = watching;
    }
}
