namespace KvCluster.Raft.Core;

/// <summary>
/// Settings of one Raft node. Times are in ticks: the caller decides how long a tick is (the RaftActor
/// uses its scheduler; tests call <see cref="RaftNode.Tick"/> directly). <see cref="Validate"/> runs in the
/// <see cref="RaftNode"/> constructor and throws an <see cref="ArgumentException"/> whose
/// <see cref="ArgumentException.ParamName"/> is the offending setting.
/// </summary>
public sealed record RaftConfig
{
    /// <summary>This node's id; non-zero (0 means "none" in votes and leader hints) and, unless <see cref="Join"/>, a
    /// member of <see cref="Voters"/>.</summary>
    public required ulong NodeId { get; init; }

    /// <summary>
    /// The bootstrap configuration, identical on every founding node, including <see cref="NodeId"/>: the voters in
    /// force while the log holds no configuration-change entry. Once one is in the log (committed or not), the latest
    /// such entry decides (thesis §4.1), also after a restart, when the node recovers it from its log. Changes are
    /// made with <see cref="RaftNode.ProposeConfigChange"/>; this list is then only the starting point.
    /// </summary>
    public required IReadOnlyList<ulong> Voters { get; init; }

    /// <summary>
    /// This node joins an existing cluster instead of founding one: <see cref="Voters"/> may be empty and need not
    /// contain <see cref="NodeId"/>. Such a node never campaigns until a configuration in its log makes it a voter; the
    /// leader adds it as a learner and replicates the log, configuration entries included, to it.
    /// </summary>
    public bool Join { get; init; }

    /// <summary>Ticks between heartbeats a leader sends (Raft §5.2); at least 1.</summary>
    public int HeartbeatIntervalTicks { get; init; } = 1;

    /// <summary>Inclusive lower bound of the randomized election timeout; greater than <see cref="HeartbeatIntervalTicks"/>.
    /// Also the leader lease: a node that heard from a leader this recently ignores disruptive votes (thesis §4.2.3).</summary>
    public int ElectionTimeoutMinTicks { get; init; } = 10;

    /// <summary>Exclusive upper bound of the randomized election timeout (Raft §5.2); greater than <see cref="ElectionTimeoutMinTicks"/>.</summary>
    public int ElectionTimeoutMaxTicks { get; init; } = 20;

    /// <summary>Run a PreVote round before a real election so a partitioned node cannot disrupt the cluster (thesis §9.6).</summary>
    public bool PreVote { get; init; } = true;

    /// <summary>A leader steps down when it has not heard from a majority within an election timeout (thesis §6.2, §9.6).</summary>
    public bool CheckQuorum { get; init; } = true;

    /// <summary>Maximum AppendEntries messages in flight to one follower while replicating optimistically; at least 1.</summary>
    public int MaxInflightMessages { get; init; } = 256;

    /// <summary>Maximum entry bytes (<see cref="Entry.Size"/>) in flight to one follower; at least 1.</summary>
    public long MaxInflightBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Maximum entries in one AppendEntries message; at least 1.</summary>
    public int MaxEntriesPerMessage { get; init; } = 512;

    /// <summary>Maximum entry bytes in one AppendEntries message (a single larger entry is still sent alone); at least 1.</summary>
    public long MaxBytesPerMessage { get; init; } = 1024 * 1024;

    /// <summary>
    /// Maximum bytes of entries the leader holds uncommitted; a proposal beyond it is Dropped so a slow quorum
    /// pushes back on clients instead of growing memory without bound. At least 1. One proposal is always
    /// accepted when nothing is uncommitted.
    /// </summary>
    public long MaxUncommittedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Maximum committed entries one <see cref="Ready"/> hands out to apply (etcd's <c>MaxCommittedSizePerReady</c>, in
    /// entries). A node restarted with many committed entries after its snapshot applies them over several Readies, so
    /// its driver can step votes and ticks in between. At least 1.
    /// </summary>
    public int MaxCommittedEntriesPerReady { get; init; } = 4096;

    /// <summary>Checks every setting; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        if (NodeId == 0)
        {
            throw new ArgumentException("NodeId must be non-zero: 0 means \"no node\" in votes and leader hints.", nameof(NodeId));
        }

        if (Voters is null || (Voters.Count == 0 && !Join))
        {
            throw new ArgumentException("Voters must list at least this node (or set Join to join an existing cluster).", nameof(Voters));
        }

        var seen = new HashSet<ulong>();
        foreach (var voter in Voters)
        {
            if (voter == 0)
            {
                throw new ArgumentException("Voters contains id 0, which means \"no node\".", nameof(Voters));
            }

            if (!seen.Add(voter))
            {
                throw new ArgumentException($"Voters lists node {voter} more than once.", nameof(Voters));
            }
        }

        if (!Join && !seen.Contains(NodeId))
        {
            throw new ArgumentException(
                $"Voters ({string.Join(", ", Voters)}) does not contain NodeId {NodeId}; set Join when this node joins an existing cluster.",
                nameof(Voters));
        }

        if (HeartbeatIntervalTicks < 1)
        {
            throw new ArgumentException($"HeartbeatIntervalTicks must be at least 1, was {HeartbeatIntervalTicks}.", nameof(HeartbeatIntervalTicks));
        }

        if (ElectionTimeoutMinTicks <= HeartbeatIntervalTicks)
        {
            throw new ArgumentException(
                $"ElectionTimeoutMinTicks ({ElectionTimeoutMinTicks}) must be greater than HeartbeatIntervalTicks ({HeartbeatIntervalTicks}), " +
                "or followers time out between heartbeats.", nameof(ElectionTimeoutMinTicks));
        }

        if (ElectionTimeoutMaxTicks <= ElectionTimeoutMinTicks)
        {
            throw new ArgumentException(
                $"ElectionTimeoutMaxTicks ({ElectionTimeoutMaxTicks}) must be greater than ElectionTimeoutMinTicks ({ElectionTimeoutMinTicks}): " +
                "the timeout is drawn from [min, max) so that split votes resolve (Raft §5.2).", nameof(ElectionTimeoutMaxTicks));
        }

        RequirePositive(MaxInflightMessages, nameof(MaxInflightMessages));
        RequirePositive(MaxInflightBytes, nameof(MaxInflightBytes));
        RequirePositive(MaxEntriesPerMessage, nameof(MaxEntriesPerMessage));
        RequirePositive(MaxBytesPerMessage, nameof(MaxBytesPerMessage));
        RequirePositive(MaxUncommittedBytes, nameof(MaxUncommittedBytes));
        RequirePositive(MaxCommittedEntriesPerReady, nameof(MaxCommittedEntriesPerReady));
    }

    private static void RequirePositive(long value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentException($"{name} must be at least 1, was {value}.", name);
        }
    }
}

/// <summary>
/// The core's only source of randomness: the election timeout draw. Implementations are supplied by the
/// caller so runs can be replayed from a seed; they are called only from the thread driving the node.
/// </summary>
public interface IRaftRandom
{
    /// <summary>Returns an integer in [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>).</summary>
    /// <param name="minInclusive">Smallest value that may be returned.</param>
    /// <param name="maxExclusive">One more than the largest value that may be returned; greater than <paramref name="minInclusive"/>.</param>
    /// <returns>The drawn value.</returns>
    int Next(int minInclusive, int maxExclusive);
}

/// <summary>An <see cref="IRaftRandom"/> over <see cref="System.Random"/> with an explicit seed, for replayable runs.</summary>
public sealed class SeededRaftRandom : IRaftRandom
{
    private readonly Random _random;

    /// <summary>Creates a source whose sequence is fully determined by <paramref name="seed"/>.</summary>
    /// <param name="seed">The seed; log it to replay a run.</param>
    public SeededRaftRandom(int seed)
    {
        _random = new Random(seed);
    }

    /// <inheritdoc />
    public int Next(int minInclusive, int maxExclusive) => _random.Next(minInclusive, maxExclusive);
}
