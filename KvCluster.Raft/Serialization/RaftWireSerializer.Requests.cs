using Google.Protobuf;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using W = KvCluster.Raft.Protos.ActorWire;

namespace KvCluster.Raft.Serialization;

public sealed partial class RaftWireSerializer
{
    /// <summary>Manifest of <see cref="Propose"/>.</summary>
    public const string ProposeManifest = "raft.propose.v1";

    /// <summary>Manifest of <see cref="ProposeApplied"/>.</summary>
    public const string ProposeAppliedManifest = "raft.propose-applied.v1";

    /// <summary>Manifest of <see cref="NotLeader"/>.</summary>
    public const string NotLeaderManifest = "raft.not-leader.v1";

    /// <summary>Manifest of <see cref="ProposeDropped"/>.</summary>
    public const string ProposeDroppedManifest = "raft.propose-dropped.v1";

    /// <summary>Manifest of <see cref="ReadIndex"/>.</summary>
    public const string ReadIndexManifest = "raft.read-index.v1";

    /// <summary>Manifest of <see cref="ReadIndexReply"/>.</summary>
    public const string ReadIndexReplyManifest = "raft.read-index-reply.v1";

    /// <summary>Manifest of <see cref="LocalQuery"/>.</summary>
    public const string LocalQueryManifest = "raft.local-query.v1";

    /// <summary>Manifest of <see cref="LocalQueryReply"/>.</summary>
    public const string LocalQueryReplyManifest = "raft.local-query-reply.v1";

    /// <summary>Manifest of <see cref="TransferLeadership"/>.</summary>
    public const string TransferLeadershipManifest = "raft.transfer-leadership.v1";

    /// <summary>Manifest of <see cref="TransferLeadershipStarted"/>.</summary>
    public const string TransferLeadershipStartedManifest = "raft.transfer-leadership-started.v1";

    /// <summary>Manifest of <see cref="SyncHardState"/>.</summary>
    public const string SyncHardStateManifest = "raft.sync-hard-state.v1";

    /// <summary>Manifest of <see cref="HardStateSynced"/>.</summary>
    public const string HardStateSyncedManifest = "raft.hard-state-synced.v1";

    /// <summary>Manifest of <see cref="GetRaftStatus"/>.</summary>
    public const string GetRaftStatusManifest = "raft.get-status.v1";

    /// <summary>Manifest of <see cref="RaftStatus"/>.</summary>
    public const string RaftStatusManifest = "raft.status.v1";

    /// <summary>Manifest of <see cref="AddMember"/>.</summary>
    public const string AddMemberManifest = "raft.add-member.v1";

    /// <summary>Manifest of <see cref="RemoveMember"/>.</summary>
    public const string RemoveMemberManifest = "raft.remove-member.v1";

    /// <summary>Manifest of <see cref="GetMembers"/>.</summary>
    public const string GetMembersManifest = "raft.get-members.v1";

    /// <summary>Manifest of <see cref="Members"/>.</summary>
    public const string MembersManifest = "raft.members.v1";

    /// <summary>Manifest of <see cref="MembershipChanged"/>.</summary>
    public const string MembershipChangedManifest = "raft.membership-changed.v1";

    /// <summary>Manifest of <see cref="MembershipChangeFailed"/>.</summary>
    public const string MembershipChangeFailedManifest = "raft.membership-change-failed.v1";

    /// <summary>The RaftActor's request and answer types this serializer carries (computed on each call, so the
    /// order of static initializers across the partial files does not matter).</summary>
    private static Type[] RequestTypes =>
    [
        typeof(Propose), typeof(ProposeApplied), typeof(NotLeader), typeof(ProposeDropped),
        typeof(ReadIndex), typeof(ReadIndexReply), typeof(LocalQuery), typeof(LocalQueryReply),
        typeof(TransferLeadership), typeof(TransferLeadershipStarted), typeof(SyncHardState), typeof(HardStateSynced),
        typeof(GetRaftStatus), typeof(RaftStatus), typeof(AddMember), typeof(RemoveMember), typeof(GetMembers),
        typeof(Members), typeof(MembershipChanged), typeof(MembershipChangeFailed),
    ];

    private static string? RequestManifest(object o) => o switch
    {
        Propose => ProposeManifest,
        ProposeApplied => ProposeAppliedManifest,
        NotLeader => NotLeaderManifest,
        ProposeDropped => ProposeDroppedManifest,
        ReadIndex => ReadIndexManifest,
        ReadIndexReply => ReadIndexReplyManifest,
        LocalQuery => LocalQueryManifest,
        LocalQueryReply => LocalQueryReplyManifest,
        TransferLeadership => TransferLeadershipManifest,
        TransferLeadershipStarted => TransferLeadershipStartedManifest,
        SyncHardState => SyncHardStateManifest,
        HardStateSynced => HardStateSyncedManifest,
        GetRaftStatus => GetRaftStatusManifest,
        RaftStatus => RaftStatusManifest,
        AddMember => AddMemberManifest,
        RemoveMember => RemoveMemberManifest,
        GetMembers => GetMembersManifest,
        Members => MembersManifest,
        MembershipChanged => MembershipChangedManifest,
        MembershipChangeFailed => MembershipChangeFailedManifest,
        _ => null,
    };

    private static byte[]? RequestToBinary(object o) => o switch
    {
        Propose m => new W.Propose { Command = Wrap(m.Command) }.ToByteArray(),
        ProposeApplied m => new W.ProposeApplied { Index = m.Index, Result = Wrap(m.Result) }.ToByteArray(),
        NotLeader m => new W.NotLeader { LeaderHint = m.LeaderHint, Reason = m.Reason ?? string.Empty }.ToByteArray(),
        ProposeDropped m => new W.ProposeDropped { Reason = m.Reason ?? string.Empty, Indeterminate = m.Indeterminate }.ToByteArray(),
        ReadIndex m => new W.ReadIndex { Query = Wrap(m.Query) }.ToByteArray(),
        ReadIndexReply m => new W.ReadIndexReply { Index = m.Index, Result = Wrap(m.Result) }.ToByteArray(),
        LocalQuery m => new W.LocalQuery { Query = Wrap(m.Query) }.ToByteArray(),
        LocalQueryReply m => new W.LocalQueryReply { AppliedIndex = m.AppliedIndex, Result = Wrap(m.Result) }.ToByteArray(),
        TransferLeadership m => new W.TransferLeadership { Target = m.Target }.ToByteArray(),
        TransferLeadershipStarted m => new W.TransferLeadershipStarted { From = m.From, Target = m.Target }.ToByteArray(),
        SyncHardState or HardStateSynced or GetRaftStatus or GetMembers => Array.Empty<byte>(),
        RaftStatus m => StatusToWire(m).ToByteArray(),
        AddMember m => new W.AddMember { NodeId = m.NodeId, StayLearner = m.StayLearner }.ToByteArray(),
        RemoveMember m => new W.RemoveMember { NodeId = m.NodeId }.ToByteArray(),
        Members m => new W.Members
        {
            Voters = { m.Voters }, Learners = { m.Learners }, Index = m.Index, Committed = m.Committed, Leader = m.Leader, Recovering = m.Recovering,
            Promoting = { m.Promoting ?? [] },
        }.ToByteArray(),
        MembershipChanged m => new W.MembershipChanged { Index = m.Index, Voters = { m.Voters }, Learners = { m.Learners } }.ToByteArray(),
        MembershipChangeFailed m => new W.MembershipChangeFailed
        {
            NodeId = m.NodeId, Failure = (int)m.Failure, LeaderHint = m.LeaderHint, Reason = m.Reason ?? string.Empty,
        }.ToByteArray(),
        _ => null,
    };

    private static object? RequestFromBinary(byte[] bytes, string manifest)
    {
        switch (manifest)
        {
            case ProposeManifest:
                return new Propose(W.Propose.Parser.ParseFrom(bytes).Command.Memory);
            case ProposeAppliedManifest:
                var applied = W.ProposeApplied.Parser.ParseFrom(bytes);
                return new ProposeApplied(applied.Index, applied.Result.Memory);
            case NotLeaderManifest:
                var notLeader = W.NotLeader.Parser.ParseFrom(bytes);
                return new NotLeader(notLeader.LeaderHint, notLeader.Reason);
            case ProposeDroppedManifest:
                var dropped = W.ProposeDropped.Parser.ParseFrom(bytes);
                return new ProposeDropped(dropped.Reason, dropped.Indeterminate);
            case ReadIndexManifest:
                return new ReadIndex(W.ReadIndex.Parser.ParseFrom(bytes).Query.Memory);
            case ReadIndexReplyManifest:
                var reply = W.ReadIndexReply.Parser.ParseFrom(bytes);
                return new ReadIndexReply(reply.Index, reply.Result.Memory);
            case LocalQueryManifest:
                return new LocalQuery(W.LocalQuery.Parser.ParseFrom(bytes).Query.Memory);
            case LocalQueryReplyManifest:
                var local = W.LocalQueryReply.Parser.ParseFrom(bytes);
                return new LocalQueryReply(local.AppliedIndex, local.Result.Memory);
            case TransferLeadershipManifest:
                return new TransferLeadership(W.TransferLeadership.Parser.ParseFrom(bytes).Target);
            case TransferLeadershipStartedManifest:
                var started = W.TransferLeadershipStarted.Parser.ParseFrom(bytes);
                return new TransferLeadershipStarted(started.From, started.Target);
            case SyncHardStateManifest:
                return SyncHardState.Instance;
            case HardStateSyncedManifest:
                return HardStateSynced.Instance;
            case GetRaftStatusManifest:
                return GetRaftStatus.Instance;
            case GetMembersManifest:
                return GetMembers.Instance;
            case RaftStatusManifest:
                return StatusFromWire(W.RaftStatus.Parser.ParseFrom(bytes));
            case AddMemberManifest:
                var add = W.AddMember.Parser.ParseFrom(bytes);
                return new AddMember(add.NodeId, add.StayLearner);
            case RemoveMemberManifest:
                return new RemoveMember(W.RemoveMember.Parser.ParseFrom(bytes).NodeId);
            case MembersManifest:
                var members = W.Members.Parser.ParseFrom(bytes);
                return new Members(members.Voters.ToArray(), members.Learners.ToArray(), members.Index, members.Committed, members.Leader, members.Recovering, members.Promoting.ToArray());
            case MembershipChangedManifest:
                var changed = W.MembershipChanged.Parser.ParseFrom(bytes);
                return new MembershipChanged(changed.Index, changed.Voters.ToArray(), changed.Learners.ToArray());
            case MembershipChangeFailedManifest:
                var failed = W.MembershipChangeFailed.Parser.ParseFrom(bytes);
                if (!Enum.IsDefined((MembershipChangeFailure)failed.Failure))
                {
                    throw new InvalidDataException($"unknown membership failure kind {failed.Failure}");
                }

                return new MembershipChangeFailed(failed.NodeId, (MembershipChangeFailure)failed.Failure, failed.LeaderHint, failed.Reason);
            default:
                return null;
        }
    }

    private static W.RaftStatus StatusToWire(RaftStatus s)
    {
        var wire = new W.RaftStatus
        {
            NodeId = s.NodeId, Role = (int)s.Role, Term = s.Term, Vote = s.Vote, Leader = s.Leader, Commit = s.Commit,
            Applied = s.Applied, LastIndex = s.LastIndex, Recovering = s.Recovering, Voters = { s.Voters }, Learners = { s.Learners },
            SnapshotIndex = s.SnapshotIndex, SnapshotTerm = s.SnapshotTerm, SnapshotBytes = s.SnapshotBytes, FirstLogIndex = s.FirstLogIndex,
        };
        if (s.SnapshotTakenAt is { } takenAt)
        {
            wire.SnapshotTakenAtUnixMs = new DateTimeOffset(DateTime.SpecifyKind(takenAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds();
        }

        foreach (var (id, index) in s.Match)
        {
            wire.Match[id] = index;
        }

        return wire;
    }

    private static RaftStatus StatusFromWire(W.RaftStatus w)
    {
        if (!Enum.IsDefined((RaftRole)w.Role))
        {
            throw new InvalidDataException($"unknown Raft role {w.Role}");
        }

        return new RaftStatus(w.NodeId, (RaftRole)w.Role, w.Term, w.Vote, w.Leader, w.Commit, w.Applied, w.LastIndex,
            new Dictionary<ulong, long>(w.Match), w.Recovering)
        {
            Voters = w.Voters.ToArray(),
            Learners = w.Learners.ToArray(),
            SnapshotIndex = w.SnapshotIndex,
            SnapshotTerm = w.SnapshotTerm,
            SnapshotBytes = w.SnapshotBytes,
            SnapshotTakenAt = w.HasSnapshotTakenAtUnixMs ? DateTimeOffset.FromUnixTimeMilliseconds(w.SnapshotTakenAtUnixMs).UtcDateTime : null,
            FirstLogIndex = w.FirstLogIndex == 0 ? 1 : w.FirstLogIndex,
        };
    }

    /// <summary>Wraps bytes without copying: they are written out at once by <c>ToByteArray</c>.</summary>
    private static ByteString Wrap(ReadOnlyMemory<byte> bytes) => UnsafeByteOperations.UnsafeWrap(bytes);
}
