using System.Collections.Immutable;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Actors.Cluster;

/// <summary>
/// Configuration of cluster membership. Validated once by <see cref="Cluster.Start"/> (see
/// <see cref="Validate"/>); an invalid value fails the start with an <see cref="ArgumentException"/>
/// whose message names the setting.
/// </summary>
public sealed record ClusterSettings
{
    /// <summary>The seed nodes, as <c>kv://system@host:port</c>. A node joins the first seed that
    /// answers. A node that is the FIRST entry of its own list and finds no other seed within
    /// <see cref="SeedNodeTimeout"/> forms a new cluster by joining itself; every other node keeps
    /// asking the seeds. Empty: the node does not join until <see cref="Cluster.JoinSeedNodes"/>.</summary>
    public ImmutableArray<string> SeedNodes { get; init; } = [];

    /// <summary>The roles of this node (for example <c>kv</c>, <c>lighthouse</c>).</summary>
    public ImmutableArray<string> Roles { get; init; } = [];

    /// <summary>Interval between gossip rounds (each sends the state to one random member) and
    /// leader actions.</summary>
    public TimeSpan GossipInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Interval between cluster heartbeats sent to every other member.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>φ above which a member is judged unreachable (Akka's default is 8 for cluster).</summary>
    public double FailureDetectorThreshold { get; init; } = 8.0;

    /// <summary>Heartbeat silence tolerated on top of the observed mean before φ climbs.</summary>
    public TimeSpan AcceptableHeartbeatPause { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Floor of the heartbeat inter-arrival deviation used by the failure detector.</summary>
    public TimeSpan FailureDetectorMinStdDeviation { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long the first seed waits for another seed to answer before it forms a new cluster.</summary>
    public TimeSpan SeedNodeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Interval between InitJoin rounds while no seed has accepted this node.</summary>
    public TimeSpan RetryUnsuccessfulJoinAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// When set, the leader marks a member Down once it has been unreachable this long. Null (the
    /// default) turns auto-downing off, deliberately: during a network partition each side sees
    /// the other as unreachable, so both would down the other and go on as two clusters (split
    /// brain), each believing it alone holds the data. An operator (or a quorum-aware downing
    /// strategy) must decide which side survives, with <see cref="Cluster.Down"/>.
    /// </summary>
    public TimeSpan? AutoDownUnreachableAfter { get; init; }

    /// <summary>Parsed <see cref="SeedNodes"/> (valid after <see cref="Validate"/>).</summary>
    internal ImmutableArray<RemoteAddress> ParsedSeedNodes => [.. SeedNodes.Select(RemoteAddress.Parse)];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        for (var i = 0; i < SeedNodes.Length; i++)
        {
            if (!RemoteAddress.TryParse(SeedNodes[i], out var parsed) || SeedNodes[i].AsSpan(RemoteAddress.Scheme.Length + 3).Contains('/'))
            {
                Fail(nameof(SeedNodes), $"entry {i} '{SeedNodes[i]}' is not an address of the form kv://system@host:port");
            }

            _ = parsed;
        }

        foreach (var role in Roles)
        {
            Require(!string.IsNullOrWhiteSpace(role), nameof(Roles), "a role must be a non-empty name");
        }

        Require(GossipInterval > TimeSpan.Zero, nameof(GossipInterval), $"{GossipInterval} must be positive");
        Require(HeartbeatInterval > TimeSpan.Zero, nameof(HeartbeatInterval), $"{HeartbeatInterval} must be positive");
        Require(FailureDetectorThreshold > 0, nameof(FailureDetectorThreshold), $"{FailureDetectorThreshold} must be positive");
        Require(AcceptableHeartbeatPause >= TimeSpan.Zero, nameof(AcceptableHeartbeatPause), $"{AcceptableHeartbeatPause} must not be negative");
        Require(FailureDetectorMinStdDeviation > TimeSpan.Zero, nameof(FailureDetectorMinStdDeviation), $"{FailureDetectorMinStdDeviation} must be positive");
        Require(SeedNodeTimeout > TimeSpan.Zero, nameof(SeedNodeTimeout), $"{SeedNodeTimeout} must be positive");
        Require(RetryUnsuccessfulJoinAfter > TimeSpan.Zero, nameof(RetryUnsuccessfulJoinAfter), $"{RetryUnsuccessfulJoinAfter} must be positive");
        if (AutoDownUnreachableAfter is { } autoDown)
        {
            Require(autoDown > TimeSpan.Zero, nameof(AutoDownUnreachableAfter), $"{autoDown} must be positive, or null to turn auto-downing off");
        }
    }

    private static void Require(bool condition, string setting, string problem)
    {
        if (!condition)
        {
            Fail(setting, problem);
        }
    }

    private static void Fail(string setting, string problem) =>
        throw new ArgumentException($"Cluster setting {setting} is invalid: {problem}.", setting);
}
