using KvCluster.Tests.Persistence;
using System.Text.Json;
using KvCluster.Client.Cli;

namespace KvCluster.Tests.Node;

/// <summary>`kv` data commands (`--via akka`, the ClusterClient path) run in-process against a real one-node store: output and exit codes.</summary>
[Trait("Category", "Integration")]
public sealed class KvCliDataCommandTests : IAsyncLifetime
{
    private KvTestCluster _cluster = null!;
    private StringWriter _out = new();
    private StringWriter _error = new();

    public async Task InitializeAsync()
    {
        // A 64 KiB value limit keeps the over-the-limit requests of these specs small.
        _cluster = await KvTestCluster.StartAsync(size: 1, tune: o => o with { MaxValueBytes = 64 * 1024 });
        await _cluster.AwaitLeaderAsync();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task PutThenGet_PrintsTheValueAndExitsZero()
    {
        Assert.Equal(ExitCodes.Success, await RunAsync("put", "color", "blue"));
        Assert.StartsWith("OK (version ", _out.ToString());

        Assert.Equal(ExitCodes.Success, await RunAsync("get", "color"));
        Assert.Matches(@"color\s+blue\s+\d+", _out.ToString());
    }

    [Fact]
    public async Task Get_MissingKey_ExitsOneWithOneLineOnStandardError()
    {
        var code = await RunAsync("get", "absent");

        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Equal("kv: not found: the key does not exist", _error.ToString().Trim());
        Assert.Equal(string.Empty, _out.ToString());
    }

    [Fact]
    public async Task Get_JsonOutput_IsOneParsableObject()
    {
        await RunAsync("put", "j", "son");

        var code = await RunAsync("--output", "json", "get", "j", "--consistency", "s");

        Assert.Equal(ExitCodes.Success, code);
        using var doc = JsonDocument.Parse(_out.ToString());
        Assert.Equal("ok", doc.RootElement.GetProperty("status").GetString());
        Assert.Equal("son", doc.RootElement.GetProperty("kv").GetProperty("value").GetString());
    }

    [Fact]
    public async Task Cas_StaleVersion_ExitsFiveAndNamesTheActualVersion()
    {
        Assert.True(await RunAsync("--output", "json", "put", "c", "1") == ExitCodes.Success, _error.ToString());
        var version = JsonDocument.Parse(_out.ToString()).RootElement.GetProperty("version").GetInt64();
        await RunAsync("put", "c", "2");

        var code = await RunAsync("cas", "c", "3", "--expected-version", version.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(ExitCodes.Rejected, code);
        Assert.Contains("version mismatch", _error.ToString());
        Assert.Equal(ExitCodes.Success, await RunAsync("get", "c"));
        Assert.Matches(@"c\s+2\s+", _out.ToString());
    }

    [Fact]
    public async Task Cas_WithoutExpectedVersion_IsAUsageError()
    {
        Assert.Equal(ExitCodes.Usage, await RunAsync("cas", "c", "3"));
        Assert.Contains("--expected-version", _error.ToString());
    }

    [Fact]
    public async Task DelAndScan_ByPrefixAndRange_WithLimit()
    {
        foreach (var key in new[] { "app/a", "app/b", "app/c", "other" })
        {
            Assert.Equal(ExitCodes.Success, await RunAsync("put", key, "x"));
        }

        Assert.Equal(ExitCodes.Success, await RunAsync("--output", "json", "scan", "app/", "--limit", "2"));
        var scan = JsonDocument.Parse(_out.ToString()).RootElement;
        Assert.Equal(2, scan.GetProperty("kvs").GetArrayLength());
        Assert.Equal(3, scan.GetProperty("count").GetInt64());
        Assert.True(scan.GetProperty("more").GetBoolean());

        Assert.Equal(ExitCodes.Success, await RunAsync("--output", "json", "scan", "--from", "app/b", "--to", "other"));
        Assert.Equal(2, JsonDocument.Parse(_out.ToString()).RootElement.GetProperty("count").GetInt64());

        Assert.Equal(ExitCodes.Success, await RunAsync("del", "app/", "--prefix"));
        Assert.Contains("deleted 3 key(s)", _out.ToString());
        Assert.Equal(ExitCodes.NotFound, await RunAsync("del", "app/a"));
    }

    [Fact]
    public async Task Put_ValueOverTheLimit_ExitsFive()
    {
        var code = await RunAsync("put", "big", new string('x', (64 * 1024) + 1));

        Assert.Equal(ExitCodes.Rejected, code);
        Assert.StartsWith("kv: rejected: ", _error.ToString());
    }

    [Fact]
    public async Task Shell_RunsLinesOverOneConnection_KeepsGoingAfterAnError()
    {
        using var history = new TempDirectory();
        var input = new StringReader("put s 1\nfrobnicate\nget s\nhistory\nexit\n");

        var code = await RunAsync(input, history.File("history"), "shell");

        Assert.Equal(ExitCodes.Success, code);
        Assert.Matches(@"s\s+1\s+\d+", _out.ToString());
        Assert.Contains("frobnicate", _error.ToString());
        Assert.Contains("3  get s", _out.ToString());
        Assert.Equal(["put s 1", "frobnicate", "get s", "history"], await File.ReadAllLinesAsync(history.File("history")));
    }

    [Fact]
    public async Task Get_NoNodeAtTheEndpoint_ExitsThree()
    {
        var code = await KvCli.RunAsync(["--via", "akka", "--endpoints", "127.0.0.1:1", "get", "a"], Console(TextReader.Null, null, endpoints: null));

        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.StartsWith("kv: unavailable: ", _error.ToString());
    }

    [Fact]
    public async Task Get_MalformedEndpoints_IsAUsageError()
    {
        var code = await KvCli.RunAsync(["--via", "akka", "--endpoints", "nope", "get", "a"], Console(TextReader.Null, null, endpoints: null));

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("'nope'", _error.ToString());
    }

    private Task<int> RunAsync(params string[] args) => RunAsync(TextReader.Null, null, args);

    private Task<int> RunAsync(TextReader input, string? historyFile, params string[] args)
    {
        _out = new StringWriter();
        _error = new StringWriter();
        return KvCli.RunAsync([.. args, "--via", "akka"], Console(input, historyFile, _cluster.Options[0].Endpoint.ToString()));
    }

    private KvConsole Console(TextReader input, string? historyFile, string? endpoints) => new()
    {
        Out = _out,
        Error = _error,
        In = input,
        GetEnvironmentVariable = name => name switch
        {
            KvCli.EndpointsVariable => endpoints,
            ShellCommand.HistoryVariable => historyFile,
            _ => null,
        },
    };
}
