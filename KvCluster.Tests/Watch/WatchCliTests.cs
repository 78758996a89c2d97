using System.Text.Json;
using Akka.Actor;
using KvCluster.Client.Cli;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Lease;
using KvCluster.Tests.Node;
using static KvCluster.Tests.Client.EtcdCliIntegrationTests;

namespace KvCluster.Tests.Watch;

/// <summary><c>kv watch</c> against a real AkkaKv node: etcdctl's output, Ctrl-C's exit 130, a compacted start's exit 5.</summary>
[Trait("Category", "Integration")]
public sealed class WatchCliTests : IAsyncLifetime
{
    private KvTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await EtcdTestNodes.StartAsync(size: 1);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private string Endpoint => $"127.0.0.1:{_cluster.Options[0].ClientPort}";

    private async Task<string> Ok(params string[] args)
    {
        var result = await RunAt(Endpoint, null, args);
        Assert.True(result.Code == ExitCodes.Success, $"kv {string.Join(' ', args)} exited {result.Code}: {result.Error}");
        return result.Out;
    }

    private async Task AwaitSyncedAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await _cluster.Nodes[0]!.WatchHub.Ask<KvCluster.Node.Watch.WatchHubStatus>(KvCluster.Node.Watch.GetWatchHubStatus.Instance, TimeSpan.FromSeconds(30))).Synced < count)
        {
            Assert.True(DateTime.UtcNow < deadline, "the watch was not established within 30 s");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task WatchPrefix_PrintsEtcdctlsLinesUntilInterrupted_Exit130()
    {
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var watch = LongRun.Start(Endpoint, interrupt.Token, "watch", "w/", "--prefix", "--prev-kv");
        await AwaitSyncedAsync(1);
        await Ok("put", "w/a", "1");
        await Ok("put", "w/a", "2");
        await Ok("put", "other", "x");
        await Ok("del", "w/a");
        await watch.WaitForLineAsync(l => l == "DELETE");
        // 13 lines, the last (a delete's empty value) blank: Lines() drops trailing blanks.
        await WaitUntilAsync(() => Lines(watch.Output.ToString()).Length >= 12);

        await interrupt.CancelAsync();

        Assert.Equal(ExitCodes.Interrupted, await watch.Completion);
        Assert.StartsWith("PUT\nw/a\n1\nPUT\nw/a\n1\nw/a\n2\nDELETE\nw/a\n2\nw/a\n\n", watch.Output.ToString().Replace("\r", string.Empty, StringComparison.Ordinal));
    }

    [Fact]
    public async Task WatchRev_BelowTheCompactionPoint_IsCancelledWithExit5_AndJsonCarriesTheEvents()
    {
        using var put = JsonDocument.Parse(await Ok("put", "c", "1", "-w", "json"));
        var first = put.RootElement.GetProperty("header").GetProperty("revision").GetInt64();
        await Ok("put", "c", "2");
        await Ok("compact", (first + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var compacted = LongRun.Start(Endpoint, limit.Token, "watch", "c", "--rev", first.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(ExitCodes.Rejected, await compacted.Completion);
        Assert.Contains("watch was canceled (etcdserver: mvcc: required revision has been compacted", compacted.Output.ToString());

        var json = LongRun.Start(Endpoint, limit.Token, "watch", "c", "--rev", (first + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "-w", "json");
        var line = await json.WaitForLineAsync(l => l.Contains("\"Events\":[", StringComparison.Ordinal));
        await limit.CancelAsync();
        using var doc = JsonDocument.Parse(line);
        var kv = doc.RootElement.GetProperty("Events")[0].GetProperty("kv");
        Assert.Equal(first + 1, kv.GetProperty("mod_revision").GetInt64());
        Assert.Equal("2", System.Text.Encoding.UTF8.GetString(kv.GetProperty("value").GetBytesFromBase64()));
        Assert.True(doc.RootElement.GetProperty("Header").GetProperty("revision").GetInt64() >= first + 1);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(20);
        }
    }
}
