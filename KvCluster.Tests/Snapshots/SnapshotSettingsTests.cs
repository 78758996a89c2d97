using KvCluster.Node.Hosting;
using Microsoft.Extensions.Configuration;

namespace KvCluster.Tests.Snapshots;

/// <summary>The snapshot settings (issue 17): flag, variable and appsettings key, defaults, validation naming the setting.</summary>
public sealed class SnapshotSettingsTests
{
    [Fact]
    public void Defaults_AreEtcdsCountsAnd64MiB()
    {
        var options = new NodeOptions();

        Assert.Equal(100_000, options.SnapshotCount);
        Assert.Equal(64L * 1024 * 1024, options.SnapshotBytes);
        Assert.Equal(5_000, options.SnapshotCatchupEntries);
        Assert.Equal(1.0, options.SnapshotLogRatio);
        Assert.Equal(0.1, options.SnapshotOnStopRatio);
        options.Validate();
    }

    [Theory]
    [InlineData("--snapshot-count", "0", "Node:SnapshotCount")]
    [InlineData("--snapshot-count", "-5", "Node:SnapshotCount")]
    [InlineData("--snapshot-bytes", "-1", "Node:SnapshotBytes")]
    [InlineData("--snapshot-catchup-entries", "-1", "Node:SnapshotCatchupEntries")]
    [InlineData("--snapshot-log-ratio", "-0.5", "Node:SnapshotLogRatio")]
    [InlineData("--snapshot-log-ratio", "Infinity", "Node:SnapshotLogRatio")]
    [InlineData("--snapshot-on-stop-ratio", "-1", "Node:SnapshotOnStopRatio")]
    [InlineData("--snapshot-on-stop-ratio", "NaN", "Node:SnapshotOnStopRatio")]
    public void Validate_BadValue_NamesTheSetting(string flag, string value, string setting)
    {
        var error = Assert.Throws<NodeConfigurationException>(() => Build([flag, value]).Validate());

        Assert.Equal(setting, error.Setting);
        Assert.StartsWith(setting, error.Message);
    }

    [Fact]
    public void Bind_NotANumber_NamesTheKey()
    {
        var error = Assert.Throws<NodeConfigurationException>(() => Build(["--snapshot-bytes", "64MiB"]));

        Assert.Contains("Node:SnapshotBytes", error.Message);
    }

    [Fact]
    public void Sources_FlagsVariablesAndAppsettingsKeys_AllReachTheSettings()
    {
        var environment = new Dictionary<string, string?>
        {
            ["AKKAKV_Node__SnapshotCount"] = "250",
            ["AKKAKV_Node__SnapshotBytes"] = "0",
        };
        var dir = Directory.CreateTempSubdirectory("akkakv-snapshot-settings-");
        try
        {
            var file = Path.Combine(dir.FullName, "node.json");
            File.WriteAllText(file, """{ "Node": { "SnapshotCatchupEntries": 42, "SnapshotCount": 7 } }""");

            var options = Build(["--config", file, "--snapshot-bytes", "1048576"], environment);

            Assert.Equal(250, options.SnapshotCount);
            Assert.Equal(1_048_576, options.SnapshotBytes);
            Assert.Equal(42, options.SnapshotCatchupEntries);
            options.Validate();
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void HelpText_ListsTheSnapshotFlagsWithTheirDefaults()
    {
        var help = NodeSettingsTable.HelpText();

        Assert.Contains("--snapshot-count", help);
        Assert.Contains("--snapshot-bytes", help);
        Assert.Contains("--snapshot-catchup-entries", help);
        Assert.Contains("--snapshot-log-ratio", help);
        Assert.Contains("67108864", help);
    }

    private static NodeOptions Build(string[] args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var flags = NodeSettingsTable.ParseFlags(args, out var configFile);
        var configuration = new ConfigurationManager();
        NodeSettingsTable.AddSources(configuration, flags, configFile, environment ?? new Dictionary<string, string?>());
        return NodeSettingsTable.Bind(configuration);
    }
}
