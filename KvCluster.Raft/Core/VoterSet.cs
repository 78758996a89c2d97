namespace KvCluster.Raft.Core;

/// <summary>
/// The voters of the configuration in force and the majority rules over them. Every quorum decision (votes,
/// commit, CheckQuorum, ReadIndex) goes through this one type, so a single-server membership change
/// (thesis §4.1) replaces one instance without touching the protocol code. Learners are never in it.
/// </summary>
internal sealed class VoterSet
{
    /// <summary>The voter ids in configuration order.</summary>
    private readonly ulong[] _ids;

    /// <summary>Creates the set; ids were validated by <see cref="RaftConfig.Validate"/> or <see cref="Membership"/>.</summary>
    public VoterSet(IEnumerable<ulong> ids)
    {
        _ids = ids.ToArray();
    }

    /// <summary>The voters.</summary>
    public IReadOnlyList<ulong> Ids => _ids;

    /// <summary>Votes that form a majority.</summary>
    public int Quorum => _ids.Length / 2 + 1;

    /// <summary>Whether <paramref name="id"/> is a voter.</summary>
    public bool Contains(ulong id) => Array.IndexOf(_ids, id) >= 0;

    /// <summary>The largest value that a majority of voters have reached (e.g. the quorum match index).</summary>
    public long QuorumValue(Func<ulong, long> valueOf)
    {
        if (_ids.Length == 0)
        {
            return 0; // a joining node before it learned a configuration: it never leads, so nothing depends on this
        }

        var values = new long[_ids.Length];
        for (var i = 0; i < _ids.Length; i++)
        {
            values[i] = valueOf(_ids[i]);
        }

        Array.Sort(values);
        return values[_ids.Length - Quorum];
    }

    /// <summary>Tallies an election: won, lost, or still pending.</summary>
    public VoteOutcome Tally(IReadOnlyDictionary<ulong, bool> votes)
    {
        int granted = 0, rejected = 0;
        foreach (var id in _ids)
        {
            if (votes.TryGetValue(id, out var v))
            {
                if (v)
                {
                    granted++;
                }
                else
                {
                    rejected++;
                }
            }
        }

        if (granted >= Quorum)
        {
            return VoteOutcome.Won;
        }

        return _ids.Length - rejected < Quorum ? VoteOutcome.Lost : VoteOutcome.Pending;
    }
}

/// <summary>Outcome of a vote tally.</summary>
internal enum VoteOutcome
{
    /// <summary>Not yet decided.</summary>
    Pending,

    /// <summary>A majority granted.</summary>
    Won,

    /// <summary>A majority can no longer be reached.</summary>
    Lost,
}
