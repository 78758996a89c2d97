using System.Text;
using System.Text.Json;

namespace KvCluster.Tests.Etcd;

/// <summary>
/// A real three-node AkkaKv answering Debian's etcdctl 3.4 (package etcd-client, installed by scripts/test.sh and
/// .ci/run), a client none of us wrote, unmodified, over every node's client port.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdctlInteropTests : IAsyncLifetime
{
    private KvCluster.Tests.Node.KvTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await EtcdTestNodes.StartAsync(size: 3);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private string AllEndpoints => string.Join(',', Enumerable.Range(0, 3).Select(HostPort));

    /// <summary>host:port, one of the two forms etcdctl takes (<see cref="Url"/> is the other).</summary>
    private string HostPort(int index) => $"127.0.0.1:{_cluster.Options[index].ClientPort}";

    /// <summary>http://host:port, the form member list gives and etcd's own docs often use.</summary>
    private string Url(int index) => $"http://{HostPort(index)}";

    [Fact]
    public async Task PutGetDel_WithPrefixAndReadFlags_AnswerAsEtcdDoes()
    {
        foreach (var (key, value) in new[] { ("app/b", "2"), ("app/a", "1"), ("app/c", "3"), ("other", "x") })
        {
            Assert.Equal("OK", (await RunOkAsync("put", key, value)).Trim());
        }

        Assert.Equal("app/a\n1\napp/b\n2\napp/c\n3\n", await RunOkAsync("get", "app/", "--prefix"));
        Assert.Equal("app/a\napp/b\napp/c\n", Blankless(await RunOkAsync("get", "app/", "--prefix", "--keys-only")));
        Assert.Equal("app/c\n3\napp/b\n2\n", await RunOkAsync("get", "app/", "--prefix", "--limit", "2", "--sort-by", "KEY", "--order", "DESCEND"));

        // etcdctl 3.4 has no --count-only; the count and "more" of a limited read show the same fields.
        using var count = JsonDocument.Parse(await RunOkAsync("get", "app/", "--prefix", "--limit", "1", "-w", "json"));
        Assert.Equal(3, count.RootElement.GetProperty("count").GetInt64());
        Assert.True(count.RootElement.GetProperty("more").GetBoolean());

        // prev-kv on put: the old value comes back after "OK".
        Assert.Equal("OK\napp/a\n1\n", await RunOkAsync("put", "app/a", "1b", "--prev-kv"));
        Assert.Equal("3\n", await RunOkAsync("del", "app/", "--prefix"));
        Assert.Equal(string.Empty, await RunOkAsync("get", "app/", "--prefix"));
        Assert.Equal("other\nx\n", await RunOkAsync("get", "other"));
    }

    [Fact]
    public async Task GetJson_CarriesEtcdsFields_AndRevReadsThePast()
    {
        await RunOkAsync("put", "k", "v1");
        await RunOkAsync("put", "k", "v2");
        using var doc = JsonDocument.Parse(await RunOkAsync("get", "k", "-w", "json"));
        var header = doc.RootElement.GetProperty("header");
        var kv = doc.RootElement.GetProperty("kvs")[0];
        var revision = header.GetProperty("revision").GetInt64();
        Assert.NotEqual(0UL, header.GetProperty("cluster_id").GetUInt64());
        Assert.NotEqual(0UL, header.GetProperty("member_id").GetUInt64());
        Assert.True(header.GetProperty("raft_term").GetUInt64() > 0);
        Assert.Equal("k", Encoding.UTF8.GetString(kv.GetProperty("key").GetBytesFromBase64()));
        Assert.Equal("v2", Encoding.UTF8.GetString(kv.GetProperty("value").GetBytesFromBase64()));
        Assert.Equal(2, kv.GetProperty("version").GetInt64());
        Assert.Equal(revision, kv.GetProperty("mod_revision").GetInt64());
        Assert.Equal(revision - 1, kv.GetProperty("create_revision").GetInt64());

        // The store as it was at the first put.
        Assert.Equal("k\nv1\n", await RunOkAsync("get", "k", "--rev", (revision - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Txn_BothBranches_RunTheBranchTheCompareChooses()
    {
        await RunOkAsync("put", "lock", "free");

        // etcdctl's non-interactive txn: compares, blank line, success ops, blank line, failure ops.
        var taken = await RunWithInputAsync("value(\"lock\") = \"free\"\n\nput lock held\nput owner me\n\nget lock\n\n", "txn");
        Assert.StartsWith("SUCCESS", taken);
        Assert.Equal("lock\nheld\n", await RunOkAsync("get", "lock"));
        Assert.Equal("owner\nme\n", await RunOkAsync("get", "owner"));

        var refused = await RunWithInputAsync("value(\"lock\") = \"free\"\n\nput lock again\n\nget lock\n\n", "txn");
        Assert.StartsWith("FAILURE", refused);
        Assert.Contains("held", refused);
        Assert.Equal("lock\nheld\n", await RunOkAsync("get", "lock"));
    }

    [Fact]
    public async Task Compact_ThenReadBelowIt_GivesEtcdsCompactedError()
    {
        await RunOkAsync("put", "c", "1");
        await RunOkAsync("put", "c", "2");
        using var doc = JsonDocument.Parse(await RunOkAsync("get", "c", "-w", "json"));
        var revision = doc.RootElement.GetProperty("header").GetProperty("revision").GetInt64();
        var rev = revision.ToString(System.Globalization.CultureInfo.InvariantCulture);

        Assert.Contains($"compacted revision {rev}", await RunOkAsync("compaction", rev));
        var below = await RunAsync(null, "get", "c", "--rev", (revision - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.NotEqual(0, below.ExitCode);
        Assert.Contains("required revision has been compacted", below.Error);
        Assert.Equal("c\n2\n", await RunOkAsync("get", "c"));
    }

    [Fact]
    public async Task MemberListAndEndpoints_ShowTheThreeNodesHealthyWithOneLeader()
    {
        using var members = JsonDocument.Parse(await RunOkAsync("member", "list", "-w", "json"));
        Assert.Equal(3, members.RootElement.GetProperty("members").GetArrayLength());

        var health = await RunAsync(null, "endpoint", "health", "--endpoints", AllEndpoints);
        Assert.True(health.ExitCode == 0, health.Error);
        Assert.Equal(3, CountLines(health.Output + health.Error, "is healthy"));

        using var status = JsonDocument.Parse(await RunOkAsync("endpoint", "status", "--endpoints", AllEndpoints, "-w", "json"));
        var statuses = status.RootElement.EnumerateArray().Select(e => e.GetProperty("Status")).ToArray();
        Assert.Equal(3, statuses.Length);
        var leaders = statuses.Select(s => s.GetProperty("leader").GetUInt64()).Distinct().ToArray();
        Assert.Single(leaders);
        Assert.Contains(statuses, s => s.GetProperty("header").GetProperty("member_id").GetUInt64() == leaders[0]);
    }

    [Fact]
    public async Task UrlEndpoints_AndCluster_ReachEveryMemberWithThePerEndpointCommands()
    {
        // Given URLs, etcdctl 3.4 sends the whole URL as HTTP/2's :authority on its per-endpoint calls, and --cluster
        // dials the members' client URLs from member list (the node makes that authority acceptable to Kestrel).
        using var one = JsonDocument.Parse(await RunOkAsync("endpoint", "status", "--endpoints", Url(1), "-w", "json"));
        Assert.Equal(Url(1), one.RootElement[0].GetProperty("Endpoint").GetString());
        Assert.Equal(_cluster.Options[1].Id, one.RootElement[0].GetProperty("Status").GetProperty("header").GetProperty("member_id").GetUInt64());

        // A member's client URL is known once it is Up in the Akka cluster (its client port travels as a role).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var members = JsonDocument.Parse(await RunOkAsync("member", "list", "-w", "json", "--endpoints", Url(0)));
            if (members.RootElement.GetProperty("members").EnumerateArray().All(m => m.TryGetProperty("clientURLs", out var urls) && urls.GetArrayLength() == 1))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "member list did not give three client URLs: " + members.RootElement);
            await Task.Delay(200);
        }

        using var all = JsonDocument.Parse(await RunOkAsync("endpoint", "status", "--cluster", "--endpoints", Url(0), "-w", "json"));
        Assert.Equal(
            Enumerable.Range(0, 3).Select(Url).Order(),
            all.RootElement.EnumerateArray().Select(e => e.GetProperty("Endpoint").GetString()!).Order());

        await RunOkAsync("put", "url-endpoints", "1");
        var hashes = await RunOkAsync("endpoint", "hashkv", "--cluster", "--endpoints", Url(2));
        Assert.Equal(3, CountLines(hashes, "http://127.0.0.1:"));

        // etcdctl's health check of each member (a Get on its own client for every URL).
        var health = await RunAsync(null, "endpoint", "health", "--cluster", "--endpoints", Url(0));
        Assert.True(health.ExitCode == 0, health.Error);
        Assert.Equal(3, CountLines(health.Output + health.Error, "is healthy"));
    }

    [Fact]
    public async Task MoveLeader_ToAFollower_MakesItTheLeader()
    {
        // etcdctl move-leader must be pointed at the leader; when leadership moves between finding it and the call
        // (an election in this class's shared cluster), etcdctl says "no leader endpoint given": find it again.
        var leader = await _cluster.AwaitLeaderAsync();
        var target = Enumerable.Range(0, 3).First(i => i != leader);
        var targetId = _cluster.Options[target].Id.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        var moved = await RunAsync(null, "move-leader", targetId, "--endpoints", Url(leader));
        for (var attempt = 1; attempt < 5 && moved.ExitCode != 0 && moved.Error.Contains("no leader endpoint given", StringComparison.Ordinal); attempt++)
        {
            leader = await _cluster.AwaitLeaderAsync();
            target = Enumerable.Range(0, 3).First(i => i != leader);
            targetId = _cluster.Options[target].Id.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
            moved = await RunAsync(null, "move-leader", targetId, "--endpoints", Url(leader));
        }

        Assert.True(moved.ExitCode == 0, moved.Error);
        Assert.Contains("Leadership transferred", moved.Output);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await _cluster.AwaitLeaderAsync() != target)
        {
            Assert.True(DateTime.UtcNow < deadline, "the leadership did not move to the target");
            await Task.Delay(100);
        }
    }

    private static int CountLines(string text, string needle) => text.Split('\n').Count(l => l.Contains(needle, StringComparison.Ordinal));

    private static string Blankless(string text) => string.Join('\n', text.Split('\n').Where(l => l.Length > 0)) + "\n";

    private Task<string> RunOkAsync(params string[] args) => RunWithInputAsync(null, args);

    private async Task<string> RunWithInputAsync(string? stdin, params string[] args)
    {
        var result = await RunAsync(stdin, args);
        Assert.True(result.ExitCode == 0, $"etcdctl {string.Join(' ', args)} exited {result.ExitCode}: {result.Error}");
        return result.Output;
    }

    private Task<EtcdctlResult> RunAsync(string? stdin, params string[] args) => RunAsync(stdin, TimeSpan.FromSeconds(40), args);

    /// <summary>Runs etcdctl (API v3) against the first node unless the arguments name endpoints; bounded by <paramref name="limit"/>.</summary>
    private Task<EtcdctlResult> RunAsync(string? stdin, TimeSpan limit, params string[] args) => EtcdTestNodes.EtcdctlAsync(HostPort(0), stdin, limit, args);
}
