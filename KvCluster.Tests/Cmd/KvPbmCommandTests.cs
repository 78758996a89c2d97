using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using KvCluster.Pbm;
using KvCluster.Client.Bench;
using KvCluster.Client.Cli;

namespace KvCluster.Tests.Cmd;

/// <summary><c>kv pbm</c> run in-process against a real command host on loopback.</summary>
[Trait("Category", "Integration")]
public sealed class KvPbmCommandTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("pbmcli", PbmTestConfig.Local);
    private CommandHost _host = null!;

    private string Endpoint => $"127.0.0.1:{_host.LocalEndPoint!.Port}";

    public async Task InitializeAsync()
    {
        _host = new CommandHost(_system, new CommandHostSettings { Port = 0 }).RegisterDefaultPalettes();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _system.Terminate();
    }

    [Fact]
    public async Task Pbm_RemoteOptionsPassedThrough_ExitZeroWithOutput()
    {
        var (code, output, error) = await ClusterPaletteTests.KvPbmAsync("pbm", Endpoint, "actor", "hierarchy", "-s", "/user", "-d", "0");

        Assert.Equal((ExitCodes.Success, string.Empty), (code, error));
        Assert.Equal("/user [GuardianActor]\n1 actor\n", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Pbm_RemoteUsageError_ExitTwoWithOneErrorLineAndUsage()
    {
        var (code, output, error) = await ClusterPaletteTests.KvPbmAsync("pbm", Endpoint, "cluster", "down");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal("kv: error: missing argument <address>\nusage: cluster down <address>\n", error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Pbm_RemoteFailure_ExitFive()
    {
        var (code, _, error) = await ClusterPaletteTests.KvPbmAsync("pbm", Endpoint, "cluster", "show");

        Assert.Equal(ExitCodes.Rejected, code);
        Assert.Equal("kv: error: actor system 'pbmcli' runs no cluster membership\n", error.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Pbm_NobodyListening_ExitThreeUnavailable()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var (code, _, error) = await ClusterPaletteTests.KvPbmAsync("pbm", $"127.0.0.1:{port}", "cluster", "show");

        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.StartsWith($"kv: error: cannot connect to pbm host 127.0.0.1:{port}", error);
    }

    [Theory]
    [InlineData("nohost")]
    [InlineData("h:99999")]
    [InlineData("a:1,b:2")]
    public async Task Pbm_BadEndpoint_ExitTwo(string endpoint)
    {
        var (code, _, error) = await ClusterPaletteTests.KvPbmAsync("pbm", endpoint, "help");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.StartsWith("kv: error: pbm host: ", error);
    }

    [Fact]
    public async Task Pbm_NoEndpoint_ExitTwo()
    {
        var (code, _, error) = await ClusterPaletteTests.KvPbmAsync("pbm");

        Assert.Equal(ExitCodes.Usage, code);
        Assert.StartsWith("kv: error: ", error);
    }

    [Fact]
    public async Task Interactive_LinesUntilExit_AnswersEachKeepsHistoryAndExitsZero()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = new KvConsole { Out = output, Error = error };
        var input = new StringReader("actor hierarchy -s /user -d 0\n\ncluster nope\nhistory\nexit\nactor system\n");

        var code = await PbmCommand.RunInteractiveAsync(new BenchEndpoint("127.0.0.1", _host.LocalEndPoint!.Port), json: false, console, input, CancellationToken.None);

        Assert.Equal(ExitCodes.Success, code);
        var lines = output.ToString().ReplaceLineEndings("\n").Split('\n');
        Assert.StartsWith("connected to pbm host 127.0.0.1:", lines[0]);
        Assert.Equal(["/user [GuardianActor]", "1 actor", "   1  actor hierarchy -s /user -d 0", "   2  cluster nope", string.Empty], lines[1..]);
        Assert.StartsWith("kv: error: unknown cluster command 'nope'", error.ToString());
        Assert.Equal(2, _host.RequestsServed); // history and exit are local; actor system comes after exit
    }

    [Fact]
    public async Task Interactive_EndOfInput_ExitsZero()
    {
        var console = new KvConsole { Out = new StringWriter(), Error = new StringWriter() };

        var code = await PbmCommand.RunInteractiveAsync(new BenchEndpoint("127.0.0.1", _host.LocalEndPoint!.Port), json: true, console, new StringReader("help\n"), CancellationToken.None);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("\"status\":\"ok\"", console.Out.ToString());
    }

    [Theory]
    [InlineData(new[] { "cluster", "show" }, "cluster show")]
    [InlineData(new[] { "actor", "hierarchy", "-s", "/user/a b" }, "actor hierarchy -s \"/user/a b\"")]
    [InlineData(new[] { "x", "say \"hi\"", "" }, "x \"say \\\"hi\\\"\" \"\"")]
    public void JoinCommandLine_WordsWithSpacesOrQuotes_QuotedSoTheHostSplitsThemBack(string[] words, string expected)
    {
        var line = PbmCommand.JoinCommandLine(words);

        Assert.Equal(expected, line);
        Assert.Equal(words, CommandLineParser.Tokenize(line, out _));
    }
}
