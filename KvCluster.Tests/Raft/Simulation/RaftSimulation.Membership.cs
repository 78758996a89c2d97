using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft.Simulation;

internal sealed partial class RaftSimulation
{
    /// <summary>The founding voters (bootstrap configuration); the other ids start as joiners.</summary>
    private readonly ulong[] _founders;

    /// <summary>Number of spare nodes; membership changes happen only when positive.</summary>
    private readonly int _spareCount;

    /// <summary>Members of the last committed configuration seen during the liveness phase.</summary>
    private ulong[] _lastMembers = [];

    /// <summary>Membership changes the leader accepted.</summary>
    private int _changesAccepted;

    /// <summary>Configuration changes accepted during the run (for sizing).</summary>
    public int ChangesAccepted => _changesAccepted;

    /// <summary>The leader proposes one random single-server change (thesis §4.1): add a learner, promote one, remove one.</summary>
    private void ChangeMembership()
    {
        var leader = _ids.Select(id => _nodes[id]).FirstOrDefault(n => n?.Role == RaftRole.Leader);
        if (leader is null)
        {
            return;
        }

        var m = leader.Membership;
        var options = new List<ConfigChange>();
        foreach (var id in _ids.Where(id => !m.Contains(id)))
        {
            options.Add(ConfigChange.AddLearner(id));
        }

        foreach (var id in m.Learners)
        {
            options.Add(ConfigChange.PromoteLearner(id));
            options.Add(ConfigChange.PromoteLearner(id)); // promotions twice as likely, so voter sets really change
        }

        if (m.Voters.Count + m.Learners.Count > 2)
        {
            foreach (var id in m.Voters.Concat(m.Learners))
            {
                options.Add(ConfigChange.RemoveServer(id));
            }
        }

        if (options.Count == 0)
        {
            return;
        }

        var change = options[_rng.Next(options.Count)];
        var result = leader.ProposeConfigChange(change);
        if (result.Status == ProposeStatus.Accepted)
        {
            _changesAccepted++;
        }

        Log($"change at {leader.Id}: {change.Type} {change.NodeId} -> {result.Status} {result.Index} ({m})");
    }

    /// <summary>
    /// Every live node's configuration is the one of the latest configuration entry in its log (thesis §4.1), or its
    /// bootstrap configuration when there is none: the incremental tracking (append, truncation, revert) must agree with
    /// a full rescan.
    /// </summary>
    private void CheckMembershipFollowsLog()
    {
        foreach (var id in _ids)
        {
            if (_nodes[id] is not { } node)
            {
                continue;
            }

            var last = node.LogEntries(1).LastOrDefault(e => e.Type == EntryType.ConfigChange);
            var snapshot = node.LogSnapshot;
            var expected = last is not null
                ? ConfigChangeCodec.Decode(last.Data).Result
                : snapshot.Index > 0 ? snapshot.Membership : new Membership(_founders.Contains(id) ? _founders : [], []);
            var index = last?.Index ?? (snapshot.Index > 0 ? snapshot.MembershipIndex : 0);
            if (node.MembershipIndex != index || !node.Membership.Voters.SequenceEqual(expected.Voters)
                || !node.Membership.Learners.SequenceEqual(expected.Learners))
            {
                throw new SafetyViolationException(
                    $"Configuration: node {id} uses ({node.Membership}) from index {node.MembershipIndex}, its log says ({expected}) from index {index}.");
            }
        }
    }

    /// <summary>
    /// Liveness phase: once the leader's configuration is committed, the nodes outside it are shut down, as the node
    /// host does with removed servers; returns the members that must apply the final proposal.
    /// </summary>
    private ulong[] RetireNonMembers(RaftNode? leader)
    {
        if (leader is null || leader.MembershipIndex > leader.CommitIndex)
        {
            return _lastMembers;
        }

        var m = leader.Membership;
        foreach (var id in _ids.Where(id => !m.Contains(id) && _nodes[id] is not null))
        {
            Crash(id, "retire non-member");
        }

        _lastMembers = m.Voters.Concat(m.Learners).ToArray();
        return _lastMembers;
    }
}
