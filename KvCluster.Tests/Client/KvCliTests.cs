using System.Text.Json;
using KvCluster.Client.Bench;
using KvCluster.Client.Cli;

namespace KvCluster.Tests.Client;

public sealed class KvCliTests
{
    private readonly StringWriter _out = new();
    private readonly StringWriter _error = new();

    [Fact]
    public async Task Run_UnknownCommand_ExitsTwoWithOneLineErrorAndUsage()
    {
        var code = await RunAsync("frobnicate");

        Assert.Equal(ExitCodes.Usage, code);
        var lines = ErrorLines();
        Assert.Equal("kv: error: Unrecognized command or argument 'frobnicate'.", lines[0]);
        Assert.Contains("Usage:", _error.ToString());
        AssertNoStackTrace();
    }

    [Fact]
    public async Task Run_NoCommand_ExitsTwo()
    {
        var code = await RunAsync();

        Assert.Equal(ExitCodes.Usage, code);
        Assert.StartsWith("kv: error: ", ErrorLines()[0]);
    }

    [Fact]
    public async Task Run_UnknownFlag_ExitsTwoAndShowsBenchUsage()
    {
        var code = await RunAsync("bench", "--bogus", "1");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("'--bogus'", ErrorLines()[0]);
        Assert.Contains("kv bench [options]", _error.ToString());
        AssertNoStackTrace();
    }

    [Theory]
    [InlineData("--clients", "abc", "--clients")]
    [InlineData("--duration", "ten", "--duration")]
    [InlineData("--target", "redis", "redis")]
    [InlineData("--consistency", "x", "'x'")]
    [InlineData("--output", "xml", "'xml'")]
    public async Task Run_BadFlagValue_ExitsTwoNamingTheValue(string flag, string value, string named)
    {
        var code = await RunAsync("bench", "--endpoints", "127.0.0.1:2379", flag, value);

        Assert.Equal(ExitCodes.Usage, code);
        var lines = ErrorLines();
        Assert.StartsWith("kv: error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        Assert.Equal(string.Empty, lines[1]); // the error is exactly one line, then usage
        AssertNoStackTrace();
    }

    [Theory]
    [InlineData("no endpoints", "--target", "etcd")]
    [InlineData("--conns (10) must not exceed --clients (2)", "--endpoints", "h:1", "--clients", "2", "--conns", "10")]
    [InlineData("either --duration or --total", "--endpoints", "h:1", "--duration", "1s", "--total", "5")]
    [InlineData("--key-size 2 is too small", "--endpoints", "h:1", "--key-size", "2", "--key-space", "1000")]
    [InlineData("--read-ratio must be between 0 and 1", "--endpoints", "h:1", "--read-ratio", "1.5")]
    [InlineData("endpoint 'nohost' is not host:port", "--endpoints", "nohost")]
    [InlineData("invalid port", "--endpoints", "h:99999")]
    [InlineData("--warmup must not be negative", "--endpoints", "h:1", "--warmup", "-1s")]
    [InlineData("--txn-ops (10) must not exceed --key-space (5)", "--endpoints", "h:1", "--txn-ops", "10", "--key-space", "5")]
    public async Task Run_InvalidBenchSettings_ExitsTwoNamingTheProblem(string expected, params string[] args)
    {
        var target = new FakeBenchTarget();

        var code = await RunAsync(target, ["bench", .. args]);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(expected, ErrorLines()[0]);
        Assert.Null(target.ConnectedWith);
    }

    [Fact]
    public async Task Run_Help_ExitsZeroAndListsExitCodes()
    {
        var code = await RunAsync("--help");

        Assert.Equal(ExitCodes.Success, code);
        var help = _out.ToString();
        Assert.Contains("0 success, 1 key not found, 2 usage error, 3 unavailable, 4 timeout, 5 rejected", help);
        Assert.Contains("bench", help);
        Assert.Equal(string.Empty, _error.ToString());
    }

    [Fact]
    public async Task Run_BenchHelp_ExitsZeroAndListsEveryOption()
    {
        var code = await RunAsync("bench", "--help");

        Assert.Equal(ExitCodes.Success, code);
        foreach (var option in new[] { "--target", "--clients", "--conns", "--duration", "--total", "--key-space", "--key-size", "--value-size", "--read-ratio", "--txn-ops", "--consistency", "--endpoints", "--output" })
        {
            Assert.Contains(option, _out.ToString());
        }
    }

    [Theory]
    [InlineData("get")]
    [InlineData("put")]
    [InlineData("del")]
    [InlineData("txn")]
    [InlineData("compact")]
    [InlineData("member")]
    [InlineData("member add")]
    [InlineData("endpoint status")]
    [InlineData("move-leader")]
    public async Task Run_CommandHelp_ExitsZeroWithUsage(string command)
    {
        var code = await RunAsync([.. command.Split(' '), "--help"]);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("Usage:", _out.ToString());
    }

    [Fact]
    public async Task Run_Help_ListsTheEtcdCommands()
    {
        await RunAsync("--help");

        foreach (var name in new[] { "txn", "compact", "member", "endpoint", "move-leader", "--via", "--write-out", "--dial-timeout", "--command-timeout" })
        {
            Assert.Contains(name, _out.ToString());
        }
    }

    [Theory]
    [InlineData("--rev 3")]
    [InlineData("--prefix")]
    [InlineData("--sort-by KEY")]
    public async Task Run_EtcdOnlyFlagViaAkka_ExitsTwoNamingTheFlag(string flags)
    {
        var flag = flags.Split(' ');
        var code = await RunAsync(["get", "a", "--via", "akka", .. flag]);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains($"{flag[0]} needs the etcd API", ErrorLines()[0]);
    }

    [Fact]
    public async Task Run_TargetNotAvailableInThisBuild_ExitsThree()
    {
        var console = new KvConsole { Out = _out, Error = _error, GetEnvironmentVariable = _ => null, CreateBenchTarget = _ => null };

        var code = await KvCli.RunAsync(["bench", "--target", "akkakv", "--endpoints", "127.0.0.1:1"], console);

        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("kv: bench --target akkakv: not available in this build", _error.ToString());
    }

    [Fact]
    public async Task Run_EndpointsFromEnvironment_AreUsedWhenFlagAbsent()
    {
        var target = new FakeBenchTarget();
        var console = Console(name => name == KvCli.EndpointsVariable ? "10.0.0.1:2379,[::1]:2380" : null, target);

        var code = await KvCli.RunAsync(["bench", "--target", "etcd", "--total", "10", "--warmup", "0", "--output", "json"], console);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Equal([new BenchEndpoint("10.0.0.1", 2379), new BenchEndpoint("::1", 2380)], target.ConnectedWith!.Endpoints);
    }

    [Fact]
    public async Task Run_JsonOutput_PrintsOneObjectWithThroughputAndPercentiles()
    {
        var target = new FakeBenchTarget();

        var code = await RunAsync(target, ["bench", "--target", "etcd", "--endpoints", "h:1", "--clients", "8", "--conns", "2",
            "--total", "400", "--read-ratio", "0.5", "--key-space", "20", "--output", "json"]);

        Assert.Equal(ExitCodes.Success, code);
        var lines = _out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var json = Assert.Single(lines);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(400, root.GetProperty("requests").GetInt64());
        Assert.Equal(400, root.GetProperty("puts").GetProperty("requests").GetInt64() + root.GetProperty("gets").GetProperty("requests").GetInt64());
        Assert.True(root.GetProperty("throughput").GetDouble() > 0);
        foreach (var p in new[] { "p50", "p90", "p99", "p999", "max" })
        {
            Assert.True(root.GetProperty("latencyMs").TryGetProperty(p, out _), p);
        }

        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.True(target.Disposed);
    }

    [Fact]
    public async Task Run_TableOutput_PrintsAPutRow()
    {
        var target = new FakeBenchTarget();

        var code = await RunAsync(target, ["bench", "--target", "etcd", "--endpoints", "h:1", "--total", "50"]);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("p99.9 ms", _out.ToString());
        Assert.Contains("│ put │", _out.ToString());
    }

    [Theory]
    [InlineData((int)BenchErrorKind.Unavailable, ExitCodes.Unavailable)]
    [InlineData((int)BenchErrorKind.Timeout, ExitCodes.Timeout)]
    [InlineData((int)BenchErrorKind.Rejected, ExitCodes.Rejected)]
    public async Task Run_RequestsFail_ExitsWithTheKindsCode(int kind, int expected)
    {
        var target = new FakeBenchTarget { FailRequestsWith = (BenchErrorKind)kind };

        var code = await RunAsync(target, ["bench", "--target", "etcd", "--endpoints", "h:1", "--total", "20", "--output", "json"]);

        Assert.Equal(expected, code);
        Assert.Contains("20 requests failed", _error.ToString());
        using var doc = JsonDocument.Parse(_out.ToString());
        Assert.Equal(20, doc.RootElement.GetProperty("errors").GetInt64());
    }

    [Fact]
    public async Task Run_ConnectFails_ExitsUnavailableWithoutReport()
    {
        var target = new FakeBenchTarget { FailConnectWith = BenchErrorKind.Unavailable };

        var code = await RunAsync(target, ["bench", "--target", "etcd", "--endpoints", "h:1", "--total", "20"]);

        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Equal("kv: bench: fake: connect refused", ErrorLines()[0]);
        Assert.Equal(string.Empty, _out.ToString());
        Assert.True(target.Disposed);
    }

    private Task<int> RunAsync(params string[] args) => RunAsync(new FakeBenchTarget(), args);

    // Every run skips the default 1 s warm-up unless the test sets --warmup itself.
    private Task<int> RunAsync(FakeBenchTarget target, string[] args) =>
        KvCli.RunAsync(args.Contains("bench") && !args.Contains("--warmup") ? [.. args, "--warmup", "0"] : args, Console(_ => null, target));

    private KvConsole Console(Func<string, string?> env, FakeBenchTarget? target = null) => new()
    {
        Out = _out,
        Error = _error,
        GetEnvironmentVariable = env,
        IsInteractive = false,
        CreateBenchTarget = target is null ? BenchTargets.Create : _ => target,
    };

    private string[] ErrorLines() => _error.ToString().Split(Environment.NewLine);

    private void AssertNoStackTrace() => Assert.DoesNotContain("   at ", _error.ToString());
}
