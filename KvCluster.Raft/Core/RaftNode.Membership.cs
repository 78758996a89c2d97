namespace KvCluster.Raft.Core;

public sealed partial class RaftNode
{
    /// <summary>Entries read per step when scanning the log for configuration entries.</summary>
    private const int ScanBatch = 4096;

    /// <summary>The configuration of a log without configuration entries (<see cref="RaftConfig.Voters"/>).</summary>
    private readonly Membership _bootstrap;

    /// <summary>The configuration in force: the latest in the log, committed or not (thesis §4.1).</summary>
    private Membership _membership = Membership.Empty;

    /// <summary>Index of the entry that set <see cref="_membership"/>; 0 for the bootstrap configuration.</summary>
    private long _membershipIndex;

    /// <summary>The configuration before <see cref="_membership"/>, to revert to when its entry is truncated; null when
    /// unknown (after a revert), in which case a further revert rescans the log.</summary>
    private (Membership Config, long Index)? _previousMembership;

    /// <summary>
    /// The configuration in force on this node: the one of the latest configuration-change entry in its log, committed
    /// or not (thesis §4.1), or <see cref="RaftConfig.Voters"/> when the log holds none.
    /// </summary>
    public Membership Membership => _membership;

    /// <summary>Index of the entry that set <see cref="Membership"/>, or 0 for the bootstrap configuration.</summary>
    public long MembershipIndex => _membershipIndex;

    /// <summary>
    /// Proposes a single-server configuration change (thesis §4.1). The leader appends it as a
    /// <see cref="EntryType.ConfigChange"/> entry that takes effect on every node as soon as it is in its log; it is done
    /// when that entry commits. A leader that removes itself keeps leading (without counting itself) until then, and
    /// steps down once it is committed (thesis §4.2.2).
    /// <para>Refused (Dropped) while an earlier change is uncommitted, so configurations differ by one server at a time,
    /// and until the leader has committed an entry of its own term (the fix to the single-server change bug found
    /// after the thesis was published: a change appended before that could conflict with one an earlier leader had
    /// not yet committed). Configuration entries are exempt from <see cref="RaftConfig.MaxUncommittedBytes"/>, so client
    /// load cannot starve a membership change.</para>
    /// </summary>
    /// <param name="change">The change.</param>
    /// <returns>Accepted with the entry's (index, term); NotLeader; Dropped (retry later) while a change is pending, a
    /// leadership transfer runs, or the leader is new; Rejected when the change cannot apply to the configuration in
    /// force (adding a member twice, promoting a non-learner, removing a non-member or the last voter).</returns>
    public ProposeResult ProposeConfigChange(ConfigChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (Role != RaftRole.Leader)
        {
            return ProposeResult.NotLeader(Leader);
        }

        if (_leadTransferee != 0)
        {
            return ProposeResult.Dropped($"leadership is being transferred to node {_leadTransferee}; retry at the new leader");
        }

        if (_membershipIndex > _log.Committed)
        {
            return ProposeResult.Dropped(
                $"the configuration change at index {_membershipIndex} is not committed yet (commit {_log.Committed}); changes are made one server at a time, retry when it is");
        }

        var error = _membership.TryApply(change, out var next);
        if (error is not null)
        {
            return ProposeResult.Rejected(error);
        }

        if (!CommittedInCurrentTerm)
        {
            return ProposeResult.Dropped("the leader has not committed an entry of its term yet; retry shortly");
        }

        var entry = new Entry(Term, _log.LastIndex + 1, EntryType.ConfigChange, ConfigChangeCodec.Encode(change, next!));
        AppendAsLeader(new[] { entry });
        return ProposeResult.Accepted(entry.Index, Term);
    }

    /// <summary>
    /// On the leader, the highest index known replicated on member <paramref name="id"/> (this node: its durable last
    /// index); null on other roles or for a non-member. The RaftActor uses it to decide when a learner has caught up.
    /// </summary>
    /// <param name="id">A voter or learner.</param>
    /// <returns>The match index, or null.</returns>
    public long? MatchIndex(ulong id) => Role == RaftRole.Leader && _progress.TryGetValue(id, out var pr) ? pr.Match : null;

    /// <summary>
    /// Whether this node may start an election: it is a voter of its latest configuration, or that configuration is not
    /// yet committed, removes this node, and this node was a voter of the previous one. The second case is a leader
    /// that removed itself and lost leadership before the removal committed (thesis §4.2.2): it may hold the only
    /// up-to-date log a majority of the new configuration will vote for (for instance {1, 2} to {2} with the entry only
    /// on 1), so it must be able to win, commit the removal and step down again. Votes are still counted in the latest
    /// configuration only, so election safety is unchanged.
    /// </summary>
    private bool CanCampaign
    {
        get
        {
            if (_voters.Contains(Id))
            {
                return true;
            }

            if (_membershipIndex <= _log.Committed || _membershipIndex == 0)
            {
                return false;
            }

            _previousMembership ??= ScanMembership(_membershipIndex - 1).Current;
            return _previousMembership.Value.Config.IsVoter(Id);
        }
    }

    /// <summary>Sets the configuration from the log in storage (construction, a restart): the latest two entries.</summary>
    private void RecoverMembership()
    {
        var (current, previous) = ScanMembership(_log.LastIndex);
        _membership = current.Config;
        _membershipIndex = current.Index;
        _previousMembership = previous;
        _voters = new VoterSet(_membership.Voters);
    }

    /// <summary>
    /// The latest configuration at or before <paramref name="upTo"/> and the one before it, scanning the log from the
    /// snapshot behind it (whose metadata carries the configuration in force at its index; Raft §7) or, without a
    /// snapshot, from the start with the bootstrap configuration. <paramref name="upTo"/> is never below the snapshot:
    /// only committed entries are compacted, and only uncommitted ones are rescanned.
    /// </summary>
    private ((Membership Config, long Index) Current, (Membership Config, long Index)? Previous) ScanMembership(long upTo)
    {
        var snapshot = _log.Snapshot;
        (Membership Config, long Index) current = snapshot.Index > 0 ? (snapshot.Membership, snapshot.MembershipIndex) : (_bootstrap, 0);
        (Membership Config, long Index)? previous = null;
        var next = Math.Max(snapshot.Index + 1, _log.FirstIndex);
        if (upTo < snapshot.Index)
        {
            throw new InvalidOperationException($"Broken invariant: the configuration at {upTo} is asked for, behind snapshot {snapshot.Index}.");
        }

        while (next <= upTo)
        {
            var batch = _log.Entries(next, 4L * 1024 * 1024, (int)Math.Min(ScanBatch, upTo - next + 1));
            foreach (var entry in batch)
            {
                if (entry.Type == EntryType.ConfigChange)
                {
                    previous = current;
                    current = (ConfigChangeCodec.Decode(entry.Data).Result, entry.Index);
                }
            }

            next += batch.Count;
        }

        return (current, previous);
    }

    /// <summary>
    /// Entries from <paramref name="from"/> on were just written to the log, replacing whatever was there: revert a
    /// configuration whose entry was truncated (thesis §4.1: a server always uses the latest configuration in its log),
    /// then adopt the latest configuration among the new entries.
    /// </summary>
    private void OnEntriesWritten(long from, IReadOnlyList<Entry> written)
    {
        var changed = false;
        if (from <= _membershipIndex)
        {
            if (_previousMembership is { } previous && previous.Index < from)
            {
                (_membership, _membershipIndex) = previous;
                _previousMembership = null;
            }
            else
            {
                var (current, before) = ScanMembership(from - 1);
                (_membership, _membershipIndex) = current;
                _previousMembership = before;
            }

            changed = true;
        }

        foreach (var entry in written)
        {
            if (entry.Type == EntryType.ConfigChange)
            {
                _previousMembership = (_membership, _membershipIndex);
                _membership = ConfigChangeCodec.Decode(entry.Data).Result;
                _membershipIndex = entry.Index;
                changed = true;
            }
        }

        if (changed)
        {
            ApplyMembership();
        }
    }

    /// <summary>Puts the configuration in force into effect: quorum rules, and on a leader the replication targets.</summary>
    private void ApplyMembership()
    {
        _voters = new VoterSet(_membership.Voters);
        if (Role != RaftRole.Leader)
        {
            return;
        }

        foreach (var id in _membership.Voters.Concat(_membership.Learners))
        {
            if (!_progress.ContainsKey(id))
            {
                // Raft Figure 2: a new follower's nextIndex starts after the leader's last entry; probing finds the match.
                _progress[id] = new Progress(_log.LastIndex + 1, _config.MaxInflightMessages, _config.MaxInflightBytes) { RecentActive = true };
                _broadcastPending = true;
            }
        }

        foreach (var id in _progress.Keys.ToArray())
        {
            if (id != Id && !_membership.Contains(id))
            {
                _progress.Remove(id);
                _readAcks.Remove(id);
            }
        }

        if (_leadTransferee != 0 && !_voters.Contains(_leadTransferee))
        {
            AbortLeaderTransfer();
        }

        // A smaller quorum may already hold entries of this term (a lagging voter was removed).
        MaybeCommitAndNotify();
    }

    /// <summary>Every member this leader replicates to: voters and learners other than itself.</summary>
    private IEnumerable<ulong> ReplicationTargets()
    {
        foreach (var id in _membership.Voters)
        {
            if (id != Id)
            {
                yield return id;
            }
        }

        foreach (var id in _membership.Learners)
        {
            if (id != Id)
            {
                yield return id;
            }
        }
    }

    /// <summary>
    /// Thesis §4.2.2: a leader that removed itself manages the cluster until the change commits, then steps down. It
    /// first tells the followers the commit index, and hands leadership to the most up-to-date voter with TimeoutNow
    /// (thesis §3.10) so the cluster does not wait for an election timeout.
    /// </summary>
    private void MaybeStepDownAfterRemoval()
    {
        if (Role != RaftRole.Leader || _voters.Contains(Id) || _membershipIndex > _log.Committed)
        {
            return;
        }

        BroadcastAppend();
        ulong best = 0;
        long bestMatch = -1;
        foreach (var id in _voters.Ids)
        {
            if (_progress.TryGetValue(id, out var pr) && pr.Match > bestMatch)
            {
                best = id;
                bestMatch = pr.Match;
            }
        }

        if (best != 0 && bestMatch == _log.LastIndex)
        {
            Send(new TimeoutNow(Id, best, Term));
        }

        BecomeFollower(Term, 0);
    }
}
