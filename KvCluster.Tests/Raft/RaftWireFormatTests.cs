using Google.Protobuf;
using KvCluster.Raft.Core;
using KvCluster.Raft.Protos;
using W = KvCluster.Raft.Protos.Wire;

namespace KvCluster.Tests.Raft;

public sealed class RaftWireFormatTests
{
    public static TheoryData<RaftMessage> SimpleMessages => new()
    {
        new RequestVote(1, 2, 7, 100, 6, PreVote: true, LeadershipTransfer: false),
        new RequestVote(1, 2, 7, 100, 6, PreVote: false, LeadershipTransfer: true),
        new RequestVoteResult(2, 1, 8, PreVote: true, Granted: true),
        new AppendEntriesResult(2, 1, 7, false, 50, 4, 31),
        new AppendEntriesResult(2, 1, 7, true, 51, 0, 0),
        new Heartbeat(1, 3, 9, 44, 12),
        new HeartbeatResult(3, 1, 9, 12),
        new ReadIndexRequest(3, 1, 9, ulong.MaxValue),
        new ReadIndexResult(1, 3, 9, 77, 1234),
        new TimeoutNow(1, 2, 9),
    };

    [Theory]
    [MemberData(nameof(SimpleMessages))]
    public void RoundTrip_EveryMessageKind_PreservesAllFields(RaftMessage message)
    {
        var decoded = RaftWireFormat.Deserialize(RaftWireFormat.Serialize(message));

        Assert.Equal(message, decoded);
    }

    [Fact]
    public void RoundTrip_AppendEntriesWithEntries_PreservesEntriesAndPayloads()
    {
        var message = new AppendEntries(1, 2, 5, 9, 4, [
            new Entry(5, 10, EntryType.Empty, ReadOnlyMemory<byte>.Empty),
            new Entry(5, 11, EntryType.Normal, new byte[] { 0, 1, 2, 255 }),
        ], 8);

        var decoded = Assert.IsType<AppendEntries>(RaftWireFormat.Deserialize(RaftWireFormat.Serialize(message)));

        Assert.Equal((message.From, message.To, message.Term, message.PrevLogIndex, message.PrevLogTerm, message.LeaderCommit),
            (decoded.From, decoded.To, decoded.Term, decoded.PrevLogIndex, decoded.PrevLogTerm, decoded.LeaderCommit));
        Assert.Equal(2, decoded.Entries.Count);
        Assert.All(message.Entries.Zip(decoded.Entries), p => Assert.True(p.Item1.SameAs(p.Item2)));
    }

    [Fact]
    public void RoundTrip_HardState_PreservesFields()
    {
        var state = new HardState(12, 3, 99);

        Assert.Equal(state, RaftWireFormat.FromWire(W.HardState.Parser.ParseFrom(RaftWireFormat.ToWire(state).ToByteArray())));
    }

    [Fact]
    public void Deserialize_GarbageBytes_ThrowsInvalidData()
    {
        var ex = Assert.Throws<InvalidDataException>(() => RaftWireFormat.Deserialize(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F }));

        Assert.Contains("Not a valid Raft message", ex.Message);
    }

    [Fact]
    public void Deserialize_MessageWithoutBody_ThrowsNamingIt()
    {
        var bytes = new W.RaftMessage { From = 1, To = 2, Term = 3 }.ToByteArray();

        var ex = Assert.Throws<InvalidDataException>(() => RaftWireFormat.Deserialize(bytes));

        Assert.Contains("no body", ex.Message);
    }

    [Fact]
    public void FromWire_NonConsecutiveEntries_ThrowsNamingIt()
    {
        var wire = RaftWireFormat.ToWire(new AppendEntries(1, 2, 5, 9, 4, [new Entry(5, 10, EntryType.Normal, new byte[] { 1 })], 8));
        wire.AppendEntries.Entries[0].Index = 12;

        var ex = Assert.Throws<InvalidDataException>(() => RaftWireFormat.FromWire(wire));

        Assert.Contains("expected 10", ex.Message);
    }

    [Fact]
    public void FromWire_TermBeyondInt64_ThrowsNamingTheField()
    {
        var wire = RaftWireFormat.ToWire(new TimeoutNow(1, 2, 3));
        wire.Term = ulong.MaxValue;

        var ex = Assert.Throws<InvalidDataException>(() => RaftWireFormat.FromWire(wire));

        Assert.Contains("term", ex.Message);
    }
}
