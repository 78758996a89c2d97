using Akka.Actor;
using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Harness;

/// <summary>Roles and per-node configuration of a multi-node spec (no network).</summary>
public sealed class MultiNodeConfigSpecs
{
    [Fact]
    public void EffectiveConfig_NodeOverride_WinsOverCommonOnlyForThatNode()
    {
        var config = new MultiNodeConfig();
        var first = config.Role("node1");
        var second = config.Role("node2");
        config.CommonConfig("tick", "25").CommonConfig("name", "kv");
        config.NodeConfig(second, "tick", "50");

        Assert.Equal("25", config.EffectiveConfig(first)["tick"]);
        Assert.Equal("50", config.EffectiveConfig(second)["tick"]);
        Assert.Equal("kv", config.EffectiveConfig(second)["name"]);
        Assert.Equal([first, second], config.Roles);
    }

    [Theory]
    [InlineData("")]
    [InlineData("node 1")]
    [InlineData("node@1")]
    [InlineData("-node")]
    public void Role_InvalidSystemName_ThrowsNamingIt(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => new MultiNodeConfig().Role(name));

        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Role_DeclaredTwice_Throws()
    {
        var config = new MultiNodeConfig();
        config.Role("node1");

        var error = Assert.Throws<ArgumentException>(() => config.Role("node1"));

        Assert.Contains("declared twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NodeConfig_UndeclaredRole_ThrowsListingTheDeclaredOnes()
    {
        var config = new MultiNodeConfig();
        config.Role("node1");

        var error = Assert.Throws<ArgumentException>(() => config.NodeConfig(new RoleName("node9"), "k", "v"));

        Assert.Contains("node9", error.Message, StringComparison.Ordinal);
        Assert.Contains("declared: node1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetInt_NotAnInteger_ThrowsNamingKeyAndNode()
    {
        var member = new MultiNodeMember(new RoleName("node1"), 1, new Address(MultiNodeSystems.Protocol, "node1", "127.0.0.1", 4000));
        var info = new NodeStartInfo(member, [member], "/tmp/x", new Dictionary<string, string> { ["tick"] = "fast" }, 1);

        var error = Assert.Throws<ArgumentException>(() => info.GetInt("tick", 25));

        Assert.Contains("'tick'", error.Message, StringComparison.Ordinal);
        Assert.Contains("node1", error.Message, StringComparison.Ordinal);
        Assert.Equal(25, info.GetInt("absent", 25));
    }

    [Fact]
    public void AkkaConfig_Node_ListensOnItsPortThroughTheThrottlerWithMessagesSerialized()
    {
        var member = new MultiNodeMember(new RoleName("node1"), 1, new Address(MultiNodeSystems.Protocol, "node1", "127.0.0.1", 4711));
        var info = new NodeStartInfo(member, [member], "/tmp/x", new Dictionary<string, string>(), 1);

        var config = info.AkkaConfig;

        Assert.Equal(4711, config.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal(["trttl"], config.GetStringList("akka.remote.dot-netty.tcp.applied-adapters"));
        Assert.True(config.GetBoolean("akka.actor.serialize-messages"));
        Assert.Equal(4711, info.Port);
        Assert.Equal("node1", info.SystemName);
    }
}
