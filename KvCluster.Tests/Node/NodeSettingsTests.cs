using KvCluster.Node.Hosting;
using KvCluster.Tests.Persistence;
using Microsoft.Extensions.Configuration;

namespace KvCluster.Tests.Node;

public sealed class NodeSettingsTests
{
    private static readonly IReadOnlyDictionary<string, string?> s_noEnvironment = new Dictionary<string, string?>();

    [Fact]
    public void Defaults_AreValid_AndFormAOneNodeGroupOnTheDefaultPort()
    {
        var members = new NodeOptions().Validate();

        var only = Assert.Single(members);
        Assert.Equal(1UL, only.Key);
        Assert.Equal("127.0.0.1:4054", only.Value.ToString());
    }

    [Theory]
    [InlineData("--port", "0", "Node:Port")]
    [InlineData("--port", "70000", "Node:Port")]
    [InlineData("--node-id", "0", "Node:Id")]
    [InlineData("--sync", "sometimes", "Node:Sync")]
    [InlineData("--election-ticks-max", "5", "Node:ElectionTicksMax")]
    [InlineData("--peers", "1=127.0.0.1:4054,x=127.0.0.1:4055", "Node:Peers")]
    [InlineData("--peers", "2=127.0.0.1:4055,3=127.0.0.1:4056", "Node:Peers")]
    [InlineData("--peers", "1=127.0.0.1:4054,2=127.0.0.1:4054", "Node:Peers")]
    [InlineData("--seeds", "not-an-address", "Node:Seeds")]
    [InlineData("--max-value-bytes", "-1", "Node:MaxValueBytes")]
    public void Validate_BadValue_NamesTheSetting(string flag, string value, string setting)
    {
        var error = Assert.Throws<NodeConfigurationException>(() => Build([flag, value]).Validate());

        Assert.Equal(setting, error.Setting);
        Assert.StartsWith(setting, error.Message);
    }

    [Fact]
    public void Bind_ValueOfTheWrongType_NamesTheKey()
    {
        var error = Assert.Throws<NodeConfigurationException>(() => Build(["--port", "abc"]));

        Assert.Contains("Node:Port", error.Message);
    }

    [Fact]
    public void ParseFlags_UnknownFlag_IsAnErrorNamingIt()
    {
        var error = Assert.Throws<NodeConfigurationException>(() => NodeSettingsTable.ParseFlags(["--prot", "1"], out _));

        Assert.Contains("'--prot'", error.Message);
    }

    [Fact]
    public void ParseFlags_FlagWithoutValue_IsAnError()
    {
        var error = Assert.Throws<NodeConfigurationException>(() => NodeSettingsTable.ParseFlags(["--port"], out _));

        Assert.Contains("--port needs a value", error.Message);
    }

    [Fact]
    public void Sources_LighthouseAliasesThenPrefixedVariablesThenFlags_InThatPrecedence()
    {
        var environment = new Dictionary<string, string?>
        {
            ["CLUSTER_IP"] = "127.0.0.2",
            ["CLUSTER_PORT"] = "5000",
            ["AKKAKV_Node__Port"] = "5001",
            ["ACTORSYSTEM"] = "othersys",
            ["AKKAKV_Node__DataDir"] = "/tmp/x",
        };

        var fromEnvironment = Build([], environment);
        var fromFlags = Build(["--port=5002", "--data-dir", "/tmp/y"], environment);

        Assert.Equal("127.0.0.2", fromEnvironment.Host);
        Assert.Equal(5001, fromEnvironment.Port);
        Assert.Equal("othersys", fromEnvironment.SystemName);
        Assert.Equal("/tmp/x", fromEnvironment.DataDir);
        Assert.Equal(5002, fromFlags.Port);
        Assert.Equal("/tmp/y", fromFlags.DataDir);
    }

    [Fact]
    public void Bind_UnknownKeyInTheNodeSection_IsAnError()
    {
        using var dir = new TempDirectory();
        var file = dir.File("bad.json");
        File.WriteAllText(file, """{ "Node": { "Prot": 1 } }""");

        var error = Assert.Throws<NodeConfigurationException>(() => Build(["--config", file]));

        Assert.Contains("Prot", error.Message);
    }

    [Fact]
    public void HelpText_ListsEveryFlagAndItsVariable()
    {
        var help = NodeSettingsTable.HelpText();

        foreach (var setting in NodeSettingsTable.All)
        {
            Assert.Contains(setting.Flag, help);
            Assert.Contains("Node:" + setting.Key, help);
        }

        Assert.Contains("CLUSTER_PORT", help);
        Assert.Contains("Exit codes", help);
    }

    [Fact]
    public async Task Run_Help_PrintsTheSettingsAndExitsZero()
    {
        var output = new StringWriter();

        var code = await NodeProgram.RunAsync(["--help"], s_noEnvironment, new StringWriter(), output);

        Assert.Equal(NodeSettingsTable.ExitOk, code);
        Assert.Contains("--data-dir", output.ToString());
    }

    [Fact]
    public async Task Run_BadFlag_ExitsTwoWithOneErrorLine()
    {
        var error = new StringWriter();

        var code = await NodeProgram.RunAsync(["--port", "-5"], s_noEnvironment, error, new StringWriter());

        Assert.Equal(NodeSettingsTable.ExitUsage, code);
        Assert.StartsWith("akkakv-node: error: Node:Port", error.ToString());
        Assert.DoesNotContain("   at ", error.ToString());
    }

    [Fact]
    public async Task Run_DataDirectoryOfAnotherNode_ExitsThreeAndLeavesItUntouched()
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File(KvNode.IdentityFileName), "cluster=akkakv\nnode=2\n");

        var code = await NodeProgram.RunAsync(["--data-dir", dir.Path, "--port", FreePort(), "--pbm-port", "0"], s_noEnvironment, new StringWriter(), new StringWriter());

        Assert.Equal(NodeSettingsTable.ExitData, code);
        Assert.Equal("cluster=akkakv\nnode=2\n", await File.ReadAllTextAsync(dir.File(KvNode.IdentityFileName)));
        Assert.False(File.Exists(dir.File("journal.db")));
    }

    [Fact]
    public async Task Start_CorruptedJournal_IsRefusedNamingTheFileAndLeavesItUntouched()
    {
        using var dir = new TempDirectory();
        var garbage = Enumerable.Range(0, 8192).Select(i => (byte)(i * 7)).ToArray();
        await File.WriteAllBytesAsync(dir.File("journal.db"), garbage);
        var options = new NodeOptions { DataDir = dir.Path, Port = int.Parse(FreePort(), System.Globalization.CultureInfo.InvariantCulture), PbmPort = 0 };

        var error = await Assert.ThrowsAsync<NodeDataException>(() => KvNode.StartAsync(options, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance));

        Assert.Contains("journal.db", error.Message);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(dir.File("journal.db")));
    }

    private static NodeOptions Build(string[] args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var flags = NodeSettingsTable.ParseFlags(args, out var configFile);
        var configuration = new ConfigurationManager();
        NodeSettingsTable.AddSources(configuration, flags, configFile, environment ?? s_noEnvironment);
        return NodeSettingsTable.Bind(configuration);
    }

    private static string FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
