using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using KvCluster.Client.Bench;
using KvCluster.Client.Bench.Etcd;
using KvCluster.Client.Cli;

namespace KvCluster.Tests.Client;

[Trait("Category", "Integration")]
public sealed class EtcdBenchTargetIntegrationTests : IClassFixture<EtcdProcess>
{
    private readonly EtcdProcess _etcd;

    public EtcdBenchTargetIntegrationTests(EtcdProcess etcd)
    {
        _etcd = etcd;
        _etcd.Require();
    }

    private BenchSettings Settings(long total, double readRatio, ReadConsistency consistency = ReadConsistency.Linearizable) => new()
    {
        Target = BenchTargets.Etcd,
        Endpoints = [new BenchEndpoint("127.0.0.1", _etcd.ClientPort)],
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
        await using var target = new EtcdBenchTarget();
        await target.ConnectAsync(Settings(200, 0), CancellationToken.None);

        var puts = await new BenchRunner(Settings(200, 0), target).RunAsync(CancellationToken.None);
        var gets = await new BenchRunner(Settings(60, 1), target).RunAsync(CancellationToken.None);

        Assert.Equal(0, puts.ErrorCount + gets.ErrorCount);
        Assert.Equal(200, puts.Writes.Count);
        Assert.Equal(60, gets.Reads.Count);
        Assert.Equal(60, gets.ReadHits); // 200 puts over 5 keys leave every key present
        Assert.True(puts.Writes.ValueAtQuantile(0.5) > 0);
    }

    [Fact]
    public async Task Bench_SerializableGets_Succeed()
    {
        await using var target = new EtcdBenchTarget();
        await target.ConnectAsync(Settings(50, 1, ReadConsistency.Serializable), CancellationToken.None);

        var gets = await new BenchRunner(Settings(50, 1, ReadConsistency.Serializable), target).RunAsync(CancellationToken.None);

        Assert.Equal(0, gets.ErrorCount);
        Assert.Equal(50, gets.Reads.Count);
    }

    [Fact]
    public async Task Bench_TxnOfTenPuts_AllSucceedAndEachMovesTheRevisionOnce()
    {
        var settings = Settings(30, 0) with { KeySpace = 20, TxnOps = 10 };
        await using var target = new EtcdBenchTarget();
        await target.ConnectAsync(settings, CancellationToken.None);
        var before = await RevisionAsync(target);

        var txns = await new BenchRunner(settings, target).RunAsync(CancellationToken.None);

        Assert.Equal(0, txns.ErrorCount);
        Assert.Equal(30, txns.Writes.Count);
        Assert.Equal(before + 30, await RevisionAsync(target));
    }

    [Fact]
    public async Task KvBench_TxnOps_PrintsJsonWithTheTxnSize()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new KvConsole { Out = output, Error = error, GetEnvironmentVariable = _ => null };

        var code = await KvCli.RunAsync(
            ["bench", "--target", "etcd", "--endpoints", _etcd.Endpoint, "--clients", "4", "--conns", "2",
             "--total", "40", "--warmup", "0", "--txn-ops", "10", "--output", "json"],
            console);

        Assert.True(code == ExitCodes.Success, error.ToString());
        using var json = JsonDocument.Parse(output.ToString());
        Assert.Equal(10, json.RootElement.GetProperty("txnOps").GetInt32());
        Assert.Equal(0, json.RootElement.GetProperty("errors").GetInt64());
    }

    private static async Task<long> RevisionAsync(EtcdBenchTarget target)
    {
        var response = await target.Connections[0].Kv.RangeAsync(new KvCluster.Client.Etcd.RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("x") });
        return response.Header.Revision;
    }

    [Fact]
    public async Task Connect_ThreeConnections_OpensExactlyOneTcpConnectionEach()
    {
        await using var target = new EtcdBenchTarget();
        var settings = Settings(120, 0.5);
        await target.ConnectAsync(settings, CancellationToken.None);

        await new BenchRunner(settings, target).RunAsync(CancellationToken.None);

        Assert.Equal(3, target.Connections.Count);
        Assert.All(target.Connections, c => Assert.Equal(1, c.ConnectionsOpened));
    }

    [Fact]
    public async Task Put_EmptyKey_RejectedWithEtcdsMessage()
    {
        await using var target = new EtcdBenchTarget();
        await target.ConnectAsync(Settings(1, 0), CancellationToken.None);
        var client = target.CreateClient(0, 0);

        var error = await Assert.ThrowsAsync<BenchTargetException>(
            () => client.PutAsync(ReadOnlyMemory<byte>.Empty, new byte[] { 1 }, CancellationToken.None).AsTask());

        Assert.Equal(BenchErrorKind.Rejected, error.Kind);
        Assert.Contains("INVALID_ARGUMENT", error.Message);
        Assert.Contains("key is not provided", error.Message);
    }

    [Fact]
    public async Task KvBench_AgainstEtcd_PrintsJsonAndExitsZero()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new KvConsole { Out = output, Error = error, GetEnvironmentVariable = _ => null };

        var code = await KvCli.RunAsync(
            ["bench", "--target", "etcd", "--endpoints", _etcd.Endpoint, "--clients", "10", "--conns", "2",
             "--total", "100", "--warmup", "0", "--read-ratio", "0.3", "--consistency", "s", "--output", "json"],
            console);

        Assert.True(code == ExitCodes.Success, error.ToString());
        using var json = JsonDocument.Parse(output.ToString());
        Assert.Equal(100, json.RootElement.GetProperty("requests").GetInt64());
        Assert.Equal("etcd", json.RootElement.GetProperty("target").GetString());
    }
}

[Trait("Category", "Integration")]
public sealed class EtcdBenchTargetFailureTests
{
    private static BenchSettings Settings(int port, TimeSpan timeout) => new()
    {
        Target = BenchTargets.Etcd,
        Endpoints = [new BenchEndpoint("127.0.0.1", port)],
        Total = 1,
        RequestTimeout = timeout,
    };

    [Fact]
    public async Task Connect_NothingListening_FailsUnavailableNamingTheEndpoint()
    {
        var port = EtcdProcess.FreeLoopbackPort();
        await using var target = new EtcdBenchTarget();

        var error = await Assert.ThrowsAsync<BenchTargetException>(
            () => target.ConnectAsync(Settings(port, TimeSpan.FromSeconds(10)), CancellationToken.None));

        Assert.Equal(BenchErrorKind.Unavailable, error.Kind);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }

    [Fact]
    public async Task Connect_ServerNeverAnswers_FailsTimeout()
    {
        // A listener that accepts and then stays silent: the HTTP/2 call can only end by its deadline.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = listener.AcceptSocketAsync();
        await using var target = new EtcdBenchTarget();

        var error = await Assert.ThrowsAsync<BenchTargetException>(
            () => target.ConnectAsync(Settings(((IPEndPoint)listener.LocalEndpoint).Port, TimeSpan.FromMilliseconds(300)), CancellationToken.None));

        Assert.Equal(BenchErrorKind.Timeout, error.Kind);
        (await accepted).Dispose();
    }
}
