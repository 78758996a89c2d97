namespace KvCluster.Raft.Core;

/// <summary>
/// One cluster configuration: the voters, whose majorities decide elections, commit, ReadIndex and CheckQuorum, and
/// the learners (non-voting members, thesis §4.2.1 / etcd's learners), which receive replication and heartbeats but
/// never count for any quorum. A node id is in at most one of the two lists. Immutable.
/// <para>Some learners are <see cref="Promoting"/>: added to become voters once caught up (thesis §4.2.1), as opposed to
/// learners meant to stay learners (etcd's <c>member add --learner</c>). The log carries that intent, so a leader elected
/// while such a learner catches up knows to finish the promotion its predecessor began.</para>
/// </summary>
public sealed class Membership
{
    /// <summary>The configuration with no members: a node that joins an existing cluster starts with it.</summary>
    public static Membership Empty { get; } = new(Array.Empty<ulong>(), Array.Empty<ulong>());

    /// <summary>Creates a configuration.</summary>
    /// <param name="voters">The voters, in configuration order; no 0, no duplicates.</param>
    /// <param name="learners">The learners, in configuration order; no 0, no duplicates, none of them a voter.</param>
    /// <param name="promoting">The learners added to be promoted once caught up (none when null); each a learner.</param>
    /// <exception cref="ArgumentException">An id is 0, repeated, or both a voter and a learner; a promoting id is not a
    /// learner.</exception>
    public Membership(IEnumerable<ulong> voters, IEnumerable<ulong> learners, IEnumerable<ulong>? promoting = null)
    {
        ArgumentNullException.ThrowIfNull(voters);
        ArgumentNullException.ThrowIfNull(learners);
        Voters = voters.ToArray();
        Learners = learners.ToArray();
        Promoting = promoting?.Distinct().ToArray() ?? [];
        foreach (var id in Promoting)
        {
            if (!Learners.Contains(id))
            {
                throw new ArgumentException($"Node {id} is marked for promotion but is not a learner ({this}).", nameof(promoting));
            }
        }

        var seen = new HashSet<ulong>();
        foreach (var id in Voters.Concat(Learners))
        {
            if (id == 0)
            {
                throw new ArgumentException("A configuration cannot contain node id 0, which means \"no node\".", nameof(voters));
            }

            if (!seen.Add(id))
            {
                throw new ArgumentException($"Node {id} appears more than once in the configuration ({this}).", nameof(voters));
            }
        }
    }

    /// <summary>The voters, in configuration order.</summary>
    public IReadOnlyList<ulong> Voters { get; }

    /// <summary>The learners, in configuration order.</summary>
    public IReadOnlyList<ulong> Learners { get; }

    /// <summary>The learners added to become voters once caught up (thesis §4.2.1), in the order they were added.</summary>
    public IReadOnlyList<ulong> Promoting { get; }

    /// <summary>Whether <paramref name="id"/> is a voter.</summary>
    /// <param name="id">A node id.</param>
    /// <returns>True for a voter.</returns>
    public bool IsVoter(ulong id) => Voters.Contains(id);

    /// <summary>Whether <paramref name="id"/> is a learner.</summary>
    /// <param name="id">A node id.</param>
    /// <returns>True for a learner.</returns>
    public bool IsLearner(ulong id) => Learners.Contains(id);

    /// <summary>Whether <paramref name="id"/> is a voter or a learner.</summary>
    /// <param name="id">A node id.</param>
    /// <returns>True for any member.</returns>
    public bool Contains(ulong id) => IsVoter(id) || IsLearner(id);

    /// <summary>
    /// The configuration that <paramref name="change"/> produces from this one, or the reason it cannot apply
    /// (adding a member twice, promoting a non-learner, removing a non-member or the last voter).
    /// </summary>
    /// <param name="change">The single-server change (thesis §4.1).</param>
    /// <param name="result">The new configuration when the change applies; otherwise null.</param>
    /// <returns>Null when the change applies, otherwise a sentence a person can act on.</returns>
    public string? TryApply(ConfigChange change, out Membership? result)
    {
        ArgumentNullException.ThrowIfNull(change);
        result = null;
        var id = change.NodeId;
        if (id == 0)
        {
            return "node id 0 means \"no node\" and cannot be a member";
        }

        switch (change.Type)
        {
            case ConfigChangeType.AddLearner:
                if (Contains(id))
                {
                    return $"node {id} is already a {(IsVoter(id) ? "voter" : "learner")} ({this})";
                }

                result = new Membership(Voters, Learners.Append(id), change.PromoteWhenCaughtUp ? Promoting.Append(id) : Promoting);
                return null;
            case ConfigChangeType.PromoteLearner:
                if (!IsLearner(id))
                {
                    return IsVoter(id) ? $"node {id} is already a voter ({this})" : $"node {id} is not a learner; add it as a learner first ({this})";
                }

                result = new Membership(Voters.Append(id), Learners.Where(l => l != id), Promoting.Where(l => l != id));
                return null;
            case ConfigChangeType.RemoveServer:
                if (!Contains(id))
                {
                    return $"node {id} is not a member ({this})";
                }

                if (IsVoter(id) && Voters.Count == 1)
                {
                    return $"node {id} is the only voter; a cluster without voters can never commit again";
                }

                result = new Membership(Voters.Where(v => v != id), Learners.Where(l => l != id), Promoting.Where(l => l != id));
                return null;
            default:
                return $"unknown configuration change type {(int)change.Type}";
        }
    }

    /// <summary>
    /// Both lists, for logs and error messages: <c>voters [1, 2, 3], learners [4]</c>, and the learners being promoted
    /// when there are any: <c>voters [1, 2, 3], learners [4] (4 to be promoted)</c>.
    /// </summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        $"voters [{string.Join(", ", Voters)}], learners [{string.Join(", ", Learners)}]" +
        (Promoting.Count == 0 ? string.Empty : $" ({string.Join(", ", Promoting)} to be promoted)");
}

/// <summary>The kind of a single-server configuration change (thesis §4.1); values match the wire enum.</summary>
public enum ConfigChangeType
{
    /// <summary>Adds a node as a learner: it receives the log but does not vote (thesis §4.2.1).</summary>
    AddLearner = 1,

    /// <summary>Turns a learner into a voter.</summary>
    PromoteLearner = 2,

    /// <summary>Removes a voter or a learner (thesis §4.2.2 when it is the leader itself).</summary>
    RemoveServer = 3,
}

/// <summary>A single-server configuration change (thesis §4.1), proposed with <see cref="RaftNode.ProposeConfigChange"/>.</summary>
/// <param name="Type">What to do.</param>
/// <param name="NodeId">The node it is done to; non-zero.</param>
/// <param name="PromoteWhenCaughtUp">For <see cref="ConfigChangeType.AddLearner"/>: the learner is to become a voter once
/// caught up (<see cref="Membership.Promoting"/>); false for a learner that stays one.</param>
public sealed record ConfigChange(ConfigChangeType Type, ulong NodeId, bool PromoteWhenCaughtUp = false)
{
    /// <summary>Adds <paramref name="id"/> as a learner.</summary>
    /// <param name="id">The new member.</param>
    /// <param name="promoteWhenCaughtUp">Whether it is added to become a voter once caught up.</param>
    /// <returns>The change.</returns>
    public static ConfigChange AddLearner(ulong id, bool promoteWhenCaughtUp = false) => new(ConfigChangeType.AddLearner, id, promoteWhenCaughtUp);

    /// <summary>Promotes learner <paramref name="id"/> to voter.</summary>
    /// <param name="id">The learner.</param>
    /// <returns>The change.</returns>
    public static ConfigChange PromoteLearner(ulong id) => new(ConfigChangeType.PromoteLearner, id);

    /// <summary>Removes member <paramref name="id"/>.</summary>
    /// <param name="id">The member.</param>
    /// <returns>The change.</returns>
    public static ConfigChange RemoveServer(ulong id) => new(ConfigChangeType.RemoveServer, id);
}
