using Google.Protobuf;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;
using KvCluster.Raft.Protos;
using W = KvCluster.Raft.Protos.Wire;

namespace KvCluster.Tests.Raft;

/// <summary>Configuration-change entries in the core codec, the wire form and the journal form.</summary>
public sealed class ConfigChangeFormatTests
{
    private static readonly Membership Sample = new([1, 2, 3], [4, 300]);

    [Fact]
    public void Encode_ThenGeneratedParser_ReadsSameChangeAndConfiguration()
    {
        var bytes = ConfigChangeCodec.Encode(ConfigChange.AddLearner(300), Sample);

        var wire = W.ConfigChangeEntry.Parser.ParseFrom(bytes);

        Assert.Equal(W.ConfigChangeType.AddLearner, wire.Type);
        Assert.Equal(300UL, wire.NodeId);
        Assert.Equal(new ulong[] { 1, 2, 3 }, wire.Voters);
        Assert.Equal(new ulong[] { 4, 300 }, wire.Learners);
    }

    [Fact]
    public void Decode_BytesOfGeneratedType_ReadsSameChangeAndConfiguration()
    {
        var wire = new W.ConfigChangeEntry { Type = W.ConfigChangeType.RemoveServer, NodeId = 2 };
        wire.Voters.Add([1, 3]);

        var (change, result) = ConfigChangeCodec.Decode(wire.ToByteArray());

        Assert.Equal(ConfigChange.RemoveServer(2), change);
        Assert.Equal(new ulong[] { 1, 3 }, result.Voters);
        Assert.Empty(result.Learners);
    }

    [Theory]
    [InlineData(new byte[] { 0xff, 0xff })]
    [InlineData(new byte[] { 0x08, 0x09, 0x10, 0x01 })] // unknown change type 9
    [InlineData(new byte[] { 0x08, 0x01 })] // node id missing (0)
    [InlineData(new byte[] { 0x08, 0x01, 0x10, 0x01, 0x1a, 0x02, 0x01, 0x01 })] // voter 1 listed twice
    public void Decode_InvalidBytes_ThrowsInvalidDataException(byte[] bytes)
    {
        Assert.Throws<InvalidDataException>(() => ConfigChangeCodec.Decode(bytes));
    }

    [Fact]
    public void WireRoundTrip_ConfigChangeEntry_PreservesTypeAndData()
    {
        var entry = new Entry(3, 7, EntryType.ConfigChange, ConfigChangeCodec.Encode(ConfigChange.PromoteLearner(4), new Membership([1, 2, 3, 4], [])));
        var message = new AppendEntries(1, 2, 3, 6, 3, [entry], 6);

        var decoded = (AppendEntries)RaftWireFormat.Deserialize(RaftWireFormat.Serialize(message));

        Assert.True(decoded.Entries[0].SameAs(entry));
        Assert.Equal(W.EntryType.ConfigChange, RaftWireFormat.ToWire(entry).Type);
    }

    [Fact]
    public void WireFromWire_ConfigChangeWithBadData_ThrowsInvalidDataException()
    {
        var wire = new W.Entry { Term = 1, Index = 1, Type = W.EntryType.ConfigChange, Data = ByteString.CopyFrom(0xff) };

        Assert.Throws<InvalidDataException>(() => RaftWireFormat.FromWire(wire));
    }

    [Fact]
    public void JournalReplay_EntryWithoutTypeField_IsNormalEntry()
    {
        // A journal written before configuration changes existed: type 0 is never written by protobuf, so it is absent.
        var appended = new EntriesAppended();
        appended.Entries.Add(new JournalEntry { Term = 1, Index = 1, Data = ByteString.CopyFromUtf8("put a") });
        var bytes = appended.ToByteArray();
        var log = new StoredLog();
        var hs = HardState.Empty;

        RaftJournalCodec.Replay(EntriesAppended.Parser.ParseFrom(bytes), 1, "raft-1", ref hs, log);

        Assert.Equal(EntryType.Normal, Assert.Single(log.All).Type);
    }

    [Fact]
    public void JournalRoundTrip_ConfigChangeEntry_ReplaysAsConfigChange()
    {
        var entry = new Entry(2, 1, EntryType.ConfigChange, ConfigChangeCodec.Encode(ConfigChange.AddLearner(4), new Membership([1, 2, 3], [4])));
        var written = RaftJournalCodec.ToEvent(null, [entry], null);
        var log = new StoredLog();
        var hs = HardState.Empty;

        RaftJournalCodec.Replay(ReadyWritten.Parser.ParseFrom(written.ToByteArray()), 1, "raft-1", ref hs, log);

        Assert.True(Assert.Single(log.All).SameAs(entry));
    }

    [Fact]
    public void JournalReplay_UnknownEntryType_ThrowsNamingTheEvent()
    {
        var appended = new EntriesAppended();
        appended.Entries.Add(new JournalEntry { Term = 1, Index = 1, Type = 42 });
        var log = new StoredLog();
        var hs = HardState.Empty;

        var ex = Assert.Throws<InvalidDataException>(() =>
            RaftJournalCodec.Replay(EntriesAppended.Parser.ParseFrom(appended.ToByteArray()), 5, "raft-1", ref hs, log));

        Assert.Contains("Event 5", ex.Message);
    }

    [Fact]
    public void Membership_TryApplyPromote_MovesLearnerToVoters()
    {
        var error = Sample.TryApply(ConfigChange.PromoteLearner(4), out var next);

        Assert.Null(error);
        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, next!.Voters);
        Assert.Equal(new ulong[] { 300 }, next.Learners);
    }

    [Fact]
    public void AddLearnerToPromote_IsCarriedByTheEntryAndEndsWithPromotionOrRemoval()
    {
        var added = Apply(new Membership([1, 2, 3], []), ConfigChange.AddLearner(4, promoteWhenCaughtUp: true));
        Assert.Equal(new ulong[] { 4 }, added.Learners);
        Assert.Equal(new ulong[] { 4 }, added.Promoting);
        Assert.Contains("4 to be promoted", added.ToString(), StringComparison.Ordinal);

        var staying = Apply(added, ConfigChange.AddLearner(5));
        Assert.Equal(new ulong[] { 4, 5 }, staying.Learners);
        Assert.Equal(new ulong[] { 4 }, staying.Promoting);

        var bytes = ConfigChangeCodec.Encode(ConfigChange.AddLearner(4, promoteWhenCaughtUp: true), added);
        var wire = W.ConfigChangeEntry.Parser.ParseFrom(bytes);
        Assert.True(wire.PromoteWhenCaughtUp);
        Assert.Equal(new ulong[] { 4 }, wire.Promoting);
        var (change, decoded) = ConfigChangeCodec.Decode(bytes);
        Assert.Equal(ConfigChange.AddLearner(4, promoteWhenCaughtUp: true), change);
        Assert.Equal(new ulong[] { 4 }, decoded.Promoting);

        Assert.Empty(Apply(staying, ConfigChange.PromoteLearner(4)).Promoting);
        Assert.Empty(Apply(staying, ConfigChange.RemoveServer(4)).Promoting);
    }

    [Fact]
    public void Decode_AnEntryWrittenBeforePromotingExisted_HasNoPromotingLearner()
    {
        var wire = new W.ConfigChangeEntry { Type = W.ConfigChangeType.AddLearner, NodeId = 4 };
        wire.Voters.Add([1, 2, 3]);
        wire.Learners.Add(4);

        var (change, result) = ConfigChangeCodec.Decode(wire.ToByteArray());

        Assert.False(change.PromoteWhenCaughtUp);
        Assert.Equal(new ulong[] { 4 }, result.Learners);
        Assert.Empty(result.Promoting);
    }

    [Fact]
    public void Decode_APromotingIdThatIsNotALearner_ThrowsInvalidDataException()
    {
        var wire = new W.ConfigChangeEntry { Type = W.ConfigChangeType.AddLearner, NodeId = 4 };
        wire.Voters.Add([1, 2, 3]);
        wire.Learners.Add(4);
        wire.Promoting.Add(2);

        var error = Assert.Throws<InvalidDataException>(() => ConfigChangeCodec.Decode(wire.ToByteArray()));
        Assert.Contains("Node 2 is marked for promotion but is not a learner", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SnapshotEnvelope_KeepsThePromotingLearners()
    {
        var membership = new Membership([1, 2, 3], [4, 5], [5]);
        var envelope = RaftSnapshotEnvelope.Encode(new SnapshotMetadata(10, 2, membership, 9), DateTime.UtcNow, [1, 2, 3]);

        var decoded = RaftSnapshotEnvelope.Decode(envelope).Metadata.Membership;

        Assert.Equal(new ulong[] { 4, 5 }, decoded.Learners);
        Assert.Equal(new ulong[] { 5 }, decoded.Promoting);
    }

    private static Membership Apply(Membership from, ConfigChange change)
    {
        Assert.Null(from.TryApply(change, out var next));
        return next!;
    }
}
