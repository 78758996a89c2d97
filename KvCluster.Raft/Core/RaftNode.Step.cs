namespace KvCluster.Raft.Core;

public sealed partial class RaftNode
{
    /// <summary>
    /// Delivers a message from a peer. Messages may be stale, duplicated or reordered; the node reconciles terms first
    /// (Raft Figure 2, "All Servers": a higher term turns it into a follower of that term; a lower term is ignored or
    /// answered so the stale sender learns the term), then lets its role handle it.
    /// </summary>
    /// <param name="message">A message whose <see cref="RaftMessage.To"/> is this node.</param>
    /// <exception cref="ArgumentException">The message is addressed to another node (a routing bug in the driver).</exception>
    public void Step(RaftMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.To != Id)
        {
            throw new ArgumentException($"Message {message.GetType().Name} is addressed to node {message.To}, not to node {Id}.", nameof(message));
        }

        if (message is SnapshotChunk or SnapshotChunkAck)
        {
            return; // the drivers' snapshot transfer; the core sees only the whole snapshot (InstallSnapshot)
        }

        // Messages from any node are handled, members or not: a node may lag behind a configuration that added the
        // sender (a promoted learner that now leads), and a removed server is kept from disrupting the cluster by PreVote
        // and the leader lease (thesis §4.2.3), not by its id.
        if (message.Term > Term)
        {
            if (message is RequestVote vote && IgnoresVoteInLease(vote))
            {
                // Thesis §4.2.3 / §9.6: we heard from a leader within the minimum election timeout, so this
                // candidate is likely disruptive (partitioned, or removed); neither grant nor adopt its term.
                return;
            }

            var keepsTerm = message is RequestVote { PreVote: true } || message is RequestVoteResult { PreVote: true, Granted: true };
            if (!keepsTerm)
            {
                var leader = message is AppendEntries or Heartbeat or InstallSnapshot ? message.From : 0UL;
                BecomeFollower(message.Term, leader);
            }
        }
        else if (message.Term < Term)
        {
            if ((_config.CheckQuorum || _config.PreVote) && message is AppendEntries or Heartbeat or InstallSnapshot)
            {
                // A stale leader must learn the newer term, or (with PreVote/CheckQuorum) a node that advanced its term
                // while partitioned could never be heard by the leader again.
                Send(new AppendEntriesResult(Id, message.From, Term, false, 0, 0, 0));
            }
            else if (message is RequestVote stale)
            {
                // Raft Figure 2, RequestVote receiver rule 1: reply false if term < currentTerm.
                Send(new RequestVoteResult(Id, message.From, Term, stale.PreVote, Granted: false));
            }

            return;
        }

        if (message is RequestVote request)
        {
            HandleRequestVote(request);
            return;
        }

        _step(message);
        MaybeStepDownAfterRemoval();
    }

    /// <summary>Whether a higher-term vote request is ignored because this node is within a leader lease.</summary>
    private bool IgnoresVoteInLease(RequestVote vote)
    {
        if (vote.LeadershipTransfer || Leader == 0 || _electionElapsed >= _config.ElectionTimeoutMinTicks)
        {
            return false;
        }

        // Pre-votes are refused whenever a leader was heard recently (thesis §9.6); real votes only when CheckQuorum
        // guarantees a leader that lost its majority steps down, else a live minority leader could block elections.
        return vote.PreVote || _config.CheckQuorum;
    }

    /// <summary>RequestVote receiver rules (Raft Figure 2) and the PreVote variant (thesis §9.6).</summary>
    private void HandleRequestVote(RequestVote request)
    {
        var canVote = Vote == request.From
            || (Vote == 0 && Leader == 0)
            || (request.PreVote && request.Term > Term);
        if (canVote && _log.IsUpToDate(request.LastLogIndex, request.LastLogTerm))
        {
            // A granted pre-vote answers with the requested term so the pre-candidate counts it.
            Send(new RequestVoteResult(Id, request.From, request.Term, request.PreVote, Granted: true));
            if (!request.PreVote)
            {
                _electionElapsed = 0;
                Vote = request.From;
            }
        }
        else
        {
            Send(new RequestVoteResult(Id, request.From, Term, request.PreVote, Granted: false));
        }
    }
}
