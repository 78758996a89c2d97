namespace KvCluster.Raft.Core;

public sealed partial class RaftNode
{
    /// <summary>Votes received in the current (pre-)election, by voter.</summary>
    private readonly Dictionary<ulong, bool> _votes = new();

    /// <summary>Ticks since the last election-timer reset (follower: since it heard from a leader or granted a vote;
    /// leader: since the last CheckQuorum round).</summary>
    private int _electionElapsed;

    /// <summary>Ticks since the leader's last heartbeat broadcast.</summary>
    private int _heartbeatElapsed;

    /// <summary>Election timeout drawn from [min, max) at each reset (Raft §5.2).</summary>
    private int _randomizedElectionTimeout;

    /// <summary>The role-specific message handler (etcd's <c>r.step</c>).</summary>
    private Action<RaftMessage> _step = null!;

    private void TickElection()
    {
        _electionElapsed++;

        // A node that may not campaign (a learner, a removed server) lets the elapsed time grow, so its leader lease
        // expires and it can grant a pre-vote to a new candidate once the leader has gone quiet (etcd's tickElection).
        if (_electionElapsed >= _randomizedElectionTimeout && CanCampaign)
        {
            _electionElapsed = 0;
            Hup(transfer: false);
        }
    }

    private void TickLeader()
    {
        _heartbeatElapsed++;
        _electionElapsed++;
        if (_electionElapsed >= _config.ElectionTimeoutMinTicks)
        {
            _electionElapsed = 0;
            if (_config.CheckQuorum && !QuorumRecentlyActive())
            {
                // Thesis §6.2: a leader that cannot reach a majority steps down, so clients go elsewhere.
                BecomeFollower(Term, 0);
                return;
            }

            AbortLeaderTransfer();
        }

        if (_heartbeatElapsed >= _config.HeartbeatIntervalTicks)
        {
            _heartbeatElapsed = 0;
            BroadcastHeartbeat();
        }
    }

    /// <summary>Whether a majority (counting this leader) answered since the last check; resets the marks.</summary>
    private bool QuorumRecentlyActive()
    {
        var active = 0;
        foreach (var id in _voters.Ids)
        {
            var pr = _progress[id];
            if (id == Id || pr.RecentActive)
            {
                active++;
            }

            pr.RecentActive = id == Id;
        }

        return active >= _voters.Quorum;
    }

    /// <summary>The election timer fired (or <see cref="Campaign"/>, or <see cref="TimeoutNow"/> when <paramref name="transfer"/>).</summary>
    private void Hup(bool transfer)
    {
        if (!CanCampaign)
        {
            return; // learners and removed servers never start elections (thesis §4.2.1, §4.2.2)
        }

        if (_config.PreVote && !transfer)
        {
            StartElection(preVote: true, transfer: false);
        }
        else
        {
            StartElection(preVote: false, transfer: transfer);
        }
    }

    private void StartElection(bool preVote, bool transfer)
    {
        long voteTerm;
        if (preVote)
        {
            BecomePreCandidate();
            voteTerm = Term + 1; // thesis §9.6: ask with the term we would use, without adopting it
        }
        else
        {
            BecomeCandidate();
            voteTerm = Term;
        }

        _votes[Id] = true;
        if (_voters.Tally(_votes) == VoteOutcome.Won)
        {
            // A single-voter cluster wins at once.
            if (preVote)
            {
                StartElection(preVote: false, transfer: false);
            }
            else
            {
                BecomeLeader();
            }

            return;
        }

        foreach (var id in _voters.Ids)
        {
            if (id != Id)
            {
                Send(new RequestVote(Id, id, voteTerm, _log.LastIndex, _log.LastTerm, preVote, transfer));
            }
        }
    }

    /// <summary>Resets the per-term volatile state; changes the term (and clears the vote) when it differs.</summary>
    private void Reset(long term)
    {
        if (Term != term)
        {
            Term = term;
            Vote = 0;
        }

        Leader = 0;
        _electionElapsed = 0;
        _heartbeatElapsed = 0;
        _randomizedElectionTimeout = _random.Next(_config.ElectionTimeoutMinTicks, _config.ElectionTimeoutMaxTicks);
        if (_randomizedElectionTimeout < _config.ElectionTimeoutMinTicks || _randomizedElectionTimeout >= _config.ElectionTimeoutMaxTicks)
        {
            throw new InvalidOperationException(
                $"IRaftRandom returned {_randomizedElectionTimeout}, outside [{_config.ElectionTimeoutMinTicks}, {_config.ElectionTimeoutMaxTicks}).");
        }

        _votes.Clear();
        _leadTransferee = 0;
        ResetLeaderState();
    }

    private void BecomeFollower(long term, ulong leader)
    {
        Reset(term);
        Leader = leader;
        Role = RaftRole.Follower;
        _step = StepFollower;
    }

    private void BecomePreCandidate()
    {
        // Thesis §9.6: no term change, no vote; only the vote tally and the leader are reset.
        _votes.Clear();
        Leader = 0;
        Role = RaftRole.PreCandidate;
        _step = StepCandidate;
    }

    private void BecomeCandidate()
    {
        // Raft §5.2: increment currentTerm, vote for self.
        Reset(Term + 1);
        Vote = Id;
        Role = RaftRole.Candidate;
        _step = StepCandidate;
    }

    private void BecomeLeader()
    {
        Reset(Term);
        Leader = Id;
        Role = RaftRole.Leader;
        _step = StepLeader;
        InitializeLeaderState();

        // Raft §5.4.2 / thesis §6.4: a no-op of the new term lets earlier entries commit and enables ReadIndex.
        AppendAsLeader(new[] { new Entry(Term, _log.LastIndex + 1, EntryType.Empty, ReadOnlyMemory<byte>.Empty) });
    }

    /// <summary>Role step of pre-candidates and candidates.</summary>
    private void StepCandidate(RaftMessage message)
    {
        switch (message)
        {
            case RequestVoteResult result when result.PreVote == (Role == RaftRole.PreCandidate):
                _votes.TryAdd(result.From, result.Granted);
                switch (_voters.Tally(_votes))
                {
                    case VoteOutcome.Won when Role == RaftRole.PreCandidate:
                        StartElection(preVote: false, transfer: false);
                        break;
                    case VoteOutcome.Won:
                        BecomeLeader();
                        break;
                    case VoteOutcome.Lost:
                        BecomeFollower(Term, 0);
                        break;
                }

                break;
            case AppendEntries append:
                // Raft §5.2: a candidate that hears from a leader of its term returns to follower.
                BecomeFollower(Term, append.From);
                HandleAppendEntries(append);
                break;
            case Heartbeat heartbeat:
                BecomeFollower(Term, heartbeat.From);
                HandleHeartbeat(heartbeat);
                break;
            case InstallSnapshot snapshot:
                BecomeFollower(Term, snapshot.From);
                HandleInstallSnapshot(snapshot);
                break;
        }
    }

    /// <summary>Role step of followers.</summary>
    private void StepFollower(RaftMessage message)
    {
        switch (message)
        {
            case AppendEntries append:
                _electionElapsed = 0;
                Leader = append.From;
                HandleAppendEntries(append);
                break;
            case Heartbeat heartbeat:
                _electionElapsed = 0;
                Leader = heartbeat.From;
                HandleHeartbeat(heartbeat);
                break;
            case InstallSnapshot snapshot:
                _electionElapsed = 0;
                Leader = snapshot.From;
                HandleInstallSnapshot(snapshot);
                break;
            case TimeoutNow:
                // Thesis §3.10: the leader chose us; campaign at once, skipping PreVote and overriding leases.
                Hup(transfer: true);
                break;
            case ReadIndexResult read:
                _readStates.Add(new ReadState(read.Index, read.Context));
                break;
        }
    }
}
