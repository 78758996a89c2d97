using Akka.Actor;
using Akka.Event;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

public sealed partial class RaftActor
{
    /// <summary>The membership request in progress on this leader, or null; one at a time (thesis §4.1).</summary>
    private MembershipOperation? _membershipOp;

    /// <summary>Ticks of <see cref="RaftActorSettings.CatchUpTimeout"/>.</summary>
    private long CatchUpTicks => Math.Max(1, (long)Math.Ceiling(_settings.CatchUpTimeout / _settings.TickInterval));

    private void HandleAddMember(AddMember add)
    {
        if (!CanStartMembershipChange(add.NodeId))
        {
            return;
        }

        var membership = _node!.Membership;
        if (membership.IsVoter(add.NodeId) || (add.StayLearner && membership.IsLearner(add.NodeId)))
        {
            Sender.Tell(Changed(_node.MembershipIndex, membership), Self);
            return;
        }

        var op = new MembershipOperation(add.NodeId, Sender, isAdd: true) { StaysLearner = add.StayLearner };
        _membershipOp = op;
        if (membership.IsLearner(add.NodeId))
        {
            StartCatchUp(op); // an earlier attempt timed out or was interrupted: resume (thesis §4.2.1)
        }
        else
        {
            // The entry says whether the learner is to be promoted, so a leader elected during its catch-up finishes it.
            ProposeMembershipEntry(op, ConfigChange.AddLearner(add.NodeId, promoteWhenCaughtUp: !add.StayLearner), MembershipPhase.AddingLearner);
        }
    }

    private void HandleRemoveMember(RemoveMember remove)
    {
        if (!CanStartMembershipChange(remove.NodeId))
        {
            return;
        }

        if (!_node!.Membership.Contains(remove.NodeId))
        {
            Sender.Tell(Changed(_node.MembershipIndex, _node.Membership), Self);
            return;
        }

        var op = new MembershipOperation(remove.NodeId, Sender, isAdd: false);
        _membershipOp = op;
        ProposeMembershipEntry(op, ConfigChange.RemoveServer(remove.NodeId), MembershipPhase.Removing);
    }

    private Members BuildMembers() => _node is null
        ? new Members(_settings.Raft.Voters, Array.Empty<ulong>(), 0, false, 0, Recovering: true)
        : new Members(_node.Membership.Voters, _node.Membership.Learners, _node.MembershipIndex,
            _node.MembershipIndex <= _node.CommitIndex, _node.Leader, Recovering: false, _node.Membership.Promoting);

    /// <summary>Checks what every membership request needs (leader, nothing pending); answers the sender when not.</summary>
    private bool CanStartMembershipChange(ulong nodeId)
    {
        if (nodeId == 0)
        {
            Fail(Sender, nodeId, MembershipChangeFailure.Rejected, 0, "node id 0 means \"no node\" and cannot be a member");
            return false;
        }

        if (_node is null)
        {
            Fail(Sender, nodeId, MembershipChangeFailure.Unavailable, 0, $"Raft node {NodeId} is still recovering its journal; retry shortly");
            return false;
        }

        if (_node.Role != RaftRole.Leader)
        {
            var hint = ProposeResult.NotLeader(_node.Leader);
            Fail(Sender, nodeId, MembershipChangeFailure.NotLeader, hint.LeaderHint, hint.Reason);
            return false;
        }

        if (_membershipOp is { } op)
        {
            Fail(Sender, nodeId, MembershipChangeFailure.ChangeInProgress, 0,
                $"{(op.IsAdd ? "adding" : "removing")} node {op.NodeId} is in progress; membership changes are made one at a time, retry when it is done");
            return false;
        }

        if (_node.MembershipIndex > _node.CommitIndex)
        {
            Fail(Sender, nodeId, MembershipChangeFailure.ChangeInProgress, 0,
                $"the configuration change at index {_node.MembershipIndex} is not committed yet; retry when it is");
            return false;
        }

        return true;
    }

    /// <summary>Proposes one configuration entry for <paramref name="op"/>; on refusal answers and ends the operation.</summary>
    private void ProposeMembershipEntry(MembershipOperation op, ConfigChange change, MembershipPhase phase)
    {
        var result = _node!.ProposeConfigChange(change);
        switch (result.Status)
        {
            case ProposeStatus.Accepted:
                op.Phase = phase;
                op.Index = result.Index;
                op.Term = result.Term;
                op.Ticks = 0;
                Log.Info("Raft node {NodeId}: proposed {Change} at index {Index} (term {Term}).", NodeId, change, result.Index, result.Term);
                break;
            case ProposeStatus.NotLeader:
                EndMembershipOp(MembershipChangeFailure.NotLeader, result.LeaderHint, result.Reason);
                break;
            case ProposeStatus.Rejected:
                EndMembershipOp(MembershipChangeFailure.Rejected, 0, result.Reason);
                break;
            default:
                EndMembershipOp(MembershipChangeFailure.Unavailable, 0, result.Reason);
                break;
        }
    }

    /// <summary>Thesis §4.2.1: replicate to the learner in rounds; each round ends when it holds the round's last index.</summary>
    private void StartCatchUp(MembershipOperation op)
    {
        op.Phase = MembershipPhase.CatchingUp;
        op.Rounds = 0;
        op.Ticks = 0;
        op.RoundTarget = _node!.LastIndex;
        CheckCatchUp();
    }

    /// <summary>Advances a catch-up after any event: promotes the learner once a round ends close enough to the leader.</summary>
    private void CheckCatchUp()
    {
        if (_membershipOp is not { Phase: MembershipPhase.CatchingUp } op || _node is null)
        {
            return;
        }

        if (_node.Role != RaftRole.Leader)
        {
            var hint = ProposeResult.NotLeader(_node.Leader);
            EndMembershipOp(MembershipChangeFailure.NotLeader, hint.LeaderHint,
                $"this node lost leadership while node {op.NodeId} was catching up; it stays a learner, retry at the new leader ({hint.Reason})");
            return;
        }

        var match = _node.MatchIndex(op.NodeId) ?? 0;
        while (match >= op.RoundTarget)
        {
            op.Rounds++;
            var lag = _node.LastIndex - match;
            if (lag <= _settings.CatchUpMaxLag)
            {
                Log.Info("Raft node {NodeId}: learner {Learner} caught up after {Rounds} round(s) ({Lag} entries behind); promoting.", NodeId, op.NodeId, op.Rounds, lag);
                ProposeMembershipEntry(op, ConfigChange.PromoteLearner(op.NodeId), MembershipPhase.Promoting);
                return;
            }

            if (op.Rounds >= _settings.CatchUpMaxRounds)
            {
                EndMembershipOp(MembershipChangeFailure.CatchUpTimedOut, 0,
                    $"node {op.NodeId} is still {lag} entries behind after {op.Rounds} catch-up rounds (CatchUpMaxLag {_settings.CatchUpMaxLag}); it stays a learner");
                return;
            }

            op.RoundTarget = _node.LastIndex;
        }
    }

    /// <summary>Counts a tick against the operation's deadline.</summary>
    private void TickMembershipOp()
    {
        if (_membershipOp is not { } op)
        {
            return;
        }

        op.Ticks++;
        if (op.Ticks < CatchUpTicks)
        {
            return;
        }

        if (op.Phase == MembershipPhase.CatchingUp)
        {
            var match = _node?.MatchIndex(op.NodeId) ?? 0;
            EndMembershipOp(MembershipChangeFailure.CatchUpTimedOut, 0,
                $"node {op.NodeId} did not catch up within {_settings.CatchUpTimeout} (match index {match}, leader's last index {_node?.LastIndex}, " +
                $"{op.Rounds} round(s) done); it stays a learner. Is it running and in the peer map (SetPeers)?");
        }
        else
        {
            EndMembershipOp(MembershipChangeFailure.Unavailable, _node?.Leader ?? 0,
                $"the configuration entry at index {op.Index} did not commit within {_settings.CatchUpTimeout}; it may still take effect, check with GetMembers");
        }
    }

    /// <summary>A committed entry was applied: finish the step of the operation that waited for it.</summary>
    private void OnMembershipEntryApplied(Entry entry)
    {
        if (_membershipOp is not { } op || op.Index != entry.Index || op.Phase == MembershipPhase.CatchingUp)
        {
            return;
        }

        if (entry.Term != op.Term || entry.Type != EntryType.ConfigChange)
        {
            EndMembershipOp(MembershipChangeFailure.Unavailable, _node?.Leader ?? 0,
                $"the configuration entry at index {entry.Index} (term {op.Term}) was replaced by a new leader's entry (term {entry.Term}); it did not take effect, retry");
            return;
        }

        var result = ConfigChangeCodec.Decode(entry.Data).Result;
        if (op.Phase == MembershipPhase.AddingLearner && !op.StaysLearner)
        {
            StartCatchUp(op);
            return;
        }

        Log.Info("Raft node {NodeId}: configuration at index {Index} committed: {Membership}.", NodeId, entry.Index, result);
        _membershipOp = null;
        op.Sender.Tell(Changed(entry.Index, result), Self);
    }

    /// <summary>Leadership changed: an operation whose entry is not yet committed here cannot be followed any more.</summary>
    private void OnMembershipLeadershipChanged(RaftActorData after)
    {
        if (_membershipOp is not { } op || _node is null)
        {
            return;
        }

        if (op.Phase != MembershipPhase.CatchingUp && _node.CommitIndex >= op.Index)
        {
            return; // committed (a removed leader steps down at this moment): the apply answers
        }

        var hint = ProposeResult.NotLeader(after.Leader);
        EndMembershipOp(MembershipChangeFailure.NotLeader, hint.LeaderHint,
            $"leadership changed (term {after.Term}, leader {after.Leader}) during the change of node {op.NodeId}; it may still take effect, check with GetMembers and retry at the leader");
    }

    private void EndMembershipOp(MembershipChangeFailure failure, ulong leaderHint, string reason)
    {
        if (_membershipOp is not { } op)
        {
            return;
        }

        _membershipOp = null;
        Log.Warning("Raft node {NodeId}: {Operation} node {Target} failed ({Failure}): {Reason}", NodeId, op.IsAdd ? "adding" : "removing", op.NodeId, failure, reason);
        Fail(op.Sender, op.NodeId, failure, leaderHint, reason);
    }

    private void Fail(IActorRef to, ulong nodeId, MembershipChangeFailure failure, ulong leaderHint, string reason) =>
        to.Tell(new MembershipChangeFailed(nodeId, failure, leaderHint, reason), Self);

    private static MembershipChanged Changed(long index, Membership membership) => new(index, membership.Voters, membership.Learners);

    /// <summary>The step a membership request is at.</summary>
    private enum MembershipPhase
    {
        /// <summary>Not started yet.</summary>
        None,

        /// <summary>Waiting for the AddLearner entry to commit.</summary>
        AddingLearner,

        /// <summary>Replicating to the learner in rounds (thesis §4.2.1).</summary>
        CatchingUp,

        /// <summary>Waiting for the PromoteLearner entry to commit.</summary>
        Promoting,

        /// <summary>Waiting for the RemoveServer entry to commit.</summary>
        Removing,
    }

    /// <summary>The membership request in progress: mutable, owned by the actor's mailbox turn.</summary>
    private sealed class MembershipOperation(ulong nodeId, IActorRef sender, bool isAdd)
    {
        /// <summary>The node being added or removed.</summary>
        public ulong NodeId { get; } = nodeId;

        /// <summary>Who receives the single reply.</summary>
        public IActorRef Sender { get; } = sender;

        /// <summary>AddMember (true) or RemoveMember (false).</summary>
        public bool IsAdd { get; } = isAdd;

        /// <summary>An add that ends once the node is a learner (<see cref="AddMember.StayLearner"/>).</summary>
        public bool StaysLearner { get; init; }

        /// <summary>The current step.</summary>
        public MembershipPhase Phase { get; set; }

        /// <summary>Index of the configuration entry waited for.</summary>
        public long Index { get; set; }

        /// <summary>Term of that entry.</summary>
        public long Term { get; set; }

        /// <summary>Catch-up rounds completed.</summary>
        public int Rounds { get; set; }

        /// <summary>The leader's last index when the current round began.</summary>
        public long RoundTarget { get; set; }

        /// <summary>Ticks spent in the current step.</summary>
        public long Ticks { get; set; }
    }
}
