using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KvCluster.Tests.Client;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Etcd;

/// <summary>
/// etcd's JSON gateway (<c>POST /v3/...</c>) on a one-node AkkaKv and on a real etcd 3.4 started by the test, with the
/// same requests over plain HTTP/1.1: the responses must have etcd's shape (field names, 64-bit integers as strings,
/// base64 bytes), its errors the same HTTP status and gRPC code, and its streams the same lines.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdJsonGatewayTests : IClassFixture<EtcdProcess>, IAsyncLifetime
{
    private readonly EtcdProcess _etcd;
    private KvTestCluster _akkakv = null!;

    public EtcdJsonGatewayTests(EtcdProcess etcd)
    {
        _etcd = etcd;
        _etcd.Require();
    }

    public async Task InitializeAsync() => _akkakv = await EtcdTestNodes.StartAsync(1);

    public async Task DisposeAsync() => await _akkakv.DisposeAsync();

    /// <summary>Both systems' base URLs, etcd first.</summary>
    private IEnumerable<(string System, string Url)> Systems =>
        [("etcd", $"http://{_etcd.Endpoint}"), ("akkakv", _akkakv.Url())];

    [Fact]
    public async Task PutRangeTxnDelete_AnswerWithEtcdsJson()
    {
        var key = B64("gw/" + Guid.NewGuid().ToString("N"));
        foreach (var (system, url) in Systems)
        {
            using var http = Http(url);
            var put = await OkAsync(http, "/v3/kv/put", $$"""{"key":"{{key}}","value":"{{B64("one")}}"}""");
            var revision = (string)put["header"]!["revision"]!;
            Assert.True(long.Parse(revision, System.Globalization.CultureInfo.InvariantCulture) > 0, system);

            // prev_kv in proto's name and in JSON's camel case alike; an unknown field is ignored, as etcd's gateway does.
            var second = await OkAsync(http, "/v3/kv/put", $$"""{"key":"{{key}}","value":"{{B64("two")}}","prevKv":true,"no_such_field":1}""");
            Assert.Equal(B64("one"), (string)second["prev_kv"]!["value"]!);

            var range = await OkAsync(http, "/v3/kv/range", $$"""{"key":"{{key}}"}""");
            var kv = range["kvs"]![0]!;
            Assert.Equal(["create_revision", "key", "mod_revision", "value", "version"], ((JsonObject)kv).Select(p => p.Key).Order());
            Assert.Equal(revision, (string)kv["create_revision"]!);
            Assert.Equal("2", (string)kv["version"]!);
            Assert.Equal("1", (string)range["count"]!);
            Assert.Equal(["cluster_id", "member_id", "raft_term", "revision"], ((JsonObject)range["header"]!).Select(p => p.Key).Order());

            var txn = await OkAsync(http, "/v3/kv/txn", $$$"""
                {"compare":[{"target":"VALUE","key":"{{{key}}}","value":"{{{B64("two")}}}"}],
                 "success":[{"requestPut":{"key":"{{{key}}}","value":"{{{B64("three")}}}"}}],
                 "failure":[{"request_range":{"key":"{{{key}}}"}}]}
                """);
            Assert.True((bool)txn["succeeded"]!, system);
            Assert.NotNull(txn["responses"]![0]!["response_put"]);

            var deleted = await OkAsync(http, "/v3/kv/deleterange", $$"""{"key":"{{key}}","prev_kv":true}""");
            Assert.Equal("1", (string)deleted["deleted"]!);
            Assert.Equal(B64("three"), (string)deleted["prev_kvs"]![0]!["value"]!);
            Assert.Null((await OkAsync(http, "/v3/kv/range", $$"""{"key":"{{key}}"}"""))["kvs"]);
        }
    }

    [Fact]
    public async Task Errors_HaveEtcdsStatusCodeAndBody()
    {
        foreach (var (system, url) in Systems)
        {
            using var http = Http(url);
            await ErrorAsync(http, "/v3/kv/put", """{"key":"","value":"eA=="}""", HttpStatusCode.BadRequest, 3, "etcdserver: key is not provided", system);
            await ErrorAsync(http, "/v3/kv/range", "", HttpStatusCode.BadRequest, 3, "etcdserver: key is not provided", system);
            await ErrorAsync(http, "/v3/kv/range", """{"key":"eA==","revision":"900000000"}""", HttpStatusCode.BadRequest, 11, "etcdserver: mvcc: required revision is a future revision", system);
            await ErrorAsync(http, "/v3/kv/range", "{bad json", HttpStatusCode.BadRequest, 3, null, system);
            await ErrorAsync(http, "/v3/lease/revoke", """{"ID":"12345"}""", HttpStatusCode.NotFound, 5, "etcdserver: requested lease not found", system);

            using var unknown = await http.PostAsync("/v3/kv/nosuch", new StringContent("{}"));
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            using var get = await http.GetAsync("/v3/kv/range");
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        }
    }

    [Fact]
    public async Task LeaseClusterAndMaintenance_AnswerWithEtcdsFields()
    {
        foreach (var (system, url) in Systems)
        {
            using var http = Http(url);
            var grant = await OkAsync(http, "/v3/lease/grant", """{"TTL":60}""");
            Assert.Equal("60", (string)grant["TTL"]!);
            var id = (string)grant["ID"]!;

            // etcd 3.4 serves the lease calls under /v3/kv/lease too.
            var ttl = await OkAsync(http, "/v3/kv/lease/timetolive", $$"""{"ID":"{{id}}"}""");
            Assert.Equal("60", (string)ttl["grantedTTL"]!);
            var leases = await OkAsync(http, "/v3/lease/leases", "{}");
            Assert.Contains(leases["leases"]!.AsArray(), l => (string)l!["ID"]! == id);
            Assert.NotNull(await OkAsync(http, "/v3/lease/revoke", $$"""{"ID":"{{id}}"}"""));

            var members = await OkAsync(http, "/v3/cluster/member/list", "{}");
            Assert.Single(members["members"]!.AsArray());
            Assert.NotNull(members["members"]![0]!["clientURLs"]);

            var status = await OkAsync(http, "/v3/maintenance/status", "{}");
            foreach (var field in new[] { "version", "dbSize", "leader", "raftIndex", "raftTerm", "raftAppliedIndex" })
            {
                Assert.True(status[field] is not null, $"{system}: status has no {field}: {status}");
            }

            var hash = await OkAsync(http, "/v3/maintenance/hash", "{}");
            Assert.Equal(JsonValueKind.Number, hash["hash"]!.GetValueKind()); // a uint32: a JSON number, not a string
        }
    }

    [Fact]
    public async Task Watch_StreamsEtcdsResultLines_AndKeepAliveAnswersEachRequest()
    {
        foreach (var (system, url) in Systems)
        {
            using var http = Http(url);
            var key = B64("gw-watch/" + system);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v3/watch") { Content = new StringContent($$$"""{"create_request":{"key":"{{{key}}}"}}""") };
            using var watch = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, watch.StatusCode);
            using var lines = new StreamReader(await watch.Content.ReadAsStreamAsync());

            var created = await LineAsync(lines);
            Assert.True((bool)created["result"]!["created"]!, $"{system}: {created}");
            await OkAsync(http, "/v3/kv/put", $$"""{"key":"{{key}}","value":"{{B64("seen")}}"}""");
            var events = await LineAsync(lines);
            Assert.Equal(B64("seen"), (string)events["result"]!["events"]![0]!["kv"]!["value"]!);

            var id = (string)(await OkAsync(http, "/v3/lease/grant", """{"TTL":30}"""))["ID"]!;
            using var keepAlive = await http.PostAsync("/v3/lease/keepalive", new StringContent($$"""{"ID":"{{id}}"}"""));
            var first = JsonNode.Parse((await keepAlive.Content.ReadAsStringAsync()).Split('\n')[0])!;
            Assert.Equal(id, (string)first["result"]!["ID"]!);
            Assert.Equal("30", (string)first["result"]!["TTL"]!);
        }
    }

    [Fact]
    public async Task AMalformedWatchRequest_IsRefusedWithInvalidArgument_AndTheNodeServesOn()
    {
        using var http = Http(_akkakv.Url());
        await ErrorAsync(http, "/v3/watch", "{bad", HttpStatusCode.BadRequest, 3, null, "akkakv");

        // Well-formed first, malformed after it: the stream ends with the error line (or, if it comes before any
        // response, the error body).
        using var both = await http.PostAsync("/v3/watch", new StringContent("""{"create_request":{"key":"eA=="}} {bad"""));
        var text = await both.Content.ReadAsStringAsync();
        Assert.Contains("invalid start of a property name", text);
        Assert.NotNull(await OkAsync(http, "/v3/kv/range", """{"key":"eA=="}"""));
    }

    private static HttpClient Http(string url) => new() { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static async Task<JsonNode> OkAsync(HttpClient http, string path, string body)
    {
        using var response = await http.PostAsync(path, new StringContent(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path} {body}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private static async Task ErrorAsync(HttpClient http, string path, string body, HttpStatusCode status, int code, string? message, string system)
    {
        using var response = await http.PostAsync(path, new StringContent(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{system} {path} {body}: {(int)response.StatusCode} {text}");
        var error = JsonNode.Parse(text)!;
        Assert.Equal(code, (int)error["code"]!);
        Assert.Equal((string)error["error"]!, (string)error["message"]!);
        if (message is not null)
        {
            Assert.Equal(message, (string)error["message"]!);
        }
    }

    private static async Task<JsonNode> LineAsync(StreamReader lines)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var line = await lines.ReadLineAsync(timeout.Token);
        Assert.False(string.IsNullOrEmpty(line), "the stream ended");
        return JsonNode.Parse(line!)!;
    }
}
