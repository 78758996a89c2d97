using Akka.Hosting;

namespace Lighthouse;

/// <summary>
/// The Akka.Cluster settings every AkkaKv member must share with the lighthouse: the split-brain
/// resolver above all, because members that decide differently about the same partition can down
/// each other. The node host applies the same values (docs/OPERATIONS.md explains the choice).
/// </summary>
/// <remarks>
/// <para>Strategy <c>keep-majority</c> over all members (no role): when the failure detector has
/// seen the same unreachable set for <see cref="StableAfter"/>, the side holding the majority of
/// the members it knew downs the other side; a side in minority downs itself; on an even split the
/// side with the lowest address stays. It needs no configured cluster size (unlike static-quorum),
/// keeps the side a Raft majority is most likely on, and never leaves two halves both Up. Raft's
/// safety never depends on it: a downed node restarts its actor system and rejoins with its data.</para>
/// <para><see cref="DownAllWhenUnstable"/>: when reachability keeps changing for longer than the
/// stable-after window allows, every member downs itself rather than guessing (Akka's default).</para>
/// </remarks>
public static class ClusterDefaults
{
    /// <summary>The SBR strategy (<c>akka.cluster.split-brain-resolver.active-strategy</c>).</summary>
    public const string Strategy = "keep-majority";

    /// <summary>How long the unreachable set must stay the same before SBR decides
    /// (<c>akka.cluster.split-brain-resolver.stable-after</c>; Akka's default, 20 s).</summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(20);

    /// <summary><c>akka.cluster.split-brain-resolver.down-all-when-unstable</c>: <c>on</c> (Akka's default).</summary>
    public const string DownAllWhenUnstable = "on";

    /// <summary>The HOCON of the resolver, for hosts configured with HOCON (tests, the node's fallback).</summary>
    public static readonly string SplitBrainResolverHocon = $$"""
        akka.cluster {
          downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
          split-brain-resolver {
            active-strategy = {{Strategy}}
            stable-after = {{(int)StableAfter.TotalSeconds}}s
            down-all-when-unstable = {{DownAllWhenUnstable}}
          }
        }
        """;

    /// <summary>
    /// Applies the resolver to <paramref name="builder"/>: <see cref="SplitBrainResolverHocon"/>
    /// (prepended, so it wins over the defaults <c>WithClustering</c> appends). Use it instead of
    /// <c>ClusterOptions.SplitBrainResolver</c>, which cannot set <c>stable-after</c>.
    /// </summary>
    public static AkkaConfigurationBuilder WithAkkaKvSplitBrainResolver(this AkkaConfigurationBuilder builder) =>
        builder.AddHocon(SplitBrainResolverHocon, HoconAddMode.Prepend);
}
