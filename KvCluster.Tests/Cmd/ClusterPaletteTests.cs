using System.Text.Json;
using Akka.Cluster;
using KvCluster.Pbm;
using KvCluster.Client.Cli;

namespace KvCluster.Tests.Cmd;

/// <summary>The cluster palette against real clusters of in-process actor systems on loopback.</summary>
[Trait("Category", "Integration")]
public sealed class ClusterPaletteTests
{
    [Fact]
    public async Task ClusterShow_ThreeNodesThroughRealTcpHost_OneLinePerMemberThenCount()
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await using var b = await AkkaClusterNode.StartJoiningAsync(seed);
        await using var c = await AkkaClusterNode.StartJoiningAsync(seed);
        await AkkaClusterNode.AwaitAsync(() => new[] { seed, b, c }.All(n => n.UpCount == 3), "three members Up");
        await using var host = await StartHostAsync(b);
        await using var client = await CmdTestClient.ConnectAsync(host);

        var (status, body) = await client.AskAsync("cluster show");

        Assert.Equal("ok", status);
        var lines = body.Split('\n');
        Assert.Equal(4, lines.Length);
        var expected = new[] { seed, b, c }.Select(n => n.Cluster.SelfUniqueAddress).Order().Select(u => u.Address.ToString()).ToArray();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal([expected[i], "kv", "Up", "Reachable"], lines[i].Split('|').Select(s => s.Trim()).ToArray());
        }

        Assert.Equal("3 members, 3 up, 0 unreachable", lines[3]);
    }

    [Fact]
    public async Task ClusterShow_ThroughKvPbmInProcess_TextAndJson()
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await using var b = await AkkaClusterNode.StartJoiningAsync(seed);
        await AkkaClusterNode.AwaitAsync(() => seed.UpCount == 2 && b.UpCount == 2, "two members Up");
        await using var host = await StartHostAsync(seed);
        var endpoint = $"127.0.0.1:{host.LocalEndPoint!.Port}";

        var (code, output, error) = await KvPbmAsync("pbm", endpoint, "cluster", "show");
        var (jsonCode, json, _) = await KvPbmAsync("pbm", endpoint, "cluster", "show", "--output", "json");

        Assert.Equal((ExitCodes.Success, string.Empty), (code, error));
        Assert.Contains($"{seed.Address} | kv | Up | Reachable", output);
        Assert.EndsWith("2 members, 2 up, 0 unreachable\n", output.ReplaceLineEndings("\n"));
        Assert.Equal(ExitCodes.Success, jsonCode);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("ok", doc.RootElement.GetProperty("status").GetString());
        var members = doc.RootElement.GetProperty("data").GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(2, members.Count);
        Assert.All(members, m => Assert.Equal("Up", m.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task ClusterStatusAndLeader_TwoNodes_NameThisNodeAndTheLowestAddress()
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await using var b = await AkkaClusterNode.StartJoiningAsync(seed);
        await AkkaClusterNode.AwaitAsync(() => seed.UpCount == 2 && b.UpCount == 2 && b.Cluster.State.Leader is not null, "two members Up with a leader");
        await using var host = await StartHostAsync(b);
        var expectedLeader = new[] { seed, b }.Select(n => n.Cluster.SelfUniqueAddress).Min()!.Address;

        var leader = await host.ExecuteAsync("cluster leader");
        var status = await host.ExecuteAsync("cluster status");

        Assert.Equal(new CommandResponse(CommandStatus.Ok, expectedLeader.ToString()), leader);
        Assert.Equal(CommandStatus.Ok, status.Status);
        Assert.StartsWith($"node: {b.Address}\n", status.Body);
        Assert.Contains("\nstatus: Up\n", status.Body);
        Assert.Contains("\nroles: kv\n", status.Body);
        Assert.Contains($"\nleader: {expectedLeader}\n", status.Body);
        Assert.EndsWith("2 members, 2 up, 0 unreachable", status.Body);
    }

    [Fact]
    public async Task ClusterJoin_NodeWithoutSeeds_JoinsThroughCommandThenRefusesSecondJoin()
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await AkkaClusterNode.AwaitAsync(() => seed.UpCount == 1, "the seed formed its cluster");
        await using var loner = await AkkaClusterNode.StartAsync(AkkaClusterNode.FastConfig());
        await using var host = await StartHostAsync(loner);
        var before = await host.ExecuteAsync("cluster leader");

        var join = await host.ExecuteAsync($"cluster join 127.0.0.1:{seed.Address.Port}");

        Assert.Equal(CommandStatus.Failed, before.Status);
        Assert.Equal(CommandStatus.Ok, join.Status);
        Assert.Equal($"joining the cluster through {seed.Address}; follow with 'cluster status'", join.Body);
        await AkkaClusterNode.AwaitAsync(() => loner.UpCount == 2 && seed.UpCount == 2, "the loner Up in the seed's cluster", null, seed, loner);
        var again = await host.ExecuteAsync($"cluster join {seed.Address}");
        Assert.Equal(CommandStatus.Failed, again.Status);
        Assert.StartsWith("this node is already a member (Up)", again.Body);
    }

    [Fact]
    public async Task ClusterLeave_OtherMemberByHostPort_RemovedGracefully()
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await using var b = await AkkaClusterNode.StartJoiningAsync(seed);
        await using var c = await AkkaClusterNode.StartJoiningAsync(seed);
        await AkkaClusterNode.AwaitAsync(() => new[] { seed, b, c }.All(n => n.UpCount == 3), "three members Up");
        await using var host = await StartHostAsync(b);

        var leave = await host.ExecuteAsync($"cluster leave 127.0.0.1:{c.Address.Port}");

        Assert.Equal(new CommandResponse(CommandStatus.Ok, $"{c.Address} is leaving (Leaving, then Exiting, then Removed)"), leave);
        await AkkaClusterNode.AwaitAsync(() => seed.HasEvent<ClusterEvent.MemberRemoved>(e => e.Member.Address.Equals(c.Address) && e.PreviousStatus == MemberStatus.Exiting), "c removed after Exiting", null, seed);
        await AkkaClusterNode.AwaitAsync(() => c.Cluster.IsTerminated, "c's membership shut down");
        await AkkaClusterNode.AwaitAsync(() => b.HasEvent<ClusterEvent.MemberRemoved>(e => e.Member.Address.Equals(c.Address)), "b saw c removed", null, b);
        var show = await host.ExecuteAsync("cluster show");
        Assert.EndsWith("2 members, 2 up, 0 unreachable", show.Body);
    }

    [Fact]
    public async Task ClusterLeave_NoAddress_ThisNodeLeaves()
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await using var b = await AkkaClusterNode.StartJoiningAsync(seed);
        await AkkaClusterNode.AwaitAsync(() => seed.UpCount == 2 && b.UpCount == 2, "two members Up");
        await using var host = await StartHostAsync(b);

        var leave = await host.ExecuteAsync("cluster leave");

        Assert.Equal(CommandStatus.Ok, leave.Status);
        await AkkaClusterNode.AwaitAsync(() => b.Cluster.IsTerminated, "b's membership shut down");
        var status = await host.ExecuteAsync("cluster status");
        Assert.Contains("status: Removed (this node's membership has shut down; restart it to rejoin)", status.Body);
    }

    [Fact]
    public async Task ClusterDown_NodeStoppedAbruptly_UnreachableThenRemovedAfterDownThroughTcpHost()
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await using var b = await AkkaClusterNode.StartJoiningAsync(seed);
        var c = await AkkaClusterNode.StartJoiningAsync(seed);
        await AkkaClusterNode.AwaitAsync(() => new[] { seed, b, c }.All(n => n.UpCount == 3), "three members Up");
        await using var host = await StartHostAsync(seed);
        await using var client = await CmdTestClient.ConnectAsync(host);
        var crashed = c.Address;

        await c.CrashAsync();
        await AkkaClusterNode.AwaitAsync(() => seed.Cluster.State.Unreachable.Any(m => m.Address.Equals(crashed)), "seed sees c unreachable", null, seed);
        var before = await client.AskAsync("cluster show");
        var down = await client.AskAsync($"cluster down {crashed}");

        Assert.Contains($"{crashed} | kv | Up | Unreachable", before.Body);
        Assert.EndsWith("3 members, 3 up, 1 unreachable", before.Body);
        Assert.Equal(("ok", $"{crashed} marked Down; the leader removes it"), down);
        await AkkaClusterNode.AwaitAsync(() => new[] { seed, b }.All(n => n.HasEvent<ClusterEvent.MemberRemoved>(e => e.Member.Address.Equals(crashed) && e.PreviousStatus == MemberStatus.Down)), "c Removed on the survivors", null, seed, b);

        // `cluster show` reads the seed's Cluster.State, which its own subscriber updates after this spec's saw the event.
        await AkkaClusterNode.AwaitAsync(() => seed.Cluster.State.Members.All(m => !m.Address.Equals(crashed)), "c gone from the seed's cluster state", null, seed);
        var after = await client.AskAsync("cluster show");
        Assert.DoesNotContain(crashed.ToString(), after.Body);
        Assert.EndsWith("2 members, 2 up, 0 unreachable", after.Body);
    }

    [Fact]
    public async Task ClusterDownUnreachable_OneCrashedNode_DownsExactlyThatNode()
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await using var b = await AkkaClusterNode.StartJoiningAsync(seed);
        var c = await AkkaClusterNode.StartJoiningAsync(seed);
        await AkkaClusterNode.AwaitAsync(() => new[] { seed, b, c }.All(n => n.UpCount == 3), "three members Up");
        await using var host = await StartHostAsync(b);
        var crashed = c.Address;
        var nothing = await host.ExecuteAsync("cluster down-unreachable");

        await c.CrashAsync();
        await AkkaClusterNode.AwaitAsync(() => b.Cluster.State.Unreachable.Any(m => m.Address.Equals(crashed)), "b sees c unreachable", null, b);
        var down = await host.ExecuteAsync("--output json cluster down-unreachable");

        Assert.Equal(new CommandResponse(CommandStatus.Ok, "no unreachable members to down"), nothing);
        using var doc = JsonDocument.Parse(down.Body);
        Assert.Equal([crashed.ToString()], doc.RootElement.GetProperty("data").GetProperty("downed").EnumerateArray().Select(e => e.GetString()));
        await AkkaClusterNode.AwaitAsync(() => seed.HasEvent<ClusterEvent.MemberRemoved>(e => e.Member.Address.Equals(crashed)), "c Removed", null, seed);
    }

    [Theory]
    [InlineData("cluster down 127.0.0.1:1", CommandStatus.Failed, "akka.tcp://kvtest@127.0.0.1:1 is not a member of this node's cluster; 'cluster show' lists the members")]
    [InlineData("cluster down kv://nope", CommandStatus.Usage, "'kv://nope' is not an Akka address: expected akka.tcp://system@host:port")]
    [InlineData("cluster down akka.tcp://kvtest@127.0.0.1", CommandStatus.Usage, "is not an Akka address")]
    [InlineData("cluster down somewhere", CommandStatus.Usage, "'somewhere' is not an address: expected akka.tcp://system@host:port or host:port")]
    [InlineData("cluster join here:99999", CommandStatus.Usage, "'here:99999' is not an address")]
    [InlineData("cluster leave 127.0.0.1:1", CommandStatus.Failed, "is not a member of this node's cluster")]
    public async Task ClusterCommands_BadOrUnknownAddress_UsageOrFailedNamingIt(string line, CommandStatus status, string expected)
    {
        await using var seed = await AkkaClusterNode.StartFirstSeedAsync();
        await AkkaClusterNode.AwaitAsync(() => seed.UpCount == 1, "the seed formed its cluster");
        await using var host = await StartHostAsync(seed);

        var response = await host.ExecuteAsync(line);

        Assert.Equal(status, response.Status);
        Assert.Contains(expected, response.Body);
        Assert.DoesNotContain("   at ", response.Body);
    }

    private static async Task<CommandHost> StartHostAsync(AkkaClusterNode node)
    {
        var host = new CommandHost(node.System, new CommandHostSettings { Port = 0 }).RegisterDefaultPalettes();
        await host.StartAsync();
        return host;
    }

    internal static async Task<(int Code, string Out, string Error)> KvPbmAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await KvCli.RunAsync(args, new KvConsole { Out = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
