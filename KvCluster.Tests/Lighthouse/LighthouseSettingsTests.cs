using Lighthouse;
using Microsoft.Extensions.Configuration;

namespace KvCluster.Tests.Lighthouse;

public sealed class LighthouseSettingsTests
{
    private static LighthouseSettings? Load(string[] args, Dictionary<string, string>? env = null, Dictionary<string, string?>? json = null) =>
        LighthouseSettings.Load(
            args,
            name => env?.GetValueOrDefault(name),
            json is null ? null : new ConfigurationBuilder().AddInMemoryCollection(json).Build(),
            out _);

    [Fact]
    public void Load_Nothing_PetabridgeDefaults()
    {
        var settings = Load([])!;

        Assert.Equal(("akkakv", "127.0.0.1", 4053, 0, "127.0.0.1", 9110), (settings.ActorSystem, settings.Host, settings.Port, settings.Seeds.Length, settings.PbmHost, settings.PbmPort));
    }

    [Fact]
    public void Load_PetabridgeEnvironmentVariables_Applied()
    {
        var env = new Dictionary<string, string>
        {
            ["ACTORSYSTEM"] = "kvprod",
            ["CLUSTER_IP"] = "lighthouse",
            ["CLUSTER_PORT"] = "4100",
            ["CLUSTER_SEEDS"] = "akka.tcp://kvprod@lighthouse:4100, akka.tcp://kvprod@lighthouse2:4100",
            ["PBM_HOST"] = "0.0.0.0",
            ["PBM_PORT"] = "9200",
        };

        var settings = Load([], env)!;

        Assert.Equal("kvprod", settings.ActorSystem);
        Assert.Equal("lighthouse", settings.Host);
        Assert.Equal(4100, settings.Port);
        Assert.Equal(["akka.tcp://kvprod@lighthouse:4100", "akka.tcp://kvprod@lighthouse2:4100"], settings.Seeds.ToArray());
        Assert.Equal(("0.0.0.0", 9200), (settings.PbmHost, settings.PbmPort));
    }

    [Fact]
    public void Load_AllSources_FlagsBeatEnvironmentBeatAppsettings()
    {
        var json = new Dictionary<string, string?> { ["Lighthouse:Port"] = "4001", ["Lighthouse:PbmPort"] = "9001", ["Lighthouse:Host"] = "10.0.0.1" };
        var env = new Dictionary<string, string> { ["CLUSTER_PORT"] = "4002", ["PBM_PORT"] = "9002" };

        var settings = Load(["--port", "4003", "--seeds=akka.tcp://akkakv@10.0.0.9:4053"], env, json)!;

        Assert.Equal(4003, settings.Port);
        Assert.Equal(9002, settings.PbmPort);
        Assert.Equal("10.0.0.1", settings.Host);
        Assert.Equal(["akka.tcp://akkakv@10.0.0.9:4053"], settings.Seeds.ToArray());
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("10.88.0.10", "10.88.0.10")]
    [InlineData("localhost", "localhost")]
    [InlineData("lighthouse", "0.0.0.0")]
    public void BindHost_IpOrHostName_IpBoundAsItIsNameOnEveryInterface(string host, string bind)
    {
        Assert.Equal(bind, new LighthouseSettings { Host = host }.BindHost);
    }

    [Fact]
    public void Load_Help_ReturnsNull()
    {
        Assert.Null(Load(["--port", "1", "--help"]));
    }

    [Theory]
    [InlineData("setting CLUSTER_PORT (--port) is invalid: 'abc' (from the environment) is not a port number", "CLUSTER_PORT", "abc")]
    [InlineData("setting ACTORSYSTEM (--system) is invalid: 'a@b'", "ACTORSYSTEM", "a@b")]
    [InlineData("setting CLUSTER_SEEDS (--seeds) is invalid: entry 1 'lighthouse:4053' is not akka.tcp://system@host:port", "CLUSTER_SEEDS", "lighthouse:4053")]
    [InlineData("setting CLUSTER_SEEDS (--seeds) is invalid: entry 1 'kv://akkakv@lighthouse:4053' is not akka.tcp://system@host:port", "CLUSTER_SEEDS", "kv://akkakv@lighthouse:4053")]
    [InlineData("setting CLUSTER_SEEDS (--seeds) is invalid: entry 1 'akka.tcp://akkakv@lighthouse:4053/user' is not akka.tcp://system@host:port", "CLUSTER_SEEDS", "akka.tcp://akkakv@lighthouse:4053/user")]
    [InlineData("setting CLUSTER_SEEDS (--seeds) is invalid: entry 1 'akka.tcp://akkakv@lighthouse' is not akka.tcp://system@host:port", "CLUSTER_SEEDS", "akka.tcp://akkakv@lighthouse")]
    [InlineData("setting CLUSTER_SEEDS (--seeds) is invalid: entry 2 'akka.tcp://other@h:1' names actor system 'other' but ACTORSYSTEM is 'akkakv'", "CLUSTER_SEEDS", "akka.tcp://akkakv@h:1,akka.tcp://other@h:1")]
    [InlineData("setting PBM_HOST (--pbm-host) is invalid: 'pbm.example' must be an IP address", "PBM_HOST", "pbm.example")]
    [InlineData("setting CLUSTER_IP (--host) is invalid: 'not a host!'", "CLUSTER_IP", "not a host!")]
    [InlineData("setting LOG_FORMAT (--log-format) is invalid: 'xml'", "LOG_FORMAT", "xml")]
    public void Load_InvalidEnvironmentValue_ErrorNamesTheSetting(string expected, string variable, string value)
    {
        var ex = Assert.Throws<LighthouseConfigurationException>(() => Load([], new Dictionary<string, string> { [variable] = value }));

        Assert.StartsWith(expected, ex.Message);
    }

    [Theory]
    [InlineData("unknown flag --bogus", "--bogus", "1")]
    [InlineData("flag --port needs a value", "--port")]
    [InlineData("unexpected argument 'serve'", "serve")]
    [InlineData("unknown flag --cluster-name", "--cluster-name", "akkakv")]
    [InlineData("setting PBM_PORT (--pbm-port) is invalid: '70000' (from the command line)", "--pbm-port", "70000")]
    public void Load_BadFlags_ErrorNamesTheFlag(string expected, params string[] args)
    {
        var ex = Assert.Throws<LighthouseConfigurationException>(() => Load(args));

        Assert.StartsWith(expected, ex.Message);
    }

    [Fact]
    public async Task Run_InvalidConfiguration_ExitTwoWithOneErrorLine()
    {
        var error = new StringWriter();

        var code = await LighthouseProgram.RunAsync(["--port", "x"], _ => null, error);

        Assert.Equal(2, code);
        Assert.StartsWith("lighthouse: error: setting CLUSTER_PORT (--port) is invalid: 'x'", error.ToString());
    }
}
