using System.Text;
using System.Text.Json;
using KvCluster.Client.Cli;

namespace KvCluster.Tests.Client;

/// <summary><c>kv</c>'s etcd-API commands against a real etcd 3.4 started by the test (loopback, bounded).</summary>
[Trait("Category", "Integration")]
public sealed class EtcdCliIntegrationTests : IClassFixture<EtcdProcess>
{
    private readonly EtcdProcess _etcd;

    public EtcdCliIntegrationTests(EtcdProcess etcd)
    {
        _etcd = etcd;
        _etcd.Require();
    }

    [Fact]
    public async Task PutGetDel_Prefix_ListsThenDeletesEveryKeyUnderIt()
    {
        await Ok("put", "pfx/a", "1");
        await Ok("put", "pfx/b", "2");
        await Ok("put", "pfy", "3");

        var listed = await Ok("get", "pfx/", "--prefix");
        var deleted = await Ok("del", "pfx/", "--prefix");
        var after = await Run("get", "pfx/a");

        Assert.Equal(["pfx/a", "1", "pfx/b", "2"], Lines(listed));
        Assert.Equal(["2"], Lines(deleted));
        Assert.Equal(ExitCodes.NotFound, after.Code);
        Assert.Equal(string.Empty, after.Out);
        Assert.Equal("3", Lines(await Ok("get", "pfy", "--print-value-only"))[0]);
    }

    [Fact]
    public async Task Put_Simple_PrintsOkAndWithPrevKvThePreviousPair()
    {
        Assert.Equal(["OK"], Lines(await Ok("put", "pk", "old")));

        var output = await Ok("put", "pk", "new", "--prev-kv");

        Assert.Equal(["OK", "pk", "old"], Lines(output));
    }

    [Fact]
    public async Task Get_Rev_ReadsTheValueAtThatRevision()
    {
        using var first = JsonDocument.Parse(await Ok("put", "rk", "v1", "-w", "json"));
        var revision = first.RootElement.GetProperty("header").GetProperty("revision").GetInt64();
        await Ok("put", "rk", "v2");

        var old = await Ok("get", "rk", "--rev", revision.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var now = await Ok("get", "rk");

        Assert.Equal(["rk", "v1"], Lines(old));
        Assert.Equal(["rk", "v2"], Lines(now));
    }

    [Fact]
    public async Task Get_KeysOnlyCountOnlyLimitSort_ShapeTheAnswer()
    {
        await Ok("put", "sk/b", "x");
        await Ok("put", "sk/a", "z");
        await Ok("put", "sk/c", "y");

        var keysOnly = await Ok("get", "sk/", "--prefix", "--keys-only");
        var count = await Ok("get", "sk/", "--prefix", "--count-only", "-w", "fields");
        var limited = await Ok("get", "sk/", "--prefix", "--limit", "2", "--keys-only");
        var byValueDescending = await Ok("get", "sk/", "--prefix", "--sort-by", "VALUE", "--order", "DESCEND");
        var byCreate = await Ok("get", "sk/", "--prefix", "--sort-by", "CREATE", "--keys-only");

        Assert.Equal(["sk/a", "", "sk/b", "", "sk/c"], Lines(keysOnly)); // etcdctl: each key, then its (empty) value line
        Assert.Contains("\"Count\" : 3", count);
        Assert.DoesNotContain("\"Key\"", count);
        Assert.Equal(["sk/a", "sk/b"], Keys(limited));
        Assert.Equal(["sk/a", "z", "sk/c", "y", "sk/b", "x"], Lines(byValueDescending));
        Assert.Equal(["sk/b", "sk/a", "sk/c"], Keys(byCreate));
    }

    [Fact]
    public async Task Get_RangeEndAndFromKey_SelectByteOrderedRanges()
    {
        await Ok("put", "rg/1", "a");
        await Ok("put", "rg/2", "b");
        await Ok("put", "rg/3", "c");

        var range = await Ok("get", "rg/1", "rg/3", "--keys-only");
        var fromKey = await Ok("get", "rg/2", "--from-key", "--keys-only", "--limit", "2");

        Assert.Equal(["rg/1", "rg/2"], Keys(range));
        Assert.Equal(["rg/2", "rg/3"], Keys(fromKey));
    }

    [Fact]
    public async Task Get_Json_HasEtcdctlsShape()
    {
        await Ok("put", "jk", "jv");
        await Ok("put", "jk", "jv2");

        using var json = JsonDocument.Parse(await Ok("get", "jk", "-w", "json"));

        var header = json.RootElement.GetProperty("header");
        Assert.True(header.GetProperty("cluster_id").GetUInt64() > 0);
        Assert.True(header.GetProperty("member_id").GetUInt64() > 0);
        Assert.True(header.GetProperty("revision").GetInt64() > 0);
        Assert.True(header.GetProperty("raft_term").GetUInt64() > 0);
        var kv = Assert.Single(json.RootElement.GetProperty("kvs").EnumerateArray());
        Assert.Equal("jk", Encoding.UTF8.GetString(kv.GetProperty("key").GetBytesFromBase64()));
        Assert.Equal("jv2", Encoding.UTF8.GetString(kv.GetProperty("value").GetBytesFromBase64()));
        Assert.Equal(2, kv.GetProperty("version").GetInt64());
        Assert.Equal(kv.GetProperty("create_revision").GetInt64() + 1, kv.GetProperty("mod_revision").GetInt64());
        Assert.Equal(1, json.RootElement.GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task Get_Fields_PrintsHeaderAndPairFields()
    {
        await Ok("put", "fk", "fv");

        var fields = await Ok("get", "fk", "-w", "fields");

        foreach (var name in new[] { "\"ClusterID\" : ", "\"MemberID\" : ", "\"Revision\" : ", "\"RaftTerm\" : ", "\"Key\" : \"fk\"", "\"Value\" : \"fv\"", "\"Version\" : 1", "\"CreateRevision\" : ", "\"ModRevision\" : " })
        {
            Assert.Contains(name, fields);
        }
    }

    [Fact]
    public async Task Del_PrevKv_PrintsCountThenDeletedPairs()
    {
        await Ok("put", "dk", "dv");

        var output = await Ok("del", "dk", "--prev-kv");
        var again = await Run("del", "dk");

        Assert.Equal(["1", "dk", "dv"], Lines(output));
        Assert.Equal(ExitCodes.NotFound, again.Code);
        Assert.Equal(["0"], Lines(again.Out));
    }

    [Fact]
    public async Task Txn_CompareHolds_RunsTheSuccessBranch()
    {
        await Ok("put", "tx1", "here");

        var result = await RunWithInput("value(\"tx1\") = \"here\"\n\nput tx1 \"was here\"\nget tx1\n\nput tx1 missed\n", "txn");

        Assert.Equal(ExitCodes.Success, result.Code);
        Assert.Equal(["SUCCESS", "", "OK", "", "tx1", "was here"], Lines(result.Out));
    }

    [Fact]
    public async Task Txn_CompareFails_RunsTheFailureBranchAndExitsZero()
    {
        var path = Path.Combine(Path.GetTempPath(), "kv-txn-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(path, "mod(\"tx2\") > \"0\"\n\nput tx2 a\n\nput tx2 created\nget tx2\n");
        try
        {
            var result = await Run("txn", "--file", path);

            Assert.Equal(ExitCodes.Success, result.Code);
            Assert.Equal(["FAILURE", "", "OK", "", "tx2", "created"], Lines(result.Out));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Txn_BadCompare_ExitsTwoNamingTheLine()
    {
        var result = await RunWithInput("nonsense\n\n\n", "txn");

        Assert.Equal(ExitCodes.Usage, result.Code);
        Assert.Contains("bad compare 'nonsense'", result.Error);
    }

    [Fact]
    public async Task Cas_OnEtcd_WritesOnMatchAndExitsFiveOnMismatch()
    {
        Assert.Equal(["OK"], Lines(await Ok("cas", "ck", "v1", "--expected-version", "0")));

        var mismatch = await Run("cas", "ck", "v2", "--expected-version", "0");

        Assert.Equal(ExitCodes.Rejected, mismatch.Code);
        Assert.Contains("version mismatch", mismatch.Error);
    }

    [Fact]
    public async Task MemberListAndEndpointStatusAndHealth_DescribeTheOneMember()
    {
        var members = await Ok("member", "list");
        var status = await Ok("endpoint", "status");
        var health = await Ok("endpoint", "health");
        using var json = JsonDocument.Parse(await Ok("member", "list", "-w", "json"));

        var member = Assert.Single(Lines(members));
        Assert.Contains(", started, t1, ", member);
        Assert.Contains($"http://127.0.0.1:{_etcd.ClientPort}", member);
        Assert.StartsWith(_etcd.Endpoint + ", ", Assert.Single(Lines(status)));
        Assert.Contains(", true, false, ", status); // is leader, is learner
        Assert.StartsWith($"{_etcd.Endpoint} is healthy: successfully committed proposal", health);
        Assert.Equal("t1", Assert.Single(json.RootElement.GetProperty("members").EnumerateArray()).GetProperty("name").GetString());
    }

    [Fact]
    public async Task EndpointHashKv_AtARevision_PrintsTheHashEtcdctlPrints()
    {
        using var put = JsonDocument.Parse(await Ok("put", "hk", "1", "-w", "json"));
        var revision = put.RootElement.GetProperty("header").GetProperty("revision").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var ours = JsonDocument.Parse(await Ok("endpoint", "hashkv", "--rev", revision, "-w", "json"));
        using var theirs = JsonDocument.Parse(await new KvCluster.Tests.Lease.EtcdctlRunner(_etcd.Endpoint).OkAsync("endpoint", "hashkv", "--rev", revision, "-w", "json"));
        var simple = await Ok("endpoint", "hashkv", "--rev", revision);
        var negative = await Run("endpoint", "hashkv", "--rev", "-1");

        var entry = Assert.Single(ours.RootElement.EnumerateArray());
        var hash = entry.GetProperty("HashKV").GetProperty("hash").GetUInt32();
        Assert.Equal(_etcd.Endpoint, entry.GetProperty("Endpoint").GetString());
        Assert.Equal(Assert.Single(theirs.RootElement.EnumerateArray()).GetProperty("HashKV").GetProperty("hash").GetUInt32(), hash);
        Assert.StartsWith($"{_etcd.Endpoint}, {hash}", Assert.Single(Lines(simple)));
        Assert.Equal(ExitCodes.Usage, negative.Code);
        Assert.Contains("--rev", negative.Error);
    }

    [Fact]
    public async Task DefragAndAlarmList_AnswerAsEtcdctlDoes()
    {
        var defrag = await Ok("defrag");
        var alarms = await Run("alarm", "list");
        var extra = await Run("alarm", "list", "surplus");

        Assert.Equal($"Finished defragmenting etcd member[{_etcd.Endpoint}]", Assert.Single(Lines(defrag)));
        Assert.Equal(ExitCodes.Success, alarms.Code);
        Assert.Equal(string.Empty, alarms.Out); // a healthy etcd has no alarm
        Assert.Equal(ExitCodes.Usage, extra.Code);
    }

    [Fact]
    public async Task MoveLeader_ToAnUnknownMember_IsRejected()
    {
        var result = await Run("move-leader", "1234");

        Assert.NotEqual(ExitCodes.Success, result.Code);
        Assert.StartsWith("kv: ", result.Error);
    }

    [Fact]
    public async Task Get_NothingListening_ExitsThreeNamingTheEndpoint()
    {
        var port = EtcdProcess.FreeLoopbackPort();

        var result = await RunAt($"127.0.0.1:{port}", null, "get", "a", "--dial-timeout", "1s", "--command-timeout", "3s");

        Assert.Equal(ExitCodes.Unavailable, result.Code);
        Assert.StartsWith("kv: unavailable: ", result.Error);
    }

    [Fact]
    public async Task Get_FirstEndpointDown_UsesTheNext()
    {
        var port = EtcdProcess.FreeLoopbackPort();
        await Ok("put", "fo", "1");

        var result = await RunAt($"127.0.0.1:{port},{_etcd.Endpoint}", null, "get", "fo");

        Assert.Equal(ExitCodes.Success, result.Code);
        Assert.Equal(["fo", "1"], Lines(result.Out));
    }

    [Fact]
    public async Task Put_EmptyKey_ExitsFiveWithEtcdsMessage()
    {
        var result = await Run("put", "", "v");

        Assert.Equal(ExitCodes.Rejected, result.Code);
        Assert.Contains("key is not provided", result.Error);
    }

    /// <summary>The keys of --keys-only output (a key line, then an empty value line).</summary>
    internal static string[] Keys(string text) => Lines(text).Where(l => l.Length > 0).ToArray();

    internal static string[] Lines(string text) => text.Replace("\r", string.Empty, StringComparison.Ordinal).TrimEnd('\n').Split('\n');

    private async Task<string> Ok(params string[] args)
    {
        var result = await Run(args);
        Assert.True(result.Code == ExitCodes.Success, $"kv {string.Join(' ', args)} exited {result.Code}: {result.Error}");
        return result.Out;
    }

    private Task<CliResult> Run(params string[] args) => RunAt(_etcd.Endpoint, null, args);

    private Task<CliResult> RunWithInput(string stdin, params string[] args) => RunAt(_etcd.Endpoint, stdin, args);

    internal static async Task<CliResult> RunAt(string endpoints, string? stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new KvConsole { Out = output, Error = error, In = new StringReader(stdin ?? string.Empty), GetEnvironmentVariable = _ => null };
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var code = await KvCli.RunAsync([.. args, "--endpoints", endpoints], console, bound.Token);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    internal sealed record CliResult(int Code, string Out, string Error);
}

/// <summary>Compaction through <c>kv compact</c>, on an etcd of its own (it drops history other tests read).</summary>
[Trait("Category", "Integration")]
public sealed class EtcdCliCompactionTests : IClassFixture<EtcdProcess>
{
    private readonly EtcdProcess _etcd;

    public EtcdCliCompactionTests(EtcdProcess etcd)
    {
        _etcd = etcd;
        _etcd.Require();
    }

    [Fact]
    public async Task Compact_ThenReadBelowIt_ExitsFiveWithTheCompactedError()
    {
        var first = await EtcdCliIntegrationTests.RunAt(_etcd.Endpoint, null, "put", "ck", "1", "-w", "json");
        using var json = JsonDocument.Parse(first.Out);
        var old = json.RootElement.GetProperty("header").GetProperty("revision").GetInt64();
        await EtcdCliIntegrationTests.RunAt(_etcd.Endpoint, null, "put", "ck", "2");
        var latest = await EtcdCliIntegrationTests.RunAt(_etcd.Endpoint, null, "put", "ck", "3", "-w", "json");
        using var latestJson = JsonDocument.Parse(latest.Out);
        var compactAt = latestJson.RootElement.GetProperty("header").GetProperty("revision").GetInt64();

        var compacted = await EtcdCliIntegrationTests.RunAt(_etcd.Endpoint, null, "compact", compactAt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var below = await EtcdCliIntegrationTests.RunAt(_etcd.Endpoint, null, "get", "ck", "--rev", old.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var now = await EtcdCliIntegrationTests.RunAt(_etcd.Endpoint, null, "get", "ck");

        Assert.Equal(ExitCodes.Success, compacted.Code);
        Assert.Equal($"compacted revision {compactAt}", EtcdCliIntegrationTests.Lines(compacted.Out)[0]);
        Assert.Equal(ExitCodes.Rejected, below.Code);
        Assert.Contains("required revision has been compacted", below.Error);
        Assert.Equal(["ck", "3"], EtcdCliIntegrationTests.Lines(now.Out));
    }
}
