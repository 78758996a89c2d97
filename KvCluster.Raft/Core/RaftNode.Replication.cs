namespace KvCluster.Raft.Core;

public sealed partial class RaftNode
{
    /// <summary>Leader: replication progress per member (voters and learners), this node included (its Match is its
    /// durable last index; kept while a leader that removed itself steps down).</summary>
    private readonly Dictionary<ulong, Progress> _progress = new();

    /// <summary>Leader: entries appended but not yet committed, as (index, bytes), for the MaxUncommittedBytes bound.</summary>
    private readonly Queue<(long Index, long Bytes)> _uncommitted = new();

    /// <summary>Leader: bytes in <see cref="_uncommitted"/>.</summary>
    private long _uncommittedBytes;

    /// <summary>Leader: new entries or a new commit index wait to be broadcast with the next Ready (batching).</summary>
    private bool _broadcastPending;

    /// <summary>Leader: the follower leadership is being transferred to, or 0.</summary>
    private ulong _leadTransferee;

    private void ResetLeaderState()
    {
        _progress.Clear();
        _uncommitted.Clear();
        _uncommittedBytes = 0;
        _broadcastPending = false;
        ResetReadState();
    }

    private void InitializeLeaderState()
    {
        // Raft Figure 2, "Volatile state on leaders": nextIndex = leader last log index + 1, matchIndex = 0.
        foreach (var id in ReplicationTargets().Append(Id))
        {
            var pr = new Progress(_log.LastIndex + 1, _config.MaxInflightMessages, _config.MaxInflightBytes);
            if (id == Id)
            {
                pr.Match = _log.Unstable.Offset - 1; // only durable entries count for this node
                pr.RecentActive = true;
            }

            _progress[id] = pr;
        }
    }

    /// <summary>Appends entries of the current term to the leader's log; they go out with the next Ready.</summary>
    private void AppendAsLeader(IReadOnlyList<Entry> entries)
    {
        _log.Append(entries);
        foreach (var e in entries)
        {
            _uncommitted.Enqueue((e.Index, e.Size));
            _uncommittedBytes += e.Size;
        }

        _broadcastPending = true;
        OnEntriesWritten(entries[0].Index, entries);
    }

    /// <summary>Sends what a Ready should carry from the leader: batched appends and a pending read round.</summary>
    private void FlushLeaderBroadcasts()
    {
        if (Role != RaftRole.Leader)
        {
            return;
        }

        if (_broadcastPending)
        {
            _broadcastPending = false;
            BroadcastAppend();
        }

        FlushReadRound();
    }

    /// <summary>Sends every follower and learner what it is missing (or an empty append carrying the commit index),
    /// pipelining as far as its in-flight window allows.</summary>
    private void BroadcastAppend()
    {
        foreach (var id in ReplicationTargets())
        {
            if (SendAppend(id, sendIfEmpty: true))
            {
                while (SendAppend(id, sendIfEmpty: false))
                {
                }
            }
        }
    }

    /// <summary>Sends one AppendEntries to <paramref name="to"/> unless its progress is paused; returns whether it did.</summary>
    private bool SendAppend(ulong to, bool sendIfEmpty)
    {
        var pr = _progress[to];
        if (pr.IsPaused)
        {
            return false;
        }

        var prevIndex = pr.Next - 1;
        if (pr.Next < _log.FirstIndex || !_log.TryTerm(prevIndex, out var prevTerm))
        {
            // Raft §7: the entries this follower needs next were compacted; send the snapshot instead.
            SendSnapshot(to, pr);
            return true;
        }

        var entries = _log.Entries(pr.Next, _config.MaxBytesPerMessage, _config.MaxEntriesPerMessage);
        if (entries.Count == 0 && !sendIfEmpty)
        {
            return false;
        }

        long bytes = 0;
        foreach (var e in entries)
        {
            bytes += e.Size;
        }

        Send(new AppendEntries(Id, to, Term, prevIndex, prevTerm, entries, _log.Committed));
        pr.OnSent(entries.Count, prevIndex + entries.Count, bytes);
        return true;
    }

    /// <summary>Sends the latest snapshot to a follower that needs compacted entries (etcd's <c>maybeSendSnapshot</c>).</summary>
    private void SendSnapshot(ulong to, Progress pr)
    {
        var snapshot = _log.Storage.Snapshot;
        if (snapshot.Index < _log.FirstIndex - 1 || snapshot.Index == 0)
        {
            throw new InvalidOperationException(
                $"Broken invariant: node {to} needs entry {pr.Next}, compacted up to {_log.FirstIndex - 1}, but the latest snapshot is {snapshot.Index}.");
        }

        Send(new InstallSnapshot(Id, to, Term, snapshot));
        pr.BecomeSnapshot(snapshot.Index);
    }

    /// <summary>
    /// InstallSnapshot receiver rules (Raft §7) on a follower, as etcd applies them: a snapshot at or below the commit
    /// index is stale and only answered with the commit index; one whose last entry the log already holds (same term)
    /// just commits up to it; otherwise the log is replaced by the snapshot, the configuration comes from its metadata,
    /// and the driver persists it and restores the state machine with the next Ready. The answer (an
    /// <see cref="AppendEntriesResult"/> acknowledging the snapshot's index) goes out once that Ready is durable.
    /// </summary>
    private void HandleInstallSnapshot(InstallSnapshot message)
    {
        var snapshot = message.Snapshot;
        if (snapshot.Index <= _log.Committed)
        {
            Send(new AppendEntriesResult(Id, message.From, Term, true, _log.Committed, 0, 0));
            return;
        }

        if (_log.MatchTerm(snapshot.Index, snapshot.Term))
        {
            _log.CommitTo(snapshot.Index);
            Send(new AppendEntriesResult(Id, message.From, Term, true, _log.Committed, 0, 0));
            return;
        }

        _log.Restore(snapshot);
        _membership = snapshot.Membership;
        _membershipIndex = snapshot.MembershipIndex;
        _previousMembership = null;
        ApplyMembership();
        Send(new AppendEntriesResult(Id, message.From, Term, true, snapshot.Index, 0, 0));
    }

    /// <summary>AppendEntries receiver rules (Raft Figure 2) on a follower.</summary>
    private void HandleAppendEntries(AppendEntries append)
    {
        if (append.PrevLogIndex < _log.Committed)
        {
            // Everything up to our commit index is already known to match; tell the leader where to continue.
            Send(new AppendEntriesResult(Id, append.From, Term, true, _log.Committed, 0, 0));
            return;
        }

        var lastNew = _log.MaybeAppend(append.PrevLogIndex, append.PrevLogTerm, append.LeaderCommit, append.Entries, out var written);
        if (written.Count > 0)
        {
            OnEntriesWritten(written[0].Index, written);
        }

        if (lastNew is long index)
        {
            // Acknowledge only what this message verified (Raft §5.3), not our whole log.
            Send(new AppendEntriesResult(Id, append.From, Term, true, index, 0, 0));
            return;
        }

        // Rule 2: reply false if the log has no entry at prevLogIndex whose term matches prevLogTerm; include the
        // conflicting term and its first index so the leader can skip that whole term (Raft §5.3, end).
        long conflictTerm, conflictIndex;
        if (append.PrevLogIndex > _log.LastIndex)
        {
            conflictTerm = 0;
            conflictIndex = _log.LastIndex + 1;
        }
        else
        {
            conflictTerm = _log.Term(append.PrevLogIndex);
            conflictIndex = _log.FirstIndexOfTermAt(append.PrevLogIndex);
        }

        Send(new AppendEntriesResult(Id, append.From, Term, false, append.PrevLogIndex, conflictTerm, conflictIndex));
    }

    /// <summary>Heartbeat on a follower: commit what the leader says (never beyond what we hold) and acknowledge.</summary>
    private void HandleHeartbeat(Heartbeat heartbeat)
    {
        _log.CommitTo(heartbeat.Commit);
        Send(new HeartbeatResult(Id, heartbeat.From, Term, heartbeat.ReadRound));
    }

    /// <summary>Role step of leaders.</summary>
    private void StepLeader(RaftMessage message)
    {
        if (!_progress.TryGetValue(message.From, out var pr))
        {
            return;
        }

        switch (message)
        {
            case AppendEntriesResult result:
                pr.RecentActive = true;
                HandleAppendEntriesResult(result, pr);
                break;
            case HeartbeatResult result:
                pr.RecentActive = true;
                pr.ProbeSent = false;
                if (pr.State == ProgressState.Replicate && pr.IsPaused)
                {
                    pr.FreeFirstInflight(); // the window may be full of lost appends; let one more through
                }

                if (pr.Match < _log.LastIndex)
                {
                    SendAppend(result.From, sendIfEmpty: true);
                }

                HandleReadAck(result.From, result.ReadRound);
                break;
            case ReadIndexRequest request:
                HandleReadRequest(request.From, request.Context);
                break;
        }
    }

    private void HandleAppendEntriesResult(AppendEntriesResult result, Progress pr)
    {
        if (!result.Success)
        {
            if (pr.MaybeDecreaseTo(result.Index, NextFromRejectHint(result)))
            {
                SendAppend(result.From, sendIfEmpty: true);
            }

            return;
        }

        var wasPaused = pr.IsPaused;
        if (!pr.MaybeUpdate(result.Index))
        {
            return;
        }

        if (pr.State == ProgressState.Probe)
        {
            pr.BecomeReplicate();
        }
        else if (pr.State == ProgressState.Snapshot)
        {
            if (pr.Match + 1 >= _log.FirstIndex)
            {
                // The follower holds the snapshot (or caught up otherwise): replicate from after its match.
                pr.BecomeReplicate();
            }
        }
        else
        {
            pr.FreeInflightUpTo(result.Index);
        }

        if (!MaybeCommitAndNotify() && wasPaused)
        {
            // While paused the follower missed commit updates; tell it now even if there is nothing new to send.
            SendAppend(result.From, sendIfEmpty: true);
        }

        while (SendAppend(result.From, sendIfEmpty: false))
        {
        }

        if (result.From == _leadTransferee && pr.Match == _log.LastIndex)
        {
            Send(new TimeoutNow(Id, result.From, Term));
        }
    }

    /// <summary>
    /// Next index suggested by a rejection's hint: after the leader's last entry of the conflicting term when it has
    /// that term, otherwise the first index the follower holds for it (or its log end when its log is shorter).
    /// </summary>
    private long NextFromRejectHint(AppendEntriesResult result)
    {
        if (result.ConflictTerm == 0)
        {
            return result.ConflictIndex;
        }

        var i = Math.Min(result.Index, _log.LastIndex);
        while (i > 0 && _log.TryTerm(i, out var t) && t > result.ConflictTerm)
        {
            i--;
        }

        return _log.TryTerm(i, out var term) && term == result.ConflictTerm ? i + 1 : result.ConflictIndex;
    }

    /// <summary>
    /// Advances the commit index to the highest index replicated on a majority, but only when that entry is of the
    /// current term (Raft §5.4.2: earlier-term entries commit indirectly). On progress, schedules a broadcast of the new
    /// commit index and releases work that waited for it.
    /// </summary>
    private bool MaybeCommitAndNotify()
    {
        var quorumIndex = _voters.QuorumValue(id => _progress[id].Match);
        if (quorumIndex <= _log.Committed || _log.Term(quorumIndex) != Term)
        {
            return false;
        }

        var hadCommittedInTerm = CommittedInCurrentTerm;
        _log.CommitTo(quorumIndex);
        while (_uncommitted.Count > 0 && _uncommitted.Peek().Index <= quorumIndex)
        {
            _uncommittedBytes -= _uncommitted.Dequeue().Bytes;
        }

        _broadcastPending = true;
        if (!hadCommittedInTerm)
        {
            ReleaseReadsWaitingForCommit();
        }

        return true;
    }

    /// <summary>Whether the leader has committed an entry of its own term (its no-op at least).</summary>
    private bool CommittedInCurrentTerm => _log.TryTerm(_log.Committed, out var t) && t == Term;

    private void StartLeaderTransfer(ulong target)
    {
        if (_leadTransferee == target)
        {
            return;
        }

        _leadTransferee = target;
        _electionElapsed = 0; // abandoned if not done within an election timeout (TickLeader)
        var pr = _progress[target];
        if (pr.Match == _log.LastIndex)
        {
            Send(new TimeoutNow(Id, target, Term));
        }
        else
        {
            SendAppend(target, sendIfEmpty: true);
        }
    }

    private void AbortLeaderTransfer()
    {
        _leadTransferee = 0;
    }
}
