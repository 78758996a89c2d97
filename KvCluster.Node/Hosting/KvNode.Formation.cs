using Akka.Actor;
using Akka.Cluster;
using KvCluster.Client;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Hosting;

/// <summary>How a node of a static group (no seeds) becomes an Akka cluster member when its peers start at other times.</summary>
public sealed partial class KvNode
{
    /// <summary>How long a liveness probe of a peer (an Identify over Akka.Remote) waits for the answer.</summary>
    private static readonly TimeSpan s_peerProbeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// With static peers as seeds (no <see cref="NodeOptions.Seeds"/>), only the lowest id forms the Akka cluster (Akka's
    /// first seed), so a node restarted while that one is down would never become a member, and Akka's
    /// ClusterClientReceptionist serves clients only on members: the node could not answer even serializable reads
    /// from its own data. So every <see cref="KvNodeHooks.FormAloneAfter"/>, while this node is not a member, it asks
    /// its peers whether they run (an Identify over Akka.Remote) and:
    /// <list type="number">
    /// <item>No peer answers: it forms a cluster alone; peers that start later join it (any member answers a seed's
    /// join).</item>
    /// <item>A peer with a lower id answers: that peer forms the cluster or is a member already, so this node must not
    /// found one of its own. The first time, it restarts the join (JoinSeedNodes: Akka's join process asks the seeds
    /// only every seed-node-timeout, and its last round may have gone out before the peers were up); it checks again
    /// later, leaving the retries to Akka's join process.
    /// Forming alone here split the group into two Akka clusters that never merge (seen 2026-12-06: the Raft
    /// leader's membership follower never saw a joiner that had joined the other cluster, so it never became a
    /// learner and never caught up).</item>
    /// <item>Only peers with higher ids answer: it restarts the join once (one of them may be a member); still not a
    /// member at the next check, it forms the cluster alone, and those peers, which wait for it (2), join it.</item>
    /// </list>
    /// Not for a rejoining incarnation: the cluster that downed it is behind a partition.
    /// </summary>
    private void FormAloneIfNoPeerAnswers(IReadOnlyDictionary<ulong, KvEndpoint> members, KvNodeHooks hooks)
    {
        if (Options.SeedList().Count > 0 || members.Count < 2 || hooks.Rejoining)
        {
            return;
        }

        var peers = members.Where(m => m.Key != Options.Id).Select(m => (Id: m.Key, Address: Options.AddressOf(m.Value))).ToArray();
        ScheduleFormationCheck(peers, hooks.FormAloneAfter, rejoinedOnce: false);
    }

    private void ScheduleFormationCheck((ulong Id, string Address)[] peers, TimeSpan every, bool rejoinedOnce) =>
        System.Scheduler.Advanced.ScheduleOnce(every, () => _ = CheckFormationAsync(peers, every, rejoinedOnce));

    private async Task CheckFormationAsync((ulong Id, string Address)[] peers, TimeSpan every, bool rejoinedOnce)
    {
        var cluster = Cluster.Get(System);
        if (Volatile.Read(ref _stopping) != 0 || cluster.IsTerminated || IsMember(cluster))
        {
            return;
        }

        var answering = (await Task.WhenAll(peers.Select(async p => (p.Id, Alive: await AnswersAsync(p.Address).ConfigureAwait(false)))).ConfigureAwait(false))
            .Where(p => p.Alive).Select(p => p.Id).Order().ToArray();
        if (Volatile.Read(ref _stopping) != 0 || cluster.IsTerminated || IsMember(cluster))
        {
            return;
        }

        var lower = answering.Where(id => id < Options.Id).ToArray();
        if (answering.Length == 0 || (lower.Length == 0 && rejoinedOnce))
        {
            _log.LogWarning(
                "Node {NodeId}: not a cluster member after {Delay} s and no member of the Raft group with a lower id answers ({Answering}); forming an Akka cluster alone so that clients can reach this node (the others join it).",
                NodeId, (int)every.TotalSeconds, answering.Length == 0 ? "none answers" : $"nodes {string.Join(", ", answering)} answer");
            cluster.Join(cluster.SelfAddress);
            return;
        }

        if (!rejoinedOnce)
        {
            // Once only: a join restarted while Akka's own attempt is half way (waiting for the Welcome) starts over.
            _log.LogInformation(
                "Node {NodeId}: not a cluster member after {Delay} s; nodes {Answering} answer, so it asks the seeds again instead of forming a cluster of its own.",
                NodeId, (int)every.TotalSeconds, string.Join(", ", answering));
            cluster.JoinSeedNodes(cluster.Settings.SeedNodes);
        }

        ScheduleFormationCheck(peers, every, rejoinedOnce: true);
    }

    private static bool IsMember(Cluster cluster) => cluster.State.Members.Any(m => m.Address.Equals(cluster.SelfAddress));

    /// <summary>Whether the actor system at <paramref name="address"/> answers an Identify within the probe timeout.</summary>
    private async Task<bool> AnswersAsync(string address)
    {
        try
        {
            await System.ActorSelection($"{address}{RaftPath}").Ask<ActorIdentity>(new Identify(null), s_peerProbeTimeout).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException or InvalidOperationException)
        {
            return false; // no answer in time, or this system is shutting down
        }
    }
}
