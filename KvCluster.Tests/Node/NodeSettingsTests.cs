using KvCluster.Tests.Persistence;
using KvCluster.Node.Hosting;
using KvCluster.Raft.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

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
    [InlineData("--seeds", "akka.tcp://othersys@127.0.0.1:4053", "Node:Seeds")]
    [InlineData("--max-value-bytes", "-1", "Node:MaxValueBytes")]
    [InlineData("--auto-compaction-mode", "sometimes", "Node:AutoCompactionMode")]
    [InlineData("--auto-compaction-retention", "1h", "Node:AutoCompactionRetention")]
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
        await File.WriteAllTextAsync(dir.File(NodeDataDirectory.IdentityFileName), "cluster=akkakv\nnode=2\n");

        var code = await NodeProgram.RunAsync(["--data-dir", dir.Path, "--port", NodeTestSupport.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--pbm-port", "0", "--client-port", "0"], s_noEnvironment, new StringWriter(), new StringWriter());

        Assert.Equal(NodeSettingsTable.ExitData, code);
        Assert.Equal("cluster=akkakv\nnode=2\n", await File.ReadAllTextAsync(dir.File(NodeDataDirectory.IdentityFileName)));
        Assert.False(File.Exists(RaftJournalConfig.DatabasePath(dir.Path)));
    }

    [Fact]
    public async Task Start_CorruptedJournal_IsRefusedNamingTheFileAndLeavesItUntouched()
    {
        using var dir = new TempDirectory();
        var garbage = Enumerable.Range(0, 8192).Select(i => (byte)(i * 7)).ToArray();
        var journal = RaftJournalConfig.DatabasePath(dir.Path);
        await File.WriteAllBytesAsync(journal, garbage);
        var options = new NodeOptions { DataDir = dir.Path, Port = NodeTestSupport.FreePort(), PbmPort = 0 };

        var error = await Assert.ThrowsAsync<NodeDataException>(() => KvNode.StartAsync(options, NullLoggerFactory.Instance, NodeTestSupport.Hooks));

        Assert.Contains(journal, error.Message);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(journal));
    }

    [Fact]
    public async Task Start_JournalOfTheInHouseRuntime_IsRefusedWithHowToMoveTheDataAndLeftUntouched()
    {
        using var dir = new TempDirectory();
        var legacy = dir.File(NodeDataDirectory.LegacyJournalFileName);
        CreateLegacyJournal(legacy);
        var before = await File.ReadAllBytesAsync(legacy);
        var options = new NodeOptions { DataDir = dir.Path, Port = NodeTestSupport.FreePort(), PbmPort = 0 };

        var error = await Assert.ThrowsAsync<NodeDataException>(() => KvNode.StartAsync(options, NullLoggerFactory.Instance, NodeTestSupport.Hooks));

        Assert.Contains(legacy, error.Message);
        Assert.Contains("in-house runtime", error.Message);
        Assert.Contains("To move the data", error.Message);
        Assert.Equal(before, await File.ReadAllBytesAsync(legacy));
        Assert.False(File.Exists(RaftJournalConfig.DatabasePath(dir.Path)), "the new journal must not be created beside the old one");
    }

    [Fact]
    public async Task Run_JournalOfTheInHouseRuntime_ExitsThree()
    {
        using var dir = new TempDirectory();
        CreateLegacyJournal(dir.File(NodeDataDirectory.LegacyJournalFileName));

        var code = await NodeProgram.RunAsync(["--data-dir", dir.Path, "--port", NodeTestSupport.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--pbm-port", "0", "--client-port", "0"], s_noEnvironment, new StringWriter(), new StringWriter());

        Assert.Equal(NodeSettingsTable.ExitData, code);
    }

    [Fact]
    public void Claim_DirectoryHeldByAnotherNode_IsRefusedNamingTheDirectoryAndThePid()
    {
        using var dir = new TempDirectory();
        var options = new NodeOptions { DataDir = dir.Path };
        using var first = NodeDataDirectory.Claim(options);

        var error = Assert.Throws<NodeDataException>(() => NodeDataDirectory.Claim(options));

        Assert.Contains(dir.Path, error.Message);
        Assert.Contains($"pid {Environment.ProcessId}", error.Message);
    }

    [Fact]
    public void Claim_AfterTheHolderReleasedIt_Succeeds()
    {
        using var dir = new TempDirectory();
        var options = new NodeOptions { DataDir = dir.Path };
        NodeDataDirectory.Claim(options).Dispose();

        using var again = NodeDataDirectory.Claim(options);

        Assert.Equal(Path.GetFullPath(dir.Path), again.Path);
    }

    [Fact]
    public void SeedList_KvAndAkkaForms_AreAkkaTcpAddresses()
    {
        var options = new NodeOptions { Seeds = "kv://akkakv@lighthouse:4053, akka.tcp://akkakv@10.0.0.2:4053/" };

        Assert.Equal(["akka.tcp://akkakv@lighthouse:4053", "akka.tcp://akkakv@10.0.0.2:4053"], options.SeedList());
    }

    [Fact]
    public void SeedsOf_NoSeeds_AreTheGroupLowestIdFirst_AndARejoiningNodeLeavesItselfOut()
    {
        var options = new NodeOptions { Id = 1, Port = 4054, Peers = "2=127.0.0.1:4055,1=127.0.0.1:4054,3=127.0.0.1:4056" };
        var members = options.Validate();

        Assert.Equal(["akka.tcp://akkakv@127.0.0.1:4054", "akka.tcp://akkakv@127.0.0.1:4055", "akka.tcp://akkakv@127.0.0.1:4056"], KvNode.SeedsOf(options, members, rejoining: false));
        Assert.Equal(["akka.tcp://akkakv@127.0.0.1:4055", "akka.tcp://akkakv@127.0.0.1:4056"], KvNode.SeedsOf(options, members, rejoining: true));
    }

    [Fact]
    public void AddressOf_FaultInjection_UsesTheThrottlerScheme()
    {
        Assert.Equal("akka.trttl.tcp://akkakv@h:1", new NodeOptions { FaultInjection = true }.AddressOf(new KvCluster.Client.KvEndpoint("h", 1)));
    }

    /// <summary>A journal.db with the in-house runtime's tables (KvCluster.Actors.Persistence/Sqlite schema).</summary>
    private static void CreateLegacyJournal(string file)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText =
            "CREATE TABLE schema_version (component TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;" +
            "CREATE TABLE journal_event (ordering INTEGER PRIMARY KEY, persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, payload BLOB);" +
            "INSERT INTO journal_event (persistence_id, sequence_nr, payload) VALUES ('raft-1', 1, x'01');";
        command.ExecuteNonQuery();
    }

    private static NodeOptions Build(string[] args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var flags = NodeSettingsTable.ParseFlags(args, out var configFile);
        var configuration = new ConfigurationManager();
        NodeSettingsTable.AddSources(configuration, flags, configFile, environment ?? s_noEnvironment);
        return NodeSettingsTable.Bind(configuration);
    }
}
