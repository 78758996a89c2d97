using Akka.Actor;
using Google.Protobuf;
using KvCluster.Client.Cli;
using KvCluster.Client.Etcd;
using KvCluster.Node.Watch;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Lease;
using static KvCluster.Tests.Client.EtcdCliIntegrationTests;

namespace KvCluster.Tests.Watch;

/// <summary>
/// <c>kv watch</c> over three real nodes when the member serving it crashes: the watch goes on at the next endpoint from
/// the revision after the last one it printed, so every revision is printed once, in order. When its only member loses
/// its leader, the member ends the stream (the watch asks for a leader as etcdctl's does) and the command exits with
/// etcd's error instead of waiting on a partitioned member.
/// </summary>
[Trait("Category", "Integration")]
public sealed class WatchCliFailoverTests
{
    [Fact]
    public async Task TheWatchedMemberCrashes_TheWatchResumesOnTheNext_EveryRevisionPrintedOnce()
    {
        await using var cluster = await LeaseTestCluster.StartAsync();
        var leader = await cluster.AwaitLeaderAsync();
        var watched = Enumerable.Range(0, 3).First(i => i != leader);
        var endpoints = string.Join(',', new[] { watched }.Concat(Enumerable.Range(0, 3).Where(i => i != watched)).Select(i => $"127.0.0.1:{cluster.Options[i].ClientPort}"));
        using var leaderChannel = cluster.Channel(leader);
        var kv = new KV.KVClient(leaderChannel);
        async Task<long> PutAsync(int i) => (await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("fo/k"), Value = ByteString.CopyFromUtf8($"v{i}") }, deadline: DateTime.UtcNow.AddSeconds(30))).Header.Revision;
        var first = await PutAsync(1);
        for (var i = 2; i <= 5; i++)
        {
            await PutAsync(i);
        }

        // From the first put's revision: the five puts come from the history, the next five live after the crash.
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var watch = LongRun.Start(endpoints, interrupt.Token, "watch", "fo/", "--prefix", "--rev", first.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await watch.WaitForLineAsync(l => l == "v5");
        Assert.Equal(1, (await cluster.Nodes[watched]!.WatchHub.Ask<WatchHubStatus>(GetWatchHubStatus.Instance, TimeSpan.FromSeconds(30))).Streams);
        await cluster.KillNodeAsync(watched);
        for (var i = 6; i <= 10; i++)
        {
            await PutAsync(i);
        }

        await watch.WaitForLineAsync(l => l == "v10");
        await interrupt.CancelAsync();

        Assert.Equal(ExitCodes.Interrupted, await watch.Completion);
        var values = Lines(watch.Output.ToString()).Where(l => l.StartsWith('v')).ToArray();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"v{i}"), values);
    }

    [Fact]
    public async Task TheOnlyWatchedMemberLosesItsLeader_TheWatchEndsWithNoLeader()
    {
        await using var cluster = await LeaseTestCluster.StartAsync();
        var leader = await cluster.AwaitLeaderAsync();
        var watched = Enumerable.Range(0, 3).First(i => i != leader);
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var watch = LongRun.Start($"127.0.0.1:{cluster.Options[watched].ClientPort}", interrupt.Token, "watch", "nl/", "--prefix");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await cluster.Nodes[watched]!.WatchHub.Ask<WatchHubStatus>(GetWatchHubStatus.Instance, TimeSpan.FromSeconds(30))).Synced < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the watch was not established within 30 s");
            await Task.Delay(20);
        }

        foreach (var other in Enumerable.Range(0, 3).Where(i => i != watched))
        {
            await cluster.KillNodeAsync(other);
        }

        // Without the requirement the stream would stay open on the leaderless member until interrupted.
        var code = await watch.Completion.WaitAsync(TimeSpan.FromSeconds(90));

        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("etcdserver: no leader", watch.Output.ToString());
    }
}
