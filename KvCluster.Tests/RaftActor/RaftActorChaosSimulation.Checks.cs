using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>The safety properties of Raft Figure 3, checked after every step against statuses, journals and state machines.</summary>
internal sealed partial class RaftActorChaosSimulation
{
    /// <summary>The leader seen for each term (election safety).</summary>
    private readonly Dictionary<long, ulong> _leaders = new();

    /// <summary>Committed (applied somewhere) command per index, and the highest term any node had when it was first seen.</summary>
    private readonly Dictionary<long, (string Command, long TermWhenSeen)> _committed = new();

    /// <summary>Number of terms that had a leader.</summary>
    public int LeaderTerms => _leaders.Count;

    /// <summary>Number of indexes known to be committed.</summary>
    public int CommittedEntries => _committed.Count;

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the step and the broken property.</summary>
    public void CheckSafety(int step)
    {
        var statuses = Statuses();
        var maxTerm = statuses.Max(s => s.Term);
        var logs = Ids.ToDictionary(id => id, id => RaftActorTestKit.ReadJournal(_kit, PersistenceId(id)).Log);

        // Election safety: at most one leader per term (Raft §5.2).
        foreach (var status in statuses.Where(s => s.Role == RaftRole.Leader))
        {
            if (_leaders.TryGetValue(status.Term, out var other) && other != status.NodeId)
            {
                throw new InvalidOperationException($"Step {step}: nodes {other} and {status.NodeId} both led term {status.Term} (election safety, Raft §5.2).");
            }

            _leaders[status.Term] = status.NodeId;
        }

        // State-machine safety: no two nodes apply different commands at one index (Raft §5.4.3).
        List<(ulong Node, RecordingStateMachine Machine)> machines;
        lock (_allMachines)
        {
            machines = _allMachines.ToList();
        }

        foreach (var (node, machine) in machines)
        {
            foreach (var (index, command) in machine.Applied)
            {
                if (_committed.TryGetValue(index, out var seen))
                {
                    if (seen.Command != command)
                    {
                        throw new InvalidOperationException($"Step {step}: node {node} applied '{command}' at index {index} where another applied '{seen.Command}' (state-machine safety, Raft §5.4.3).");
                    }
                }
                else
                {
                    _committed[index] = (command, maxTerm);
                }
            }
        }

        // Leader completeness: a leader of a term later than any term in play when an entry was seen committed holds
        // that entry in its durable log (Raft §5.4.1).
        foreach (var status in statuses.Where(s => s.Role == RaftRole.Leader))
        {
            var log = logs[status.NodeId];
            foreach (var (index, (command, termWhenSeen)) in _committed)
            {
                if (status.Term <= termWhenSeen)
                {
                    continue;
                }

                if (index <= log.Offset)
                {
                    continue; // compacted: a durable snapshot covers it, and the state machines are checked above
                }

                var entry = index <= log.LastIndex ? log.All[(int)(index - log.FirstIndex)] : null;
                if (entry is null || (entry.Type == EntryType.Normal && RaftActorCluster.Text(entry.Data) != command))
                {
                    throw new InvalidOperationException(
                        $"Step {step}: leader {status.NodeId} of term {status.Term} lacks committed entry {index} ('{command}') (leader completeness, Raft §5.4.1).");
                }
            }
        }

        // Log matching: two durable logs with an entry of the same index and term are identical up to it (Raft §5.3).
        foreach (var a in Ids)
        {
            foreach (var b in Ids.Where(b => b > a))
            {
                var (la, lb) = (logs[a], logs[b]);
                var first = Math.Max(la.FirstIndex, lb.FirstIndex); // compacted prefixes are covered by snapshots
                for (var i = Math.Min(la.LastIndex, lb.LastIndex); i >= first; i--)
                {
                    if (la.Term(i) != lb.Term(i))
                    {
                        continue;
                    }

                    for (var j = first; j <= i; j++)
                    {
                        if (!la.All[(int)(j - la.FirstIndex)].SameAs(lb.All[(int)(j - lb.FirstIndex)]))
                        {
                            throw new InvalidOperationException(
                                $"Step {step}: logs of nodes {a} and {b} agree at index {i} (term {la.Term(i)}) but differ at index {j} (log matching, Raft §5.3).");
                        }
                    }

                    break;
                }
            }
        }
    }

    /// <summary>At the end: every node's applied commands are the same sequence (identical committed logs).</summary>
    public void CheckIdenticalApplied()
    {
        var reference = _machines[Ids[0]].Applied;
        foreach (var id in Ids)
        {
            if (!_machines[id].Applied.SequenceEqual(reference))
            {
                throw new InvalidOperationException($"Node {id} applied a different sequence than node {Ids[0]}.");
            }
        }
    }
}
