using Akka.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

public sealed partial class RaftActor
{
    /// <summary>Accepted proposals by log index, answered when that index is applied.</summary>
    private readonly Dictionary<long, PendingProposal> _pendingProposals = new();

    /// <summary>Reads in progress by context, answered when the core releases them.</summary>
    private readonly Dictionary<ulong, PendingRead> _pendingReads = new();

    /// <summary>Leader: highest index each follower acknowledged in the current term (for <see cref="RaftStatus"/>).</summary>
    private readonly Dictionary<ulong, long> _match = new();

    /// <summary>The last read context handed to the core.</summary>
    private ulong _readContext;

    /// <summary>Highest index applied to the state machine.</summary>
    private long _lastApplied;

    private void HandlePropose(Propose propose)
    {
        if (_node is null)
        {
            Sender.Tell(new ProposeDropped($"Raft node {NodeId} is still recovering its journal; retry shortly"), Self);
            return;
        }

        var result = _node.Propose(propose.Command);
        switch (result.Status)
        {
            case ProposeStatus.Accepted:
                if (_pendingProposals.Remove(result.Index, out var superseded))
                {
                    // A proposal of an earlier term at this index was overwritten by this leader's log: it was not applied.
                    superseded.Sender.Tell(new ProposeDropped(
                        $"the proposal at index {result.Index} (term {superseded.Term}) was replaced by a new leader's entry (term {result.Term}); it was not applied, retry"), Self);
                }

                _pendingProposals[result.Index] = new PendingProposal(result.Term, Sender);
                break;
            default:
                ReplyRefused(result);
                break;
        }
    }

    private void HandleRead(ReadIndex read)
    {
        if (_node is null)
        {
            Sender.Tell(new ProposeDropped($"Raft node {NodeId} is still recovering its journal; retry shortly"), Self);
            return;
        }

        var context = ++_readContext;
        var result = _node.ReadIndex(context);
        if (result.Status == ProposeStatus.Accepted)
        {
            _pendingReads[context] = new PendingRead(read.Query, Sender);
        }
        else
        {
            Sender.Tell(new NotLeader(result.LeaderHint, result.Reason), Self);
        }
    }

    private void HandleTransferLeadership(TransferLeadership transfer)
    {
        if (_node is null)
        {
            Sender.Tell(new ProposeDropped($"Raft node {NodeId} is still recovering its journal; retry shortly"), Self);
            return;
        }

        var result = _node.TransferLeadership(transfer.Target);
        if (result.Status == ProposeStatus.Accepted)
        {
            Sender.Tell(new TransferLeadershipStarted(NodeId, transfer.Target), Self);
        }
        else
        {
            ReplyRefused(result);
        }
    }

    /// <summary>Answers a request the core refused: <see cref="NotLeader"/> with its hint, else <see cref="ProposeDropped"/>.</summary>
    private void ReplyRefused(ProposeResult result) =>
        Sender.Tell(result.Status == ProposeStatus.NotLeader ? new NotLeader(result.LeaderHint, result.Reason) : new ProposeDropped(result.Reason), Self);

    private void HandleLocalQuery(LocalQuery query)
    {
        if (_node is null)
        {
            Sender.Tell(new ProposeDropped($"Raft node {NodeId} is still recovering its journal; retry shortly"), Self);
            return;
        }

        Sender.Tell(new LocalQueryReply(_lastApplied, _stateMachine.Query(query.Query)), Self);
    }

    private void ServeRead(ReadState read)
    {
        if (_pendingReads.Remove(read.Context, out var pending))
        {
            pending.Sender.Tell(new ReadIndexReply(read.Index, _stateMachine.Query(pending.Query)), Self);
        }
    }

    /// <summary>
    /// Term or leader changed: reads in flight are lost in the core (thesis §6.4: a read is confirmed by the leader of one
    /// term), so answer them now; the follower progress of an old term is meaningless.
    /// </summary>
    private void OnLeadershipChanged(RaftActorData before, RaftActorData after)
    {
        _match.Clear();
        OnMembershipLeadershipChanged(after);
        if (_pendingReads.Count == 0)
        {
            return;
        }

        var reason = $"leadership changed (term {before.Term} → {after.Term}, leader {before.Leader} → {after.Leader}) while the read was in flight; retry";
        foreach (var read in _pendingReads.Values)
        {
            read.Sender.Tell(new ProposeDropped(reason), Self);
        }

        _pendingReads.Clear();
    }

    private void FailAllPending(string reason)
    {
        foreach (var proposal in _pendingProposals.Values)
        {
            proposal.Sender.Tell(new ProposeDropped($"{reason}; the proposal may or may not have been committed", Indeterminate: true), Self);
        }

        foreach (var read in _pendingReads.Values)
        {
            read.Sender.Tell(new ProposeDropped(reason), Self);
        }

        _pendingProposals.Clear();
        _pendingReads.Clear();
        EndMembershipOp(MembershipChangeFailure.Unavailable, 0, $"{reason}; the membership change may or may not take effect, check with GetMembers");
    }

    private RaftStatus BuildStatus()
    {
        if (_node is null)
        {
            return new RaftStatus(NodeId, RaftRole.Follower, 0, 0, 0, 0, 0, 0, new Dictionary<ulong, long>(), Recovering: true)
            {
                Voters = _settings.Raft.Voters,
            };
        }

        var match = new Dictionary<ulong, long>();
        if (_node.Role == RaftRole.Leader)
        {
            foreach (var (id, index) in _match)
            {
                if (_node.Membership.Contains(id))
                {
                    match[id] = index; // a removed server's last acknowledgement is no longer progress
                }
            }

            match[NodeId] = _storage!.LastIndex;
        }

        return new RaftStatus(NodeId, _node.Role, _node.Term, _node.Vote, _node.Leader, _node.CommitIndex, _lastApplied, _node.LastIndex, match, Recovering: false)
        {
            Voters = _node.Membership.Voters,
            Learners = _node.Membership.Learners,
            SnapshotIndex = _snapshot.Index,
            SnapshotTerm = _snapshot.Term,
            SnapshotBytes = _snapshot.Bytes,
            SnapshotTakenAt = _snapshot.TakenAt,
            FirstLogIndex = _storage!.FirstIndex,
        };
    }

    /// <summary>A proposal accepted at some index in <see cref="Term"/>.</summary>
    private readonly record struct PendingProposal(long Term, IActorRef Sender);

    /// <summary>A read waiting for the core to confirm it.</summary>
    private readonly record struct PendingRead(ReadOnlyMemory<byte> Query, IActorRef Sender);
}
