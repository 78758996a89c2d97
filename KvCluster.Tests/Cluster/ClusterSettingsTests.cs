using KvCluster.Actors.Cluster;
using Xunit;

namespace KvCluster.Tests.Cluster;

public sealed class ClusterSettingsTests
{
    [Fact]
    public void Validate_Defaults_Pass()
    {
        new ClusterSettings { SeedNodes = ["kv://kv@127.0.0.1:4053", "kv://kv@[::1]:4054"] }.Validate();
    }

    [Fact]
    public void Validate_DefaultAutoDown_IsOff()
    {
        Assert.Null(new ClusterSettings().AutoDownUnreachableAfter);
    }

    [Theory]
    [InlineData("127.0.0.1:4053")]
    [InlineData("kv://127.0.0.1:4053")]
    [InlineData("kv://kv@127.0.0.1")]
    [InlineData("kv://kv@127.0.0.1:0")]
    [InlineData("kv://kv@127.0.0.1:4053/user/a")]
    public void Validate_MalformedSeed_ErrorNamesSeedNodesAndEntry(string seed)
    {
        var settings = new ClusterSettings { SeedNodes = ["kv://kv@127.0.0.1:4053", seed] };

        var error = Assert.Throws<ArgumentException>(settings.Validate);

        Assert.Equal(nameof(ClusterSettings.SeedNodes), error.ParamName);
        Assert.Contains("SeedNodes", error.Message);
        Assert.Contains("entry 1", error.Message);
        Assert.Contains(seed, error.Message);
    }

    public static TheoryData<string, ClusterSettings> InvalidSettings => new()
    {
        { nameof(ClusterSettings.GossipInterval), new ClusterSettings { GossipInterval = TimeSpan.Zero } },
        { nameof(ClusterSettings.HeartbeatInterval), new ClusterSettings { HeartbeatInterval = TimeSpan.FromSeconds(-1) } },
        { nameof(ClusterSettings.AutoDownUnreachableAfter), new ClusterSettings { AutoDownUnreachableAfter = TimeSpan.Zero } },
        { nameof(ClusterSettings.FailureDetectorThreshold), new ClusterSettings { FailureDetectorThreshold = 0 } },
        { nameof(ClusterSettings.AcceptableHeartbeatPause), new ClusterSettings { AcceptableHeartbeatPause = TimeSpan.FromSeconds(-1) } },
        { nameof(ClusterSettings.SeedNodeTimeout), new ClusterSettings { SeedNodeTimeout = TimeSpan.Zero } },
        { nameof(ClusterSettings.RetryUnsuccessfulJoinAfter), new ClusterSettings { RetryUnsuccessfulJoinAfter = TimeSpan.Zero } },
        { nameof(ClusterSettings.Roles), new ClusterSettings { Roles = ["kv", " "] } },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void Validate_InvalidValue_ErrorNamesSetting(string setting, ClusterSettings settings)
    {
        var error = Assert.Throws<ArgumentException>(settings.Validate);

        Assert.Equal(setting, error.ParamName);
        Assert.StartsWith($"Cluster setting {setting} is invalid", error.Message);
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task Start_InvalidSettings_ThrowsAndLeavesSystemWithoutCluster()
    {
        var system = await KvCluster.Actors.Remote.Actors.RemoteActorSystem.CreateAsync(new KvCluster.Actors.Remote.Transport.RemoteSettings { SystemName = "kvtest" });
        try
        {
            var error = Assert.Throws<ArgumentException>(() => KvCluster.Actors.Cluster.Cluster.Start(system, new ClusterSettings { GossipInterval = TimeSpan.Zero }));

            Assert.Contains("GossipInterval", error.Message);
            Assert.Throws<InvalidOperationException>(() => KvCluster.Actors.Cluster.Cluster.Get(system));
        }
        finally
        {
            await KvCluster.Actors.Remote.Actors.RemoteActorSystem.TerminateAsync(system);
        }
    }
}
