using System.Buffers;
using KvCluster.Client.Snapshots;
using Google.Protobuf;
using KvCluster.Node.Kv;
using KvCluster.Client.Protocol;
using static KvCluster.Tests.Kv.KvCommands;

namespace KvCluster.Tests.Kv;

public sealed class KvSnapshotSpecs
{
    [Fact]
    public void Restore_Snapshot_RoundTripsStateAndMetadata()
    {
        var source = Populated(seed: 1, commands: 300, out _);
        var snapshot = source.Snapshot();
        var target = new KvStateMachine();

        target.Restore(snapshot);

        Assert.Equal(source.AppliedIndex, target.AppliedIndex);
        Assert.Equal(source.Revision, target.Revision);
        Assert.Equal(source.Count, target.Count);
        Assert.Equal(Dump(source), Dump(target));
        Assert.Equal(snapshot, target.Snapshot());
    }

    [Fact]
    public void Restore_ThenApply_BehavesLikeTheSource()
    {
        var source = Populated(seed: 2, commands: 200, out var next);
        var target = new KvStateMachine();
        target.Restore(source.Snapshot());
        var commands = RandomCommands(seed: 3, count: 100);

        foreach (var command in commands)
        {
            var expected = source.Apply(next, command);
            var actual = target.Apply(next, command);
            Assert.Equal(expected, actual);
            next++;
        }

        Assert.Equal(source.Snapshot(), target.Snapshot());
    }

    [Fact]
    public void Snapshot_TwoInstancesSameCommands_AreByteIdentical()
    {
        var first = Populated(seed: 4, commands: 500, out _);
        var second = Populated(seed: 4, commands: 500, out _);

        Assert.Equal(first.Snapshot(), second.Snapshot());
    }

    [Fact]
    public void Snapshot_KeysWrittenOutOfOrder_RestoresInUnsignedByteOrder()
    {
        // The capture takes keys from the sorted index (no sort afterwards); Restore refuses keys out of order.
        var source = new KvStateMachine();
        ByteString[] keys = [B(0xff), B("b"), B(0x80, 0x01), B("A"), B("a"), B(0x7f)];
        var index = 1L;
        foreach (var key in keys)
        {
            source.Apply(index++, Put(key, B("v")));
        }

        var target = new KvStateMachine();
        target.Restore(source.Snapshot());

        var all = target.Range(Interval(B(0x00), B(0xff, 0xff)));
        Assert.Equal(
            keys.Select(k => k.ToByteArray()).OrderBy(k => k, Comparer<byte[]>.Create((x, y) => x.AsSpan().SequenceCompareTo(y))).ToArray(),
            all.Range.Kvs.Select(kv => kv.Key.ToByteArray()).ToArray());
        Assert.Equal(source.Snapshot(), target.Snapshot());
    }

    [Fact]
    public void Snapshot_DifferentCommands_Differ()
    {
        var first = Populated(seed: 4, commands: 500, out _);
        var second = Populated(seed: 5, commands: 500, out _);

        Assert.NotEqual(first.Snapshot(), second.Snapshot());
    }

    [Fact]
    public void Restore_EmptyStoreSnapshot_GivesEmptyStore()
    {
        var target = Populated(seed: 6, commands: 10, out _);

        target.Restore(new KvStateMachine().Snapshot());

        Assert.Equal(0, target.Count);
        Assert.Equal(0L, target.AppliedIndex);
    }

    [Fact]
    public void Restore_FlippedByte_ThrowsCorruptedAndKeepsState()
    {
        var snapshot = Populated(seed: 7, commands: 50, out _).Snapshot();
        snapshot[snapshot.Length / 2] ^= 0x40;
        var target = Populated(seed: 8, commands: 20, out _);
        var before = target.Snapshot();

        var error = Assert.Throws<KvSnapshotFormatException>(() => target.Restore(snapshot));

        Assert.Contains("corrupted", error.Message);
        Assert.Equal(before, target.Snapshot());
    }

    [Fact]
    public void Restore_Truncated_ThrowsCorrupted()
    {
        var snapshot = Populated(seed: 9, commands: 50, out _).Snapshot();

        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(snapshot.AsSpan(0, snapshot.Length - 5)));

        Assert.Contains("corrupted", error.Message);
    }

    [Fact]
    public void Restore_NotASnapshot_ThrowsMissingMagic()
    {
        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(new byte[64]));

        Assert.Contains("magic", error.Message);
    }

    [Fact]
    public void Restore_TooShort_Throws()
    {
        Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore("AKVS"u8));
    }

    [Fact]
    public void Restore_UnknownFormatVersion_ThrowsNamingVersion()
    {
        var snapshot = new KvStateMachine().Snapshot();
        snapshot[4] = 9;

        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(snapshot));

        Assert.Contains("format version 9", error.Message);
    }

    internal static KvStateMachine Populated(int seed, int commands, out long nextIndex)
    {
        var store = new KvStateMachine();
        long index = 1;
        foreach (var command in RandomCommands(seed, commands))
        {
            store.Apply(index, command);
            index += 1 + (index % 3 == 0 ? 1L : 0L);
        }

        nextIndex = index;
        return store;
    }

    internal static List<KvCommand> RandomCommands(int seed, int count)
    {
        var random = new Random(seed);
        var commands = new List<KvCommand>(count);
        for (var i = 0; i < count; i++)
        {
            var key = $"k{random.Next(40):D2}";
            commands.Add(random.Next(10) switch
            {
                < 6 => Put(key, $"v{random.Next(1000)}"),
                6 => Put(key, "cas", expected: (long)random.Next(0, 50)),
                7 => Delete(key),
                8 => DeleteRange($"k{random.Next(4)}"),
                _ => Get(key),
            });
        }

        return commands;
    }

    private static List<string> Dump(KvStateMachine store) =>
        store.Range(Interval(ByteString.Empty, ByteString.Empty)).Range.Kvs.Select(kv => kv.ToString()).ToList();
}

/// <summary>Format 3's sections: unknown, duplicated or missing sections are refused with a message naming them.</summary>
public sealed class KvSnapshotSectionSpecs
{
    [Fact]
    public void Restore_UnknownSectionType_IsRefusedNamingTheType()
    {
        var image = WithSections((KvSnapshotSection.Keys, EmptyKeys()), ((KvSnapshotSection)77, [1, 2, 3]));

        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(image));

        Assert.Contains("unknown type 77", error.Message);
    }

    [Fact]
    public void Restore_LeaseSection_RestoresTheLeases_AndAnImpossibleLeaseIsRefused()
    {
        var image = WithSections((KvSnapshotSection.Keys, EmptyKeys()), (KvSnapshotSection.Leases, [1, 7, 10]));
        var bad = WithSections((KvSnapshotSection.Keys, EmptyKeys()), (KvSnapshotSection.Leases, [1, 0, 10]));
        var store = new KvStateMachine();

        store.Restore(image);
        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(bad));

        Assert.True(store.HasLease(7));
        Assert.Contains("Lease 0", error.Message);
    }

    [Fact]
    public void Restore_TwoKeysSections_IsRefused()
    {
        var image = WithSections((KvSnapshotSection.Keys, EmptyKeys()), (KvSnapshotSection.Keys, EmptyKeys()));

        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(image));

        Assert.Contains("two keys sections", error.Message);
    }

    [Fact]
    public void Restore_NoKeysSection_IsRefused()
    {
        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(WithSections()));

        Assert.Contains("no keys section", error.Message);
    }

    [Fact]
    public void Restore_Format2_IsRefusedNamingTheVersion()
    {
        var image = new KvStateMachine().Snapshot();
        image[4] = 2;

        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(image));

        Assert.Contains("format version 2", error.Message);
    }

    [Fact]
    public void Restore_SectionLongerThanTheImage_IsRefused()
    {
        var writer = new ArrayBufferWriter<byte>();
        KvSnapshotEnvelope.WriteHead(writer, 0, 1, -1, 1);
        KvSnapshotEnvelope.WriteVarint(writer, (ulong)KvSnapshotSection.Keys);
        KvSnapshotEnvelope.WriteVarint(writer, 500);
        writer.Write(EmptyKeys());

        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(KvSnapshotEnvelope.Finish(writer)));

        Assert.Contains("claims 500 bytes", error.Message);
    }

    private static byte[] EmptyKeys() => [0];

    internal static byte[] WithSections(params (KvSnapshotSection Type, byte[] Bytes)[] sections)
    {
        var writer = new ArrayBufferWriter<byte>();
        KvSnapshotEnvelope.WriteHead(writer, 0, 1, -1, sections.Length);
        foreach (var (type, bytes) in sections)
        {
            KvSnapshotEnvelope.WriteVarint(writer, (ulong)type);
            KvSnapshotEnvelope.WriteVarint(writer, (ulong)bytes.Length);
            writer.Write(bytes);
        }

        return KvSnapshotEnvelope.Finish(writer);
    }
}
