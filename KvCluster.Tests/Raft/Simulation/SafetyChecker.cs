using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft.Simulation;

/// <summary>Thrown when a simulated run breaks a Raft safety property.</summary>
internal sealed class SafetyViolationException(string message) : Exception(message);

/// <summary>
/// Observes a simulated cluster and checks the safety properties of Raft §5.2–§5.4 (Figure 3) incrementally, so each
/// check costs only the new events: Election Safety, Log Matching, Leader Completeness, State Machine Safety, plus
/// ReadIndex linearizability (a read's index is at least every commit index observed before it was requested).
/// </summary>
internal sealed class SafetyChecker
{
    /// <summary>Leader of each term seen so far.</summary>
    private readonly Dictionary<long, ulong> _leaders = new();

    /// <summary>Every (index, term) that entered some durable log, with the term before it and the entry.</summary>
    private readonly Dictionary<(long Index, long Term), (long PrevTerm, Entry Entry)> _entries = new();

    /// <summary>Entries known committed (applied by some node), by index.</summary>
    private readonly Dictionary<long, Entry> _committed = new();

    /// <summary>Highest index known committed anywhere.</summary>
    public long MaxCommitted { get; private set; }

    /// <summary>Number of terms that had a leader.</summary>
    public int LeaderTerms => _leaders.Count;

    /// <summary>Leaders whose log was already checked for completeness.</summary>
    private readonly HashSet<(ulong Id, long Term)> _checkedLeaders = new();

    /// <summary>Election Safety (Figure 3): at most one leader per term.</summary>
    public void ObserveRole(RaftNode node)
    {
        if (node.Role != RaftRole.Leader)
        {
            return;
        }

        if (_leaders.TryGetValue(node.Term, out var existing) && existing != node.Id)
        {
            throw new SafetyViolationException($"Election Safety: nodes {existing} and {node.Id} are both leaders of term {node.Term}.");
        }

        _leaders[node.Term] = node.Id;
        if (_checkedLeaders.Add((node.Id, node.Term)))
        {
            // Leader Completeness (Figure 3): a leader's log holds every entry committed in earlier terms.
            var log = node.LogEntries(1);
            var first = node.FirstIndex;
            foreach (var (index, entry) in _committed)
            {
                if (index < first)
                {
                    continue; // compacted: covered by the node's snapshot, whose state ObserveState checked
                }

                if (index - first >= log.Count || !log[(int)(index - first)].SameAs(entry))
                {
                    throw new SafetyViolationException(
                        $"Leader Completeness: node {node.Id}, leader of term {node.Term}, lacks committed entry {index} (term {entry.Term}).");
                }
            }
        }
    }

    /// <summary>
    /// Log Matching (Figure 3): called for every batch of entries written to a node's durable log, after truncation.
    /// Two entries with the same index and term must hold the same command and be preceded by the same term, which by
    /// induction makes the logs identical up to them.
    /// </summary>
    public void ObservePersist(ulong node, MemoryRaftStorage storageBeforeAppend, Ready ready)
    {
        if (ready.Snapshot is { } snapshot && _committed.TryGetValue(snapshot.Index, out var atSnapshot) && atSnapshot.Term != snapshot.Term)
        {
            throw new SafetyViolationException(
                $"Snapshot: node {node} installs snapshot {snapshot.Index}/t{snapshot.Term}, but entry {snapshot.Index} was committed in term {atSnapshot.Term}.");
        }

        if (ready.TruncateFrom is long from)
        {
            for (var i = from; i <= storageBeforeAppend.LastIndex; i++)
            {
                if (_committed.TryGetValue(i, out var c) && storageBeforeAppend.Term(i) == c.Term)
                {
                    throw new SafetyViolationException($"Durability: node {node} truncates committed entry {i} (term {c.Term}).");
                }
            }
        }

        var first = ready.Snapshot is { } installed ? installed.Index + 1 : ready.TruncateFrom ?? storageBeforeAppend.LastIndex + 1;
        long prevTerm = ready.Snapshot is { } s ? s.Term : first - 1 <= storageBeforeAppend.LastIndex ? storageBeforeAppend.Term(first - 1) : -1;
        foreach (var entry in ready.Entries)
        {
            if (_entries.TryGetValue((entry.Index, entry.Term), out var known))
            {
                if (known.PrevTerm != prevTerm || !known.Entry.SameAs(entry))
                {
                    throw new SafetyViolationException(
                        $"Log Matching: node {node} stores entry ({entry.Index}, term {entry.Term}) after term {prevTerm}, " +
                        $"another log has it after term {known.PrevTerm} or with different data.");
                }
            }
            else
            {
                _entries[(entry.Index, entry.Term)] = (prevTerm, entry);
            }

            prevTerm = entry.Term;
        }
    }

    /// <summary>State Machine Safety (Figure 3): no two nodes apply different entries at the same index.</summary>
    public void ObserveApply(ulong node, Entry entry)
    {
        if (_committed.TryGetValue(entry.Index, out var known))
        {
            if (!known.SameAs(entry))
            {
                throw new SafetyViolationException(
                    $"State Machine Safety: node {node} applies ({entry.Index}, term {entry.Term}) but ({known.Index}, term {known.Term}) was applied elsewhere.");
            }
        }
        else
        {
            _committed[entry.Index] = entry;
            MaxCommitted = Math.Max(MaxCommitted, entry.Index);
        }
    }

    /// <summary>Term of the entry known committed at <paramref name="index"/>, or 0 when none was seen applied.</summary>
    public long CommittedTerm(long index) => _committed.TryGetValue(index, out var entry) ? entry.Term : 0;

    /// <summary>The state machine of every node after applying (or restoring a snapshot) up to one index.</summary>
    private readonly Dictionary<long, ulong> _states = new();

    /// <summary>
    /// State Machine Safety across snapshots: a node's state after index <paramref name="index"/>, reached by applying
    /// entries or by restoring a snapshot (its own after a restart, or its leader's), equals every other node's there.
    /// </summary>
    public void ObserveState(ulong node, long index, ulong state)
    {
        if (_states.TryGetValue(index, out var known))
        {
            if (known != state)
            {
                throw new SafetyViolationException($"State Machine Safety: node {node}'s state after index {index} differs from another node's there.");
            }
        }
        else
        {
            _states[index] = state;
        }
    }

    /// <summary>ReadIndex safety (thesis §6.4): a read observes every write committed before the read began.</summary>
    public void ObserveRead(ulong node, ReadState read, long committedWhenRequested)
    {
        if (read.Index < committedWhenRequested)
        {
            throw new SafetyViolationException(
                $"Linearizable read: node {node} released read {read.Context} at index {read.Index}, but index {committedWhenRequested} was committed before it was requested.");
        }
    }
}
