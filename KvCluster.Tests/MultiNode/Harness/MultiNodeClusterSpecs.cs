using Akka.Actor;
using Akka.Cluster;
using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Harness;

/// <summary>
/// The conductor under Akka.Cluster: its black-holes make members unreachable and healing makes them reachable again;
/// a crash is not a graceful leave (real time, three members over Akka.Remote TCP).
/// </summary>
[Trait("Category", "Integration")]
public sealed class MultiNodeClusterSpecs
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>Cluster members share one actor system name.</summary>
    private static readonly MultiNodeSpecOptions Options = MultiNodeBarrierSpecs.Options() with { SystemName = "akkakv" };

    private readonly MultiNodeConfig _config = new();
    private readonly RoleName _a;
    private readonly RoleName _b;
    private readonly RoleName _c;

    public MultiNodeClusterSpecs()
    {
        _a = _config.Role("node1");
        _b = _config.Role("node2");
        _c = _config.Role("node3");
    }

    [Fact]
    public async Task Partition_Member_IsUnreachableUntilHealed()
    {
        await using var spec = await MultiNodeSpec<ClusterNode>.StartAsync(_config, new ClusterNodeFactory(), Options);
        await AllUpAsync(spec);

        await spec.Conductor.PartitionAsync([_c]);
        await UntilAsync(() => Unreachable(spec.Node(_a)).Contains(spec.AddressOf(_c)), "node1 sees node3 unreachable");
        await UntilAsync(() => Unreachable(spec.Node(_c)).Contains(spec.AddressOf(_a)), "node3 sees node1 unreachable");
        Assert.DoesNotContain(spec.AddressOf(_b), Unreachable(spec.Node(_a)));

        await spec.Conductor.HealAllAsync();
        await UntilAsync(() => Unreachable(spec.Node(_a)).Count == 0 && Unreachable(spec.Node(_c)).Count == 0, "every member reachable again");
        Assert.Equal(3, spec.Node(_a).Cluster.State.Members.Count(m => m.Status == MemberStatus.Up));
    }

    [Fact]
    public async Task Crash_Member_IsUnreachableWithoutLeaving()
    {
        await using var spec = await MultiNodeSpec<ClusterNode>.StartAsync(_config, new ClusterNodeFactory(), Options);
        await AllUpAsync(spec);
        var crashed = spec.AddressOf(_c);

        await spec.Conductor.CrashAsync(_c);

        await UntilAsync(() => Unreachable(spec.Node(_a)).Contains(crashed), "node1 sees the crashed node3 unreachable");
        var member = spec.Node(_a).Cluster.State.Members.Single(m => m.Address.Equals(crashed));
        Assert.Equal(MemberStatus.Up, member.Status); // no Leaving / Exiting: it did not leave
    }

    [Fact]
    public async Task Start_SharedSystemName_AddressesDifferOnlyByPort()
    {
        await using var spec = await MultiNodeSpec<ClusterNode>.StartAsync(_config, new ClusterNodeFactory(), Options);

        Assert.All(spec.Members, m => Assert.Equal("akkakv", m.Address.System));
        Assert.Equal(3, spec.Members.Select(m => m.Address.Port).Distinct().Count());
        Assert.Equal(spec.AddressOf(_b), spec.Node(_b).Address);
    }

    private static async Task AllUpAsync(MultiNodeSpec<ClusterNode> spec) =>
        await UntilAsync(
            () => spec.Roles.All(r => spec.Node(r).Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == spec.Roles.Count),
            "all three members Up on every member");

    private static HashSet<Address> Unreachable(ClusterNode node) => node.Cluster.State.Unreachable.Select(m => m.Address).ToHashSet();

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out after {Wait.TotalSeconds} s waiting until {what}");
            await Task.Delay(50);
        }
    }
}
