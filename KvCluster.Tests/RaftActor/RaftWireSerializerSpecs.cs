using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Google.Protobuf;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;
using KvCluster.Raft.Serialization;

namespace KvCluster.Tests.RaftActor;

/// <summary>Every type <see cref="RaftWireSerializer"/> is bound to round-trips through Akka's serialization.</summary>
public sealed class RaftWireSerializerSpecs : RaftActorTestKit
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    public static TheoryData<object> Samples()
    {
        var ready = new ReadyWritten { TruncateFrom = 4, HardState = new HardStateChanged { Term = 3, Vote = 2, Commit = 5 } };
        ready.Entries.Add(new JournalEntry { Term = 3, Index = 4, Type = 0, Data = ByteString.CopyFromUtf8("put a 1") });
        ready.Entries.Add(new JournalEntry { Term = 3, Index = 5, Type = 1 });
        var appended = new EntriesAppended();
        appended.Entries.Add(new JournalEntry { Term = 1, Index = 1, Data = ByteString.CopyFromUtf8("x") });
        return new TheoryData<object>
        {
            new RequestVote(1, 2, 7, 100, 6, PreVote: true, LeadershipTransfer: false),
            new RequestVoteResult(2, 1, 8, PreVote: false, Granted: true),
            new AppendEntries(1, 2, 5, 9, 4, [new Entry(5, 10, EntryType.Normal, B("cmd")), new Entry(5, 11, EntryType.Empty, ReadOnlyMemory<byte>.Empty)], 8),
            new AppendEntriesResult(2, 1, 7, false, 50, 4, 31),
            new Heartbeat(1, 3, 9, 44, 12),
            new HeartbeatResult(3, 1, 9, 12),
            new ReadIndexRequest(3, 1, 9, ulong.MaxValue),
            new ReadIndexResult(1, 3, 9, 77, 1234),
            new TimeoutNow(1, 2, 9),
            new SnapshotChunk(1, 2, 9, 500, 8, 262_144, 1_000_000, B("chunk bytes")),
            new SnapshotChunkAck(2, 1, 9, 500, 262_155),
            ready,
            new ReadyWritten { ResetTo = new LogPoint { Index = 500, Term = 8 }, HardState = new HardStateChanged { Term = 9, Vote = 1, Commit = 500 } },
            new LogCompacted { CompactedTo = new LogPoint { Index = 400, Term = 7 }, HardState = new HardStateChanged { Term = 9, Vote = 1, Commit = 510 } },
            new HardStateChanged { Term = 9, Vote = 1, Commit = 3 },
            appended,
            new LogTruncated { FromIndex = 7 },
            new Propose(B("put k v")),
            new ProposeApplied(12, B("ok")),
            new NotLeader(3, "node 1 is not the leader"),
            new ProposeDropped("leadership changed", Indeterminate: true),
            new ReadIndex(B("get k")),
            new ReadIndexReply(15, B("v")),
            new LocalQuery(B("get k")),
            new LocalQueryReply(14, B("v")),
            new TransferLeadership(2),
            new TransferLeadershipStarted(1, 2),
            SyncHardState.Instance,
            HardStateSynced.Instance,
            GetRaftStatus.Instance,
            new RaftStatus(1, RaftRole.Leader, 4, 1, 1, 20, 19, 21, new Dictionary<ulong, long> { [2] = 21, [3] = 18 }, false) { Voters = [1, 2, 3], Learners = [4] },
            new AddMember(4),
            new RemoveMember(3),
            GetMembers.Instance,
            new Members([1, 2, 3], [4], 12, true, 1, false),
            new MembershipChanged(12, [1, 2, 3, 4], []),
            new MembershipChangeFailed(4, MembershipChangeFailure.CatchUpTimedOut, 0, "node 4 did not catch up"),
        };
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void RoundTrip_EveryBoundType_SameTypeAndSameBytesThroughAkkaSerialization(object message)
    {
        var serialization = Sys.Serialization;
        var serializer = serialization.FindSerializerFor(message);
        Assert.IsType<RaftWireSerializer>(serializer);
        Assert.Equal(7110, serializer.Identifier);

        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var bytes = serializer.ToBinary(message);
        var back = serialization.Deserialize(bytes, serializer.Identifier, manifest);

        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(bytes, serializer.ToBinary(back));
        if (message is IMessage || message is RaftMessage { } and not AppendEntries and not SnapshotChunk || message is TransferLeadership or AddMember or RemoveMember or NotLeader or ProposeDropped or SyncHardState or GetRaftStatus or GetMembers or HardStateSynced or TransferLeadershipStarted or MembershipChangeFailed)
        {
            Assert.Equal(message, back); // value equality where the record has no byte or list payload
        }
    }

    [Fact]
    public void BoundTypes_EveryPublicRequestAndAnswerOfTheRaftActor_IsBound()
    {
        var samples = ((IEnumerable<object[]>)Samples()).Select(row => row[0].GetType()).ToHashSet();

        Assert.All(RaftWireSerializer.BoundTypes.Where(t => !t.IsAbstract), t => Assert.Contains(t, samples));
    }

    [Fact]
    public void RoundTrip_Status_PreservesEveryField()
    {
        var status = new RaftStatus(1, RaftRole.Candidate, 4, 1, 0, 20, 19, 21, new Dictionary<ulong, long> { [2] = 21 }, true)
        {
            Voters = [1, 2, 3], Learners = [4], SnapshotIndex = 15, SnapshotTerm = 3, SnapshotBytes = 4096,
            SnapshotTakenAt = new DateTime(2026, 12, 6, 9, 0, 0, 123, DateTimeKind.Utc), FirstLogIndex = 11,
        };
        var serializer = (RaftWireSerializer)Sys.Serialization.FindSerializerFor(status);

        var back = (RaftStatus)serializer.FromBinary(serializer.ToBinary(status), serializer.Manifest(status));

        Assert.Equal((status.NodeId, status.Role, status.Term, status.Vote, status.Leader, status.Commit, status.Applied, status.LastIndex, status.Recovering),
            (back.NodeId, back.Role, back.Term, back.Vote, back.Leader, back.Commit, back.Applied, back.LastIndex, back.Recovering));
        Assert.Equal(status.Match, back.Match);
        Assert.Equal(status.Voters, back.Voters);
        Assert.Equal(status.Learners, back.Learners);
        Assert.Equal((status.SnapshotIndex, status.SnapshotTerm, status.SnapshotBytes, status.SnapshotTakenAt, status.FirstLogIndex),
            (back.SnapshotIndex, back.SnapshotTerm, back.SnapshotBytes, back.SnapshotTakenAt, back.FirstLogIndex));
    }

    [Fact]
    public void FromBinary_ChunkRunningPastItsSnapshot_ThrowsSerializationException()
    {
        var serializer = new RaftWireSerializer((ExtendedActorSystem)Sys);
        var bytes = serializer.ToBinary(new SnapshotChunk(1, 2, 9, 500, 8, 100, 105, B("ten bytes!")));

        var error = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes, RaftWireSerializer.RaftMessageManifest));

        Assert.Contains("run past", error.Message);
    }

    [Fact]
    public void FromBinary_UnknownManifest_ThrowsSerializationExceptionNamingIt()
    {
        var serializer = new RaftWireSerializer((ExtendedActorSystem)Sys);

        var error = Assert.Throws<SerializationException>(() => serializer.FromBinary([1, 2, 3], "raft.from-the-future.v9"));

        Assert.Contains("raft.from-the-future.v9", error.Message);
    }

    [Fact]
    public void FromBinary_GarbagePeerMessage_ThrowsSerializationException()
    {
        var serializer = new RaftWireSerializer((ExtendedActorSystem)Sys);

        Assert.Throws<SerializationException>(() => serializer.FromBinary([0xFF, 0xFF, 0xFF], RaftWireSerializer.RaftMessageManifest));
    }

    [Fact]
    public void Config_BindsTheSerializerUnderItsFixedId()
    {
        Assert.Equal(7110, RaftWireSerializer.Config.GetInt($"akka.actor.serialization-identifiers.\"{typeof(RaftWireSerializer).FullName}, KvCluster.Raft\""));
    }
}
