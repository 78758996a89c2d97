using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Node.Hosting;
using KvCluster.Tests.Node;
using KvCluster.Tests.Persistence;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Tests.Etcd;

/// <summary>/health, /version and /metrics over HTTP/1.1 on the same client port as the gRPC API, and its start-up.</summary>
[Trait("Category", "Integration")]
public sealed partial class EtcdHttpEndpointTests
{
    [Fact]
    public async Task Health_WithALeader_Is200AndEtcdsJson()
    {
        await using var cluster = await EtcdTestNodes.StartAsync();
        using var http = cluster.Http();

        using var response = await http.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Version(1, 1), response.Version);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("true", json.RootElement.GetProperty("health").GetString());
    }

    [Fact]
    public async Task Health_WhenTheNodeKnowsNoLeader_Is503WithAReason()
    {
        await using var cluster = await EtcdTestNodes.StartAsync(3);
        var leader = await cluster.AwaitLeaderAsync();
        var survivor = Enumerable.Range(0, 3).First(i => i != leader);
        foreach (var other in Enumerable.Range(0, 3).Where(i => i != survivor))
        {
            await cluster.KillNodeAsync(other);
        }

        using var http = cluster.Http(survivor);
        var (status, health, reason) = await AwaitHealthAsync(http, HttpStatusCode.ServiceUnavailable);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("false", health);
        Assert.Equal("RAFT NO LEADER", reason);
    }

    [Fact]
    public async Task Health_PartitionedAwayFromItsPeers_TurnsUnhealthy_AndHealthyAgainAfterHealing()
    {
        await using var cluster = await KvTestCluster.StartAsync(3, pbm: true, clientPort: true, tune: o => o with { FaultInjection = true });
        var leader = await cluster.AwaitLeaderAsync();
        var cut = Enumerable.Range(0, 3).First(i => i != leader);
        var others = Enumerable.Range(0, 3).Where(i => i != cut).ToArray();
        using var http = cluster.Http(cut);
        Assert.Equal(HttpStatusCode.OK, (await AwaitHealthAsync(http, HttpStatusCode.OK)).Status);

        // A full partition, as the chaos nemesis makes one: both sides of each link to the cut node drop every frame.
        foreach (var other in others)
        {
            await FaultAsync(cluster, cut, $"fault blackhole {cluster.Options[other].Endpoint} both");
            await FaultAsync(cluster, other, $"fault blackhole {cluster.Options[cut].Endpoint} both");
        }

        var (partitioned, partitionedHealth, partitionedReason) = await AwaitHealthAsync(http, HttpStatusCode.ServiceUnavailable);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, partitioned);
        Assert.Equal("false", partitionedHealth);
        Assert.Equal("RAFT NO LEADER", partitionedReason);

        foreach (var index in Enumerable.Range(0, 3))
        {
            await FaultAsync(cluster, index, "fault heal");
        }

        var (healed, healedHealth, healedReason) = await AwaitHealthAsync(http, HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, healed);
        Assert.Equal("true", healedHealth);
        Assert.Equal(string.Empty, healedReason);
    }

    [Fact]
    public async Task Version_AnswersEtcdsFields()
    {
        await using var cluster = await EtcdTestNodes.StartAsync();
        using var http = cluster.Http();

        using var json = JsonDocument.Parse(await http.GetStringAsync("/version"));

        Assert.StartsWith("3.", json.RootElement.GetProperty("etcdserver").GetString());
        Assert.StartsWith("3.", json.RootElement.GetProperty("etcdcluster").GetString());
    }

    [Fact]
    public async Task Metrics_ParseAsPrometheusText_AndTheCommitIndexAndJournalHistogramsMoveWithWrites()
    {
        await using var cluster = await EtcdTestNodes.StartAsync();
        using var http = cluster.Http();
        using var channel = cluster.Channel();
        var kv = new KV.KVClient(channel);
        var before = await ScrapeAsync(http);

        for (var i = 0; i < 5; i++)
        {
            await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"m{i}"), Value = ByteString.CopyFromUtf8("v") }, deadline: DateTime.UtcNow.AddSeconds(20));
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        Dictionary<string, double> after;
        do
        {
            after = await ScrapeAsync(http);
        }
        while ((after["etcd_server_proposals_committed_total"] < before["etcd_server_proposals_committed_total"] + 5
                || after[JournalEntries + "_sum"] < before[JournalEntries + "_sum"] + 5) && DateTime.UtcNow < deadline && await Delay());

        Assert.True(after["etcd_server_proposals_committed_total"] >= before["etcd_server_proposals_committed_total"] + 5);
        Assert.True(after["etcd_server_proposals_applied_total"] >= before["etcd_server_proposals_applied_total"] + 5);
        Assert.Equal(1, after["etcd_server_has_leader"]);
        Assert.Equal(1, after["etcd_server_is_leader"]);
        Assert.True(after["grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"etcdserverpb.KV\",grpc_method=\"Put\",grpc_code=\"OK\"}"] >= 5);
        Assert.Contains("process_cpu_seconds_total", after.Keys);
        Assert.True(after["dotnet_gc_pause_seconds_total"] >= 0);
        Assert.True(after["dotnet_threadpool_threads"] >= 1);
        Assert.Contains("dotnet_threadpool_queue_length", after.Keys);
        Assert.True(after["etcd_mvcc_db_total_size_in_bytes"] > 0);

        // The journal: every put is a log entry written by the leader's journal, in at most 5 more writes, each timed.
        Assert.True(after[JournalEntries + "_sum"] >= before[JournalEntries + "_sum"] + 5);
        Assert.True(after[JournalWrite + "_count"] > before[JournalWrite + "_count"]);
        Assert.True(after[JournalWrite + "_sum"] > before[JournalWrite + "_sum"]);
        Assert.Contains(JournalWrite + "_bucket{le=\"0.0001\"}", after.Keys);
    }

    /// <summary>The journal write latency histogram (etcd_disk_wal_fsync_duration_seconds' analogue).</summary>
    private const string JournalWrite = "akkakv_journal_write_duration_seconds";

    /// <summary>The histogram of log entries per journal write.</summary>
    private const string JournalEntries = "akkakv_journal_entries_per_write";

    [Fact]
    public async Task Start_ClientPortInUse_FailsNamingThePort()
    {
        using var data = new TempDirectory();
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;
        var options = new NodeOptions { DataDir = data.Path, Port = NodeTestSupport.FreePort(), PbmPort = 0, ClientPort = taken };

        var error = await Assert.ThrowsAsync<IOException>(() => KvNode.StartAsync(options, NullLoggerFactory.Instance, NodeTestSupport.Hooks));

        Assert.Contains($"client port 127.0.0.1:{taken}", error.Message);
    }

    [Fact]
    public void Validate_ClientPortEqualToPort_NamesTheSetting()
    {
        var error = Assert.Throws<NodeConfigurationException>(() => new NodeOptions { Port = 4054, ClientPort = 4054 }.Validate());

        Assert.Equal("Node:ClientPort", error.Setting);
    }

    [Fact]
    public void Defaults_ClientPortIsEtcds2379_AndTheRequestLimitIs1Point5MiB()
    {
        var options = new NodeOptions();

        Assert.Equal(2379, options.ClientPort);
        Assert.Equal(1536 * 1024, options.MaxRequestBytes);
        Assert.Contains("--client-port", NodeSettingsTable.HelpText());
    }

    /// <summary>The samples of a Prometheus text exposition by series (name plus labels); fails on a line that is not one.</summary>
    private static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        var samples = new Dictionary<string, double>();
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                Assert.Matches(CommentLine(), line);
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            samples[match.Groups["series"].Value] = double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
        }

        return samples;
    }

    /// <summary>Runs a pbm command line on node <paramref name="index"/>; fails the spec unless it succeeds.</summary>
    private static async Task FaultAsync(KvTestCluster cluster, int index, string line)
    {
        var reply = await cluster.Nodes[index]!.Commands!.ExecuteAsync(line);
        Assert.True(reply.Status == KvCluster.Pbm.CommandStatus.Ok, $"node {index + 1}: '{line}' -> {reply.Status}: {reply.Body}");
    }

    /// <summary>Polls /health until it answers <paramref name="wanted"/> (or a minute passed); the last answer.</summary>
    private static async Task<(HttpStatusCode Status, string? Health, string? Reason)> AwaitHealthAsync(HttpClient http, HttpStatusCode wanted)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var response = await http.GetAsync("/health");
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var answer = (response.StatusCode, json.RootElement.GetProperty("health").GetString(), json.RootElement.GetProperty("reason").GetString());
            if (response.StatusCode == wanted || DateTime.UtcNow > deadline)
            {
                return answer;
            }

            await Task.Delay(50);
        }
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(100);
        return true;
    }

    [GeneratedRegex(@"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]*( .*)?$")]
    private static partial Regex CommentLine();

    [GeneratedRegex(@"^(?<series>[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?) (?<value>[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|NaN|\+?Inf|-Inf))( \d+)?$")]
    private static partial Regex SampleLine();
}
