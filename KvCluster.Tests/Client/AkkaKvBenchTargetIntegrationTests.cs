using System.Collections.Concurrent;
using System.Text.Json;
using KvCluster.Client.Bench;
using KvCluster.Client.Bench.AkkaKv;
using KvCluster.Client.Cli;
using KvCluster.Client.Protocol;
using ReadConsistency = KvCluster.Client.Bench.ReadConsistency;

namespace KvCluster.Tests.Client;

/// <summary>
/// A fake AkkaKv node (<see cref="FakeKvNode"/>: Akka's receptionist and a router over loopback remoting) that keeps
/// puts in memory and answers gets from them, shared by the tests of a class. The bench target's end-to-end runs
/// against a real node belong to the node's specs.
/// </summary>
public sealed class AkkaKvNodeFixture : IAsyncLifetime
{
    /// <summary>The node's value limit, small so a test can exceed it cheaply.</summary>
    public const int MaxValueBytes = 300;

    private readonly ConcurrentDictionary<string, KeyValue> _store = new();
    private FakeKvNode _node = null!;
    private long _revision;

    /// <summary>The node's client endpoint.</summary>
    internal BenchEndpoint Endpoint => new(_node.Endpoint.Host, _node.Endpoint.Port);

    public async Task InitializeAsync()
    {
        _node = await FakeKvNode.StartAsync();
        _node.LeaderEndpoint = _node.Endpoint.ToString();
        _node.Answer = (request, _) => Serve(request.Command);
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private KvResponse Serve(KvCommand command)
    {
        switch (command.OpCase)
        {
            case KvCommand.OpOneofCase.Put when command.Put.Value.Length > MaxValueBytes:
                return new KvResponse { Code = ResponseCode.BadRequest, Error = $"the value is {command.Put.Value.Length} bytes, over the limit of {MaxValueBytes} bytes" };
            case KvCommand.OpOneofCase.Put:
                var revision = Interlocked.Increment(ref _revision);
                _store[command.Put.Key.ToBase64()] = new KeyValue { Key = command.Put.Key, Value = command.Put.Value, ModIndex = revision };
                return FakeKvNode.Ok(revision);
            case KvCommand.OpOneofCase.Get when _store.TryGetValue(command.Get.Key.ToBase64(), out var kv):
                return new KvResponse { Code = ResponseCode.Ok, Result = new KvResult { Status = KvStatus.Ok, Get = new GetResult { Kv = kv } } };
            case KvCommand.OpOneofCase.Get:
                return new KvResponse { Code = ResponseCode.Ok, Result = new KvResult { Status = KvStatus.NotFound } };
            default:
                return new KvResponse { Code = ResponseCode.BadRequest, Error = $"the fake node does not serve {command.OpCase}" };
        }
    }
}

[Trait("Category", "Integration")]
public sealed class AkkaKvBenchTargetIntegrationTests : IClassFixture<AkkaKvNodeFixture>
{
    private readonly AkkaKvNodeFixture _node;

    public AkkaKvBenchTargetIntegrationTests(AkkaKvNodeFixture node)
    {
        _node = node;
    }

    private BenchSettings Settings(long total, double readRatio, ReadConsistency consistency = ReadConsistency.Linearizable) => new()
    {
        Target = BenchTargets.AkkaKv,
        Endpoints = [_node.Endpoint],
        Clients = 6,
        Connections = 3,
        Total = total,
        KeySpace = 5,
        ValueSize = 256,
        ReadRatio = readRatio,
        Consistency = consistency,
        RequestTimeout = TimeSpan.FromSeconds(30),
    };

    [Fact]
    public async Task Bench_PutsThenLinearizableGets_AllSucceedAndFindTheKeys()
    {
        await using var target = new AkkaKvBenchTarget();
        await target.ConnectAsync(Settings(200, 0), CancellationToken.None);

        var puts = await new BenchRunner(Settings(200, 0), target).RunAsync(CancellationToken.None);
        var gets = await new BenchRunner(Settings(60, 1), target).RunAsync(CancellationToken.None);

        Assert.Equal(0, puts.ErrorCount + gets.ErrorCount);
        Assert.Equal(200, puts.Writes.Count);
        Assert.Equal(60, gets.Reads.Count);
        Assert.Equal(60, gets.ReadHits); // 200 puts over 5 keys leave every key present
    }

    [Fact]
    public async Task Bench_SerializableGetsOfMissingKeys_SucceedAsMisses()
    {
        await using var target = new AkkaKvBenchTarget();
        var settings = Settings(50, 1, ReadConsistency.Serializable) with { KeySpace = 1000, KeySize = 40 };
        await target.ConnectAsync(settings, CancellationToken.None);

        var gets = await new BenchRunner(settings, target).RunAsync(CancellationToken.None);

        Assert.Equal(0, gets.ErrorCount);
        Assert.Equal(50, gets.Reads.Count);
        Assert.Equal(0, gets.ReadHits); // 40-byte keys were never written by any test
    }

    [Fact]
    public async Task Connect_ThreeConnections_OpensThreeClientLibrariesSharedRoundRobin()
    {
        await using var target = new AkkaKvBenchTarget();
        await target.ConnectAsync(Settings(1, 0), CancellationToken.None);

        Assert.Equal(3, target.Clients.Count);
        Assert.Equal(3, target.Clients.Distinct().Count());
    }

    [Fact]
    public async Task Put_ValueOverTheNodesLimit_RejectedNamingTheLimit()
    {
        await using var target = new AkkaKvBenchTarget();
        await target.ConnectAsync(Settings(1, 0), CancellationToken.None);
        var client = target.CreateClient(0, 0);

        var error = await Assert.ThrowsAsync<BenchTargetException>(
            async () => await client.PutAsync("k"u8.ToArray(), new byte[AkkaKvNodeFixture.MaxValueBytes + 1], CancellationToken.None));

        Assert.Equal(BenchErrorKind.Rejected, error.Kind);
        Assert.Contains(AkkaKvNodeFixture.MaxValueBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Fact]
    public async Task Get_CancelledByTheCaller_ThrowsOperationCanceled()
    {
        await using var target = new AkkaKvBenchTarget();
        await target.ConnectAsync(Settings(1, 0), CancellationToken.None);
        var client = target.CreateClient(0, 0);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            async () => await client.GetAsync("k"u8.ToArray(), ReadConsistency.Linearizable, cancelled.Token));
    }

    [Fact]
    public async Task KvBench_TargetAkkaKv_PrintsJsonWithEveryRequestSucceeded()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new KvConsole { Out = output, Error = error, GetEnvironmentVariable = _ => null };

        var code = await KvCli.RunAsync(
            ["bench", "--target", "akkakv", "--endpoints", _node.Endpoint.ToString(), "--clients", "4", "--conns", "2",
             "--total", "40", "--warmup", "0", "--read-ratio", "0.5", "--output", "json"],
            console);

        Assert.True(code == ExitCodes.Success, error.ToString());
        using var json = JsonDocument.Parse(output.ToString());
        Assert.Equal("akkakv", json.RootElement.GetProperty("target").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("errors").GetInt64());
    }
}

[Trait("Category", "Integration")]
public sealed class AkkaKvBenchTargetUnreachableTests
{
    [Fact]
    public async Task Connect_NoNodeListening_ThrowsUnavailableNamingTheEndpoint()
    {
        var port = EtcdProcess.FreeLoopbackPort();
        await using var target = new AkkaKvBenchTarget();
        var settings = new BenchSettings
        {
            Target = BenchTargets.AkkaKv,
            Endpoints = [new BenchEndpoint("127.0.0.1", port)],
            Connections = 2,
            Total = 1,
            RequestTimeout = TimeSpan.FromSeconds(2),
        };

        var error = await Assert.ThrowsAsync<BenchTargetException>(() => target.ConnectAsync(settings, CancellationToken.None));

        Assert.Equal(BenchErrorKind.Unavailable, error.Kind);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
        Assert.StartsWith("AkkaKv is not reachable", error.Message);
    }
}
