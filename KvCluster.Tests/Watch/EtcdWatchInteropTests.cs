using Akka.Actor;
using Grpc.Core;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;
using KvCluster.Node.Watch;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Node;
using static KvCluster.Tests.Watch.WatchSpecSupport;

namespace KvCluster.Tests.Watch;

/// <summary>
/// etcd's Watch on a real three-node AkkaKv: Debian's etcdctl 3.4 unmodified, dotnet-etcd 10.0.0, and a raw gRPC
/// client that resumes on another node after the leader it watched on crashed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdWatchInteropTests : IAsyncLifetime
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private KvTestCluster _cluster = null!;
    private DateTime _started;

    public async Task InitializeAsync()
    {
        _cluster = await EtcdTestNodes.StartAsync(size: 3);
        _started = DateTime.UtcNow;
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private string HostPort(int index) => $"127.0.0.1:{_cluster.Options[index].ClientPort}";

    /// <summary>Waits until node <paramref name="index"/>'s hub has <paramref name="synced"/> synced watchers.</summary>
    private async Task AwaitWatchersAsync(int index, int synced)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while ((await _cluster.Nodes[index]!.WatchHub.Ask<WatchHubStatus>(GetWatchHubStatus.Instance, s_wait)).Synced < synced)
        {
            Assert.True(DateTime.UtcNow < deadline, $"node {index + 1} never had {synced} synced watcher(s)");
            await Task.Delay(20);
        }
    }

    private static EtcdctlLines StartEtcdctlWatch(string endpoint, params string[] args) => new(endpoint, ["watch", .. args]);

    /// <summary>Reads etcdctl watch's lines (type, key, value per event; a delete's value line is empty) until <paramref name="events"/> events came.</summary>
    private static async Task<List<(string Type, string Key, string Value)>> ReadEventsAsync(EtcdctlLines etcdctl, int events)
    {
        var seen = new List<(string, string, string)>();
        var deadline = DateTime.UtcNow + s_wait;
        while (seen.Count < events)
        {
            var type = await ReadLineAsync(etcdctl, deadline, seen.Count);
            var key = await ReadLineAsync(etcdctl, deadline, seen.Count);
            var value = await ReadLineAsync(etcdctl, deadline, seen.Count);
            seen.Add((type, key, value));
        }

        return seen;
    }

    /// <summary>One line of etcdctl's output, failing the test when it ends or stays silent past <paramref name="deadline"/>.</summary>
    private static async Task<string> ReadLineAsync(EtcdctlLines etcdctl, DateTime deadline, int seen)
    {
        var line = await etcdctl.NextLineAsync(deadline);
        Assert.True(line is not null, $"etcdctl watch printed nothing more after {seen} events/lines within {s_wait.TotalSeconds} s: {etcdctl.Errors}");
        return line!;
    }

    [Fact]
    public async Task EtcdctlWatchPrefix_OnAnyNode_SeesEveryChangeOfAConcurrentWriterInOrder()
    {
        using var etcdctl = StartEtcdctlWatch(HostPort(1), "--prefix", "w/");
        try
        {
            await AwaitWatchersAsync(1, 1);
            using var channel = _cluster.Channel(2);
            var kv = new KV.KVClient(channel);
            await WithRetryAsync(() => kv.PutAsync(new PutRequest { Key = B("warm-up"), Value = B("x") }).ResponseAsync);
            const int count = 60;
            var retried = false;
            var writer = Task.Run(async () =>
            {
                for (var i = 0; i < count; i++)
                {
                    var put = new PutRequest { Key = B($"w/{i % 7}"), Value = B($"v{i}") };
                    retried |= await WithRetryAsync(() => kv.PutAsync(put).ResponseAsync);
                    await WithRetryAsync(() => kv.PutAsync(new PutRequest { Key = B($"x/{i}"), Value = B("outside") }).ResponseAsync);
                }

                retried |= await WithRetryAsync(() => kv.DeleteRangeAsync(new DeleteRangeRequest { Key = B("w/3") }).ResponseAsync);
            });

            var reading = ReadEventsAsync(etcdctl, count + 1);
            await Task.WhenAny(reading, writer);
            await writer;
            var events = await reading;

            var expected = Enumerable.Range(0, count).Select(i => ("PUT", $"w/{i % 7}", $"v{i}")).Append(("DELETE", "w/3", string.Empty)).ToList();
            if (!retried)
            {
                Assert.Equal(expected, events);
            }
            else
            {
                // A put retried after "no leader" may have been applied twice: the same event twice in a row.
                Assert.Equal(expected, events.Where((e, i) => i == 0 || e != events[i - 1]).Take(expected.Count));
            }
        }
        finally
        {
            etcdctl.Dispose();
        }
    }

    [Fact]
    public async Task EtcdctlWatchRev_ReplaysThePastThenFollowsLive()
    {
        using var channel = _cluster.Channel(0);
        var kv = new KV.KVClient(channel);
        await WithRetryAsync(() => kv.PutAsync(new PutRequest { Key = B("warm-up"), Value = B("x") }).ResponseAsync);
        var first = 0L;
        await WithRetryAsync(async () => first = (await kv.PutAsync(new PutRequest { Key = B("r"), Value = B("1") })).Header.Revision);
        await WithRetryAsync(() => kv.PutAsync(new PutRequest { Key = B("r"), Value = B("2") }).ResponseAsync);
        using var etcdctl = StartEtcdctlWatch(HostPort(2), "r", "--rev", first.ToString(System.Globalization.CultureInfo.InvariantCulture), "--prev-kv");
        try
        {
            await AwaitWatchersAsync(2, 1);
            await WithRetryAsync(() => kv.PutAsync(new PutRequest { Key = B("r"), Value = B("3") }).ResponseAsync);


            // With --prev-kv etcdctl prints the previous pair (key, value) between the type and the new pair.
            var lines = new List<string>();
            var deadline = DateTime.UtcNow + s_wait;
            while (lines.Count < 3 + 5 + 5)
            {
                lines.Add(await ReadLineAsync(etcdctl, deadline, lines.Count));
            }

            Assert.Equal(["PUT", "r", "1", "PUT", "r", "1", "r", "2", "PUT", "r", "2", "r", "3"], lines);
        }
        finally
        {
            etcdctl.Dispose();
        }
    }

    [Fact]
    public async Task RawWatch_LeaderCrashes_ResumingFromLastPlusOneOnAnotherNodeMissesNothing()
    {
        var leader = await _cluster.AwaitLeaderAsync();
        var writerNode = (leader + 1) % 3;
        var resumeNode = (leader + 2) % 3;
        var events = new List<long>();
        var acknowledged = new List<long>();
        using var stopWriting = new CancellationTokenSource();

        // Watch on the leader, write through a follower (it forwards to whichever node leads).
        var watching = WatchUntilCancelledAsync(_cluster.Channel(leader), "crash/", 0, events);
        await AwaitWatchersAsync(leader, 1);
        var writer = WriteUntilAsync(_cluster.Channel(writerNode), "crash/", acknowledged, stopWriting.Token);
        await WaitUntilAsync(() => Count(acknowledged) >= 20, "20 acknowledged writes before the crash");

        await _cluster.KillNodeAsync(leader);
        await Assert.ThrowsAnyAsync<Exception>(() => watching);
        var last = Last(events);
        await WaitUntilAsync(() => Count(acknowledged) >= 60, "writes to go on after the crash");
        await stopWriting.CancelAsync();
        await writer;

        using var resumed = new CancellationTokenSource(s_wait);
        var target = Last(acknowledged);
        var resumedEvents = new List<long>();
        var resume = WatchUntilCancelledAsync(_cluster.Channel(resumeNode), "crash/", last + 1, resumedEvents, resumed.Token);
        await WaitUntilAsync(() => Last(resumedEvents) >= target, $"the resumed watch to reach revision {target}");
        await resumed.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => resume);

        // Only this writer writes: its revisions are consecutive, and the two streams together hold each once.
        var all = events.Concat(resumedEvents).ToList();
        Assert.Equal(Enumerable.Range((int)all[0], all.Count).Select(r => (long)r), all);
        Assert.Superset(acknowledged.ToHashSet(), all.ToHashSet());
    }

    /// <summary>Runs a request again while the cluster answers Unavailable (no leader yet); true when it had to retry.</summary>
    private async Task<bool> WithRetryAsync<T>(Func<Task<T>> call)
    {
        var deadline = _started + TimeSpan.FromMinutes(3);
        for (var retried = false; ; retried = true)
        {
            try
            {
                await call();
                return retried;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static int Count(List<long> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static long Last(List<long> list)
    {
        lock (list)
        {
            return list.Count == 0 ? 0 : list[^1];
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Watches a prefix from <paramref name="start"/>, recording each event's revision, until the stream fails or is cancelled.</summary>
    private static async Task WatchUntilCancelledAsync(GrpcChannel channel, string prefix, long start, List<long> revisions, CancellationToken cancel = default)
    {
        using (channel)
        {
            var client = new KvCluster.Client.Etcd.Watch.WatchClient(channel);
            using var call = client.Watch(cancellationToken: cancel);
            var create = Prefix(prefix, startRevision: start);
            await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = create }, cancel);
            await foreach (var response in call.ResponseStream.ReadAllAsync(cancel))
            {
                Assert.False(response.Canceled, response.CancelReason);
                lock (revisions)
                {
                    revisions.AddRange(response.Events.Select(e => e.Kv.ModRevision));
                }
            }

            throw new IOException("the watch stream ended");
        }
    }

    /// <summary>Puts under <paramref name="prefix"/> until cancelled, recording acknowledged revisions; failed puts are retried.</summary>
    private static async Task WriteUntilAsync(GrpcChannel channel, string prefix, List<long> acknowledged, CancellationToken stop)
    {
        using (channel)
        {
            var kv = new KV.KVClient(channel);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var put = await kv.PutAsync(new PutRequest { Key = B($"{prefix}{i % 5}"), Value = B($"{i}") }, deadline: DateTime.UtcNow.AddSeconds(5));
                    lock (acknowledged)
                    {
                        acknowledged.Add(put.Header.Revision);
                    }
                }
                catch (RpcException)
                {
                    // No leader for a moment (the crash): try again.
                    await Task.Delay(50, CancellationToken.None);
                }
            }
        }
    }
}
