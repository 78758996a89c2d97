using System.Text.Json;
using KvCluster.Client.Bench;
using KvCluster.Client.Bench.AkkaKv;
using KvCluster.Client.Cli;
using KvCluster.Node.Hosting;
using KvCluster.Tests.Persistence;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Tests.Client;

/// <summary>A real one-node AkkaKv store (SQLite journal with fsync, remoting on loopback) shared by the tests of a class.</summary>
public sealed class AkkaKvNodeFixture : IAsyncLifetime
{
    private readonly TempDirectory _data = new();

    /// <summary>The node; started by <see cref="InitializeAsync"/>.</summary>
    public KvNode Node { get; private set; } = null!;

    /// <summary>The node's client endpoint.</summary>
    internal BenchEndpoint Endpoint => new(Node.Endpoint.Host, Node.Endpoint.Port);

    /// <summary>The node's value limit, small so a test can exceed it cheaply.</summary>
    public const int MaxValueBytes = 300;

    public async Task InitializeAsync()
    {
        var options = new NodeOptions
        {
            Port = EtcdProcess.FreeLoopbackPort(),
            DataDir = _data.Path,
            PbmPort = 0,
            TickMs = 20,
            MaxValueBytes = MaxValueBytes,
        };
        Node = await KvNode.StartAsync(options, NullLoggerFactory.Instance);
    }

    public async Task DisposeAsync()
    {
        await Node.StopAsync();
        _data.Dispose();
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
