using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using KvCluster.Client;
using KvCluster.Client.Protocol;

namespace KvCluster.Tests.Client;

/// <summary>
/// KvClient over real loopback remoting against fake nodes (<see cref="FakeKvNode"/>): Akka's ClusterClient and
/// receptionist, a scripted router, both sides serializing every message.
/// </summary>
[Trait("Category", "Integration")]
[Collection(TimingCollection.Name)]
public sealed class KvClientIntegrationTests : IAsyncLifetime
{
    private const string SerializeEverything = "akka.actor.serialize-messages = on\nakka.actor.serialize-creators = off";

    private FakeKvNode _node = null!;

    public async Task InitializeAsync() => _node = await FakeKvNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private static KvClientOptions Options(params KvEndpoint[] endpoints) => new()
    {
        Endpoints = endpoints,
        RequestTimeout = TimeSpan.FromSeconds(3),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        AttemptTimeout = TimeSpan.FromMilliseconds(400),
        AkkaConfig = SerializeEverything,
    };

    private static KvCommand Put(string key, string value) => new() { Put = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) } };

    private static KvCommand Get(string key) => new() { Get = new GetRequest { Key = ByteString.CopyFromUtf8(key) } };

    [Fact]
    public async Task Connect_NodeAnswers_LearnsEndpointAndLeader()
    {
        _node.LeaderEndpoint = _node.Endpoint.ToString();
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        Assert.Equal(_node.Endpoint, client.Leader);
        Assert.Contains(_node.Endpoint, client.Endpoints);
        Assert.True(_node.ContactRequests >= 1);
    }

    [Fact]
    public async Task Execute_RouterAnswersOk_ReturnsItsResultThroughClusterClient()
    {
        _node.Answer = (request, _) => FakeKvNode.Ok(request.Command.Put.Key.ToStringUtf8() == "a" ? 42 : 0);
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        var result = await client.ExecuteAsync(Put("a", "1"));
        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(42, result.Revision);
        var sent = Assert.Single(_node.Requests);
        Assert.Equal("1", sent.Command.Put.Value.ToStringUtf8());
        Assert.InRange(sent.TimeoutMs, 1, 3000);
    }

    [Fact]
    public async Task Execute_WriteNeverAnswered_SentOnceAndTimesOutIndeterminateWithinItsDeadline()
    {
        _node.Answer = (_, _) => null;
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<KvTimeoutException>(() => client.ExecuteAsync(Put("a", "1"), timeout: TimeSpan.FromMilliseconds(800)));
        Assert.InRange(watch.ElapsedMilliseconds, 700, 2300);
        Assert.Contains("may or may not", e.Message);
        Assert.Single(_node.Requests);
    }

    [Fact]
    public async Task Execute_ReadNeverAnswered_RetriedUntilItsDeadline()
    {
        _node.Answer = (_, _) => null;
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<KvTimeoutException>(() => client.ExecuteAsync(Get("a"), timeout: TimeSpan.FromMilliseconds(1500)));
        Assert.InRange(watch.ElapsedMilliseconds, 1300, 3000);
        Assert.True(_node.Requests.Count >= 2, $"the read went out {_node.Requests.Count} time(s)");
    }

    [Fact]
    public async Task Execute_NotLeaderThenOk_WriteRetriedSafely()
    {
        _node.Answer = (_, n) => n == 1
            ? new KvResponse { Code = ResponseCode.NotLeader, Error = "not the leader; no leader known" }
            : FakeKvNode.Ok(7);
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        var result = await client.ExecuteAsync(Put("a", "1"));
        Assert.Equal(7, result.Revision);
        Assert.Equal(2, _node.Requests.Count);
    }

    [Fact]
    public async Task Execute_ConcurrentRequests_ArriveThroughOneTunnelEachAnsweredByItsOwnResponse()
    {
        // Each answer carries the request's key back, so a mixed-up correlation shows as a wrong value.
        _node.Answer = (request, _) => new KvResponse
        {
            Code = ResponseCode.Ok,
            Result = new KvResult { Status = KvStatus.Ok, Get = new GetResult { Kv = new KeyValue { Key = request.Command.Get.Key, Value = request.Command.Get.Key } } },
        };
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        var keys = Enumerable.Range(0, 50).Select(i => $"k{i}").ToArray();
        var results = await Task.WhenAll(keys.Select(k => client.ExecuteAsync(new KvCommand { Get = new GetRequest { Key = ByteString.CopyFromUtf8(k) } }, ReadConsistency.Serializable)));
        Assert.Equal(keys, results.Select(r => r.Get.Kv.Value.ToStringUtf8()));

        // One sender for every request: the node's receptionist keeps one response tunnel for the client instead of
        // starting one per request (see ReplyInbox).
        Assert.Single(_node.RequestSenders.Distinct());
    }

    [Fact]
    public async Task Execute_BusyThenOk_Retried()
    {
        _node.Answer = (_, n) => n <= 2 ? new KvResponse { Code = ResponseCode.Busy, Error = "busy" } : FakeKvNode.Ok(3);
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        var result = await client.ExecuteAsync(Put("a", "1"));
        Assert.Equal(3, result.Revision);
        Assert.Equal(3, _node.Requests.Count);
    }

    [Fact]
    public async Task Execute_IndeterminateUnavailable_WriteNotRetried()
    {
        _node.Answer = (_, _) => new KvResponse { Code = ResponseCode.Unavailable, Error = "leader lost after proposing", Indeterminate = true };
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        var e = await Assert.ThrowsAsync<KvUnavailableException>(() => client.ExecuteAsync(Put("a", "1")));
        Assert.True(e.Indeterminate);
        Assert.Single(_node.Requests);
    }

    [Fact]
    public async Task Execute_TimeoutAnswerToWrite_NotRetried()
    {
        _node.Answer = (_, _) => new KvResponse { Code = ResponseCode.Timeout, Error = "not committed within the deadline", Indeterminate = true };
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        await Assert.ThrowsAsync<KvTimeoutException>(() => client.ExecuteAsync(Put("a", "1")));
        Assert.Single(_node.Requests);
    }

    [Fact]
    public async Task Execute_BadRequest_NotRetried()
    {
        _node.Answer = (_, _) => new KvResponse { Code = ResponseCode.BadRequest, Error = "value over 300 bytes" };
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        var e = await Assert.ThrowsAsync<KvBadRequestException>(() => client.ExecuteAsync(Put("a", "1")));
        Assert.Contains("300 bytes", e.Message);
        Assert.Single(_node.Requests);
    }

    [Fact]
    public async Task Connect_NothingListens_FailsAtOnceNamingTheEndpoint()
    {
        var port = FreePort();
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<KvUnavailableException>(() => KvClient.ConnectAsync(Options(new KvEndpoint("127.0.0.1", port)) with { ConnectTimeout = TimeSpan.FromSeconds(10) }));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.Contains($"127.0.0.1:{port}", e.Message);
    }

    [Fact]
    public async Task Connect_NodeNeverAnswers_FailsAfterConnectTimeoutAndSaysIt()
    {
        _node.AnswerContacts = false;
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<KvUnavailableException>(() => KvClient.ConnectAsync(Options(_node.Endpoint) with { ConnectTimeout = TimeSpan.FromMilliseconds(700) }));
        Assert.InRange(watch.ElapsedMilliseconds, 600, 2500);
        Assert.Contains("700 ms", e.Message);
    }

    [Fact]
    public async Task Connect_OneContactDead_UsesTheOtherWithoutWaiting()
    {
        var dead = new KvEndpoint("127.0.0.1", FreePort());
        var watch = Stopwatch.StartNew();
        await using var client = await KvClient.ConnectAsync(Options(dead, _node.Endpoint));
        var result = await client.ExecuteAsync(Put("a", "1"));
        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Failover_LeaderStops_InFlightWriteEndsAtOnceAndNextWriteGoesToTheNewLeader()
    {
        await using var other = await FakeKvNode.StartAsync();
        other.Answer = (_, _) => FakeKvNode.Ok(9);
        _node.LeaderEndpoint = _node.Endpoint.ToString();
        other.LeaderEndpoint = _node.Endpoint.ToString();
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint, other.Endpoint) with { RequestTimeout = TimeSpan.FromSeconds(10) });
        Assert.Equal(KvStatus.Ok, (await client.ExecuteAsync(Put("a", "1"))).Status);
        Assert.Single(_node.Requests);

        _node.Answer = (_, _) => null;
        var inFlight = client.ExecuteAsync(Put("b", "2"));
        await WaitUntil(() => _node.Requests.Count == 2);
        var killed = Stopwatch.StartNew();
        await _node.DisposeAsync();

        var lost = await Assert.ThrowsAsync<KvUnavailableException>(() => inFlight);
        Assert.True(lost.Indeterminate);
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(2), $"the in-flight write ended {killed.Elapsed} after the stop");

        // The survivor still names the dead node as leader for a while (its election timer has not fired): the
        // client holds the write rather than have it forwarded to the dead node, and sends it once a live leader is named.
        var next = client.ExecuteAsync(Put("c", "3"));
        await Task.Delay(300);
        Assert.Empty(other.Requests);
        other.LeaderEndpoint = other.Endpoint.ToString();
        var named = Stopwatch.StartNew();
        var result = await next;
        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.True(named.Elapsed < TimeSpan.FromSeconds(1), $"the held write succeeded {named.Elapsed} after a live leader was named");
        Assert.Single(other.Requests);
        _node = await FakeKvNode.StartAsync();
    }

    [Fact]
    public async Task Failover_SurvivorKeepsNamingTheDeadLeader_WriteNeverSentAndReportedSafeToRetry()
    {
        await using var other = await FakeKvNode.StartAsync();
        _node.LeaderEndpoint = _node.Endpoint.ToString();
        other.LeaderEndpoint = _node.Endpoint.ToString();
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint, other.Endpoint));
        await client.ExecuteAsync(Put("a", "1"));
        await WaitUntil(async () => (await client.ExecuteAsync(Get("k"), ReadConsistency.Serializable)) is not null && !other.Requests.IsEmpty);
        var before = other.Requests.Count;
        await _node.DisposeAsync();
        await Task.Delay(100);

        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<KvNotLeaderException>(() => client.ExecuteAsync(Put("b", "2"), timeout: TimeSpan.FromMilliseconds(800)));

        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(2300), $"took {watch.Elapsed}");
        Assert.Contains(_node.Endpoint.ToString(), e.Message);
        Assert.Equal(before, other.Requests.Count);
        _node = await FakeKvNode.StartAsync();
    }

    [Fact]
    public async Task LeaderFollowing_ThreeNodeCluster_WritesGoStraightToTheLeadersRouter()
    {
        await using var second = await FakeKvNode.StartAsync(seed: _node);
        await using var third = await FakeKvNode.StartAsync(seed: _node);
        var nodes = new[] { _node, second, third };
        foreach (var node in nodes)
        {
            node.LeaderEndpoint = second.Endpoint.ToString();
        }

        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint, second.Endpoint, third.Endpoint));
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(KvStatus.Ok, (await client.ExecuteAsync(Put("k", i.ToString(System.Globalization.CultureInfo.InvariantCulture)))).Status);
        }

        Assert.Equal(second.Endpoint, client.Leader);
        Assert.True(second.Requests.Count >= 19, $"requests by node: {string.Join(", ", nodes.Select(n => n.Requests.Count))}");
    }

    [Fact]
    public async Task SerializableReads_ThreeNodeCluster_SpreadOverTheNodes()
    {
        await using var second = await FakeKvNode.StartAsync(seed: _node);
        await using var third = await FakeKvNode.StartAsync(seed: _node);
        var nodes = new[] { _node, second, third };
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint, second.Endpoint, third.Endpoint));
        await Task.Delay(300);
        for (var i = 0; i < 30; i++)
        {
            await client.ExecuteAsync(Get("k"), ReadConsistency.Serializable);
        }

        Assert.All(nodes, n => Assert.True(n.Requests.Count >= 5, $"requests by node: {string.Join(", ", nodes.Select(x => x.Requests.Count))}"));
    }

    [Fact]
    public async Task Lanes_NodeRestartsOnItsPort_ServesReadsAgainWithoutARequestFailing()
    {
        var second = await FakeKvNode.StartAsync();
        var port = second.Endpoint.Port;
        await using var client = await KvClient.ConnectAsync(Options(_node.Endpoint, second.Endpoint));
        await WaitUntil(async () => (await client.ExecuteAsync(Get("k"), ReadConsistency.Serializable)) is not null && second.Requests.Count > 0);

        await second.DisposeAsync();
        for (var i = 0; i < 10; i++)
        {
            await client.ExecuteAsync(Get("k"), ReadConsistency.Serializable);
        }

        await using var restarted = await FakeKvNode.StartAsync(port: port);
        await WaitUntil(async () => (await client.ExecuteAsync(Get("k"), ReadConsistency.Serializable)) is not null && !restarted.Requests.IsEmpty);
    }

    [Fact]
    public async Task Dispose_AfterRequests_ReturnsPromptly()
    {
        var client = await KvClient.ConnectAsync(Options(_node.Endpoint));
        await client.ExecuteAsync(Put("a", "1"));
        var watch = Stopwatch.StartNew();
        await client.DisposeAsync();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
    }

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the condition did not hold within 10 s");
            await Task.Delay(20);
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(5), "the condition did not hold within 5 s");
            await Task.Delay(10);
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
