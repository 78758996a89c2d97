using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KvCluster.Client.Cli;
using KvCluster.Client.Protocol;

namespace KvCluster.Tests.Client;

/// <summary>The <c>kv</c> data commands with <c>--via akka</c> end to end against a fake node: exit codes, and no command outlives its --timeout.</summary>
[Trait("Category", "Integration")]
[Collection(TimingCollection.Name)]
public sealed class KvCliIntegrationTests : IAsyncLifetime
{
    private readonly StringWriter _out = new();
    private readonly StringWriter _error = new();
    private FakeKvNode _node = null!;

    public async Task InitializeAsync() => _node = await FakeKvNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Put_NodeAnswers_ExitsZeroAndPrintsNothingOnStandardError()
    {
        var code = await RunAsync("put", "a", "1", "--endpoints", _node.Endpoint.ToString());

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, _error.ToString());
        Assert.Equal("1", Assert.Single(_node.Requests).Command.Put.Value.ToStringUtf8());
    }

    [Fact]
    public async Task Get_KeyMissing_ExitsOne()
    {
        _node.Answer = (_, _) => new KvResponse { Code = ResponseCode.Ok, Result = new KvResult { Status = KvStatus.NotFound } };

        var code = await RunAsync("get", "nope", "--endpoints", _node.Endpoint.ToString());

        Assert.Equal(ExitCodes.NotFound, code);
    }

    [Fact]
    public async Task Put_NeverAnswered_ExitsTimeoutWithinItsTimeout()
    {
        _node.Answer = (_, _) => null;
        var watch = Stopwatch.StartNew();

        // 3 s: under a loaded CI machine starting the client's actor system alone can take over a second, and a budget
        // spent before the request went out is "unavailable" (exit 3), not the timeout this spec is about.
        var code = await RunAsync("put", "a", "1", "--endpoints", _node.Endpoint.ToString(), "--timeout", "3s");

        Assert.Equal(ExitCodes.Timeout, code);
        // Bounded by its --timeout (plus the process's own start and stop), never by a fixed connect wait.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(8), $"took {watch.Elapsed}");
        Assert.StartsWith("kv: timeout: ", _error.ToString());
        Assert.Contains("may or may not", _error.ToString());
        Assert.Single(_node.Requests);
    }

    [Fact]
    public async Task Get_NodeNeverAnswersContacts_ExitsUnavailableWithinItsTimeoutNamingIt()
    {
        _node.AnswerContacts = false;
        var watch = Stopwatch.StartNew();

        var code = await RunAsync("get", "a", "--endpoints", _node.Endpoint.ToString(), "--timeout", "900ms");

        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(2400), $"took {watch.Elapsed}");
        Assert.Contains("900 ms", _error.ToString());
    }

    [Fact]
    public async Task Get_NothingListens_ExitsUnavailableAtOnce()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var watch = Stopwatch.StartNew();

        var code = await RunAsync("get", "a", "--endpoints", $"127.0.0.1:{port}", "--timeout", "10s");

        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.StartsWith("kv: unavailable: ", _error.ToString());
        Assert.Contains($"127.0.0.1:{port}", _error.ToString());
    }

    private Task<int> RunAsync(params string[] args) => KvCli.RunAsync([.. args, "--via", "akka"], new KvConsole
    {
        Out = _out,
        Error = _error,
        GetEnvironmentVariable = _ => null,
        IsInteractive = false,
    });
}
