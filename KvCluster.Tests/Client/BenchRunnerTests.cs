using KvCluster.Client.Bench;

namespace KvCluster.Tests.Client;

public sealed class BenchRunnerTests
{
    private static BenchSettings Settings(int clients = 4, int conns = 2, long? total = 200, double readRatio = 0) => new()
    {
        Target = "fake",
        Endpoints = [new BenchEndpoint("h", 1)],
        Clients = clients,
        Connections = conns,
        Total = total,
        Duration = total is null ? TimeSpan.FromMilliseconds(200) : null,
        KeySpace = 50,
        ReadRatio = readRatio,
    };

    [Fact]
    public async Task RunAsync_Total_IssuesExactlyTotalRequests()
    {
        var target = new FakeBenchTarget();
        await target.ConnectAsync(Settings(), CancellationToken.None);

        var result = await new BenchRunner(Settings(clients: 7, conns: 3, total: 1000), target).RunAsync(CancellationToken.None);

        Assert.Equal(1000, result.All.Count);
        Assert.Equal(1000, target.Puts);
        Assert.Equal(0, result.ErrorCount);
    }

    [Fact]
    public async Task RunAsync_Clients_AreSpreadRoundRobinOverConnections()
    {
        var target = new FakeBenchTarget();

        await new BenchRunner(Settings(clients: 5, conns: 2, total: 10), target).RunAsync(CancellationToken.None);

        Assert.Equal([0, 1, 0, 1, 0], Enumerable.Range(0, 5).Select(i => target.ConnectionOfClient[i]));
    }

    [Fact]
    public async Task RunAsync_ReadRatioOne_IssuesOnlyGets()
    {
        var target = new FakeBenchTarget();

        var result = await new BenchRunner(Settings(total: 100, readRatio: 1), target).RunAsync(CancellationToken.None);

        Assert.Equal(100, result.Reads.Count);
        Assert.Equal(0, result.Writes.Count);
        Assert.Equal(0, target.Puts);
    }

    [Fact]
    public async Task RunAsync_MixedRatio_IssuesBothAndGetsFindWrittenKeys()
    {
        var target = new FakeBenchTarget();

        var result = await new BenchRunner(Settings(total: 2000, readRatio: 0.5), target).RunAsync(CancellationToken.None);

        Assert.InRange(result.Reads.Count, 700, 1300);
        Assert.Equal(2000, result.Reads.Count + result.Writes.Count);
        Assert.True(result.ReadHits > 0, "with 50 keys and ~1000 puts, later gets find their keys");
    }

    [Fact]
    public async Task RunAsync_Duration_StopsByItselfAtTheDeadline()
    {
        // Virtual clock: every timestamp read advances it 1 ms, so the 200 ms run ends after a
        // bounded number of requests without waiting on real time.
        var target = new FakeBenchTarget();
        var clock = new SteppingTimeProvider();

        var result = await new BenchRunner(Settings(total: null), target, clock).RunAsync(CancellationToken.None);

        Assert.InRange(result.All.Count, 1, 200);
        Assert.True(result.Elapsed >= TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task RunAsync_Warmup_IsRunButNotReported()
    {
        var target = new FakeBenchTarget();
        var settings = Settings(total: 100) with { Warmup = TimeSpan.FromMilliseconds(300) };

        var result = await new BenchRunner(settings, target, new SteppingTimeProvider()).RunAsync(CancellationToken.None);

        Assert.Equal(100, result.All.Count);
        Assert.True(target.Puts > 100, "the warm-up issued requests too");
    }

    [Fact]
    public async Task RunAsync_SameSeed_RepeatsTheKeySequence()
    {
        var first = new FakeBenchTarget();
        var second = new FakeBenchTarget();
        var other = new FakeBenchTarget();
        var settings = Settings(clients: 1, conns: 1, total: 50) with { KeySpace = 1_000_000 };

        await new BenchRunner(settings, first).RunAsync(CancellationToken.None);
        await new BenchRunner(settings, second).RunAsync(CancellationToken.None);
        await new BenchRunner(settings with { Seed = 2 }, other).RunAsync(CancellationToken.None);

        Assert.Equal(first.PutKeys, second.PutKeys);
        Assert.NotEqual(first.PutKeys, other.PutKeys);
    }

    [Fact]
    public async Task RunAsync_Cancelled_StopsAndReportsWhatFinished()
    {
        var target = new FakeBenchTarget();
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        var result = await new BenchRunner(Settings(total: null), target).RunAsync(cts.Token);

        Assert.Equal(0, result.All.Count);
    }

    [Fact]
    public async Task RunAsync_FailingRequests_CountedByKindNotRecorded()
    {
        var target = new FakeBenchTarget { FailRequestsWith = BenchErrorKind.Timeout };

        var result = await new BenchRunner(Settings(total: 30), target).RunAsync(CancellationToken.None);

        Assert.Equal(30, result.Errors[(int)BenchErrorKind.Timeout]);
        Assert.Equal(0, result.All.Count);
        Assert.Equal(KvCluster.Client.Cli.ExitCodes.Timeout, result.ExitCode);
        Assert.Contains("Timeout", result.FirstError);
    }
}

/// <summary>A clock that advances one millisecond on every timestamp read.</summary>
internal sealed class SteppingTimeProvider : TimeProvider
{
    private long _now;

    public override long TimestampFrequency => 1000;

    public override long GetTimestamp() => Interlocked.Increment(ref _now);
}
