using System.Security.Cryptography;
using Google.Protobuf;
using KvCluster.Client.Snapshots;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Kv;

/// <summary>
/// The state of a <see cref="KvStateMachine"/> at one applied index, captured cheaply on the owner's turn
/// (<see cref="KvStateMachine.CaptureSnapshot"/>) and serialized later, on any thread, while the store goes on applying.
/// <para>
/// Why that is safe: the capture copies, per stored key, a reference to the key, the key's newest version (a small
/// struct) and a reference to its list of older versions with that list's length at the time. Keys and values are
/// immutable <see cref="ByteString"/>s; a key's older-version list is only ever appended to (compaction replaces the
/// list instead of shrinking it, see <see cref="KvKeyHistory"/>), so the prefix the capture counted never changes.
/// Cost on the owner's turn: one pass over the sorted index (so the keys are captured in key order) and one array of
/// 64 bytes per key (no value is copied); encoding happens in <see cref="Serialize"/>.
/// </para>
/// </summary>
public sealed class KvSnapshotCapture : IStateMachineSnapshot
{
    private readonly KvCapturedKey[] _keys;
    private readonly IReadOnlyList<KvSnapshotSectionCapture> _extraSections;

    internal KvSnapshotCapture(long appliedIndex, long revision, long compactRevision, KvCapturedKey[] keys, int liveKeys, IReadOnlyList<KvSnapshotSectionCapture> extraSections)
    {
        AppliedIndex = appliedIndex;
        Revision = revision;
        CompactRevision = compactRevision;
        _keys = keys;
        LiveKeys = liveKeys;
        _extraSections = extraSections;
    }

    /// <summary>The Raft index of the last entry the captured state reflects.</summary>
    public long AppliedIndex { get; }

    /// <summary>The store revision captured.</summary>
    public long Revision { get; }

    /// <summary>The compaction point captured (<see cref="KvStateMachine.NotCompacted"/> when none).</summary>
    public long CompactRevision { get; }

    /// <summary>Keys stored (live ones and those whose newest version is a tombstone).</summary>
    public int StoredKeys => _keys.Length;

    /// <summary>Keys that existed at the captured revision.</summary>
    public int LiveKeys { get; }

    /// <summary>
    /// Encodes the capture as a snapshot image (<see cref="KvSnapshotEnvelope"/>, format 3) into a new array the caller
    /// owns; <see cref="KvStateMachine.Restore"/> reads it. Deterministic: replicas that applied the same log give equal
    /// bytes. Thread-safe; may run while the store applies more entries.
    /// </summary>
    /// <exception cref="InvalidOperationException">The image would exceed 2 GiB (one array).</exception>
    public byte[] Serialize()
    {
        AssertKeyOrder();
        var head = new System.Buffers.ArrayBufferWriter<byte>(64);
        KvSnapshotEnvelope.WriteHead(head, AppliedIndex, Revision, CompactRevision, 1 + _extraSections.Count);
        var keysLength = KeysSectionLength();
        long total = head.WrittenCount + SectionHeadLength(KvSnapshotSection.Keys, keysLength) + keysLength + KvSnapshotEnvelope.DigestBytes;
        foreach (var section in _extraSections)
        {
            total += SectionHeadLength(section.Type, section.Length) + section.Length;
        }

        if (total > Array.MaxLength)
        {
            throw new InvalidOperationException($"The snapshot at index {AppliedIndex} would be {total} bytes, more than one array holds ({Array.MaxLength}).");
        }

        var image = new byte[total];
        var writer = new KvSnapshotSpanWriter(image);
        writer.WriteBytes(head.WrittenSpan);
        writer.WriteVarint((ulong)KvSnapshotSection.Keys);
        writer.WriteVarint((ulong)keysLength);
        WriteKeys(ref writer);
        foreach (var section in _extraSections)
        {
            writer.WriteVarint((ulong)section.Type);
            writer.WriteVarint((ulong)section.Length);
            var start = writer.Position;
            section.Write(ref writer);
            if (writer.Position - start != section.Length)
            {
                throw new InvalidOperationException($"Snapshot section {section.Type} wrote {writer.Position - start} bytes, not the {section.Length} it announced.");
            }
        }

        SHA256.HashData(image.AsSpan(0, writer.Position), image.AsSpan(writer.Position, KvSnapshotEnvelope.DigestBytes));
        return image;
    }

    /// <summary>Debug builds: the keys were captured in strictly ascending key order (the image's rule).</summary>
    [System.Diagnostics.Conditional("DEBUG")]
    private void AssertKeyOrder()
    {
        for (var i = 1; i < _keys.Length; i++)
        {
            System.Diagnostics.Debug.Assert(
                KvKeyOrder.Compare(_keys[i - 1].Key.Span, _keys[i].Key.Span) < 0, "Captured keys are in strictly ascending key order.");
        }
    }

    private static long SectionHeadLength(KvSnapshotSection type, long length) =>
        KvSnapshotSpanWriter.VarintLength((ulong)type) + KvSnapshotSpanWriter.VarintLength((ulong)length);

    /// <summary>The exact length of the keys section (see <see cref="KvStateMachine.Restore"/> for its layout).</summary>
    private long KeysSectionLength()
    {
        long length = KvSnapshotSpanWriter.VarintLength((ulong)_keys.Length);
        foreach (ref readonly var key in _keys.AsSpan())
        {
            length += KvSnapshotSpanWriter.VarintLength((ulong)key.Key.Length) + key.Key.Length;
            length += KvSnapshotSpanWriter.VarintLength((ulong)(key.OlderCount + 1));
            for (var i = 0; i < key.OlderCount; i++)
            {
                length += VersionLength(key.Older![i]);
            }

            length += VersionLength(key.Latest);
        }

        return length;
    }

    private static long VersionLength(in KvVersion version)
    {
        long length = KvSnapshotSpanWriter.VarintLength((ulong)version.ModRevision) + 1;
        if (!version.IsTombstone)
        {
            length += KvSnapshotSpanWriter.VarintLength((ulong)version.CreateRevision)
                + KvSnapshotSpanWriter.VarintLength((ulong)version.Version)
                + KvSnapshotSpanWriter.VarintLength((ulong)version.Lease)
                + KvSnapshotSpanWriter.VarintLength((ulong)version.Value!.Length)
                + version.Value.Length;
        }

        return length;
    }

    private void WriteKeys(ref KvSnapshotSpanWriter writer)
    {
        writer.WriteVarint((ulong)_keys.Length);
        foreach (ref readonly var key in _keys.AsSpan())
        {
            writer.WriteVarint((ulong)key.Key.Length);
            writer.WriteBytes(key.Key.Span);
            writer.WriteVarint((ulong)(key.OlderCount + 1));
            for (var i = 0; i < key.OlderCount; i++)
            {
                WriteVersion(ref writer, key.Older![i]);
            }

            WriteVersion(ref writer, key.Latest);
        }
    }

    private static void WriteVersion(ref KvSnapshotSpanWriter writer, in KvVersion version)
    {
        writer.WriteVarint((ulong)version.ModRevision);
        if (version.IsTombstone)
        {
            writer.WriteByte(KvStateMachine.TombstoneFlag);
            return;
        }

        writer.WriteByte(KvStateMachine.PutFlag);
        writer.WriteVarint((ulong)version.CreateRevision);
        writer.WriteVarint((ulong)version.Version);
        writer.WriteVarint((ulong)version.Lease);
        writer.WriteVarint((ulong)version.Value!.Length);
        writer.WriteBytes(version.Value.Span);
    }
}

/// <summary>
/// One key as captured: its newest version, and the first <paramref name="OlderCount"/> entries of its older-version
/// list (which is only ever appended to).
/// </summary>
internal readonly record struct KvCapturedKey(ByteString Key, List<KvVersion>? Older, int OlderCount, KvVersion Latest);

/// <summary>
/// A section other than the keys (the lease table, for instance) as captured on the owner's turn: it knows its exact
/// encoded length and writes exactly that many bytes, on the serializing thread.
/// </summary>
internal abstract class KvSnapshotSectionCapture
{
    /// <summary>The section's type.</summary>
    public abstract KvSnapshotSection Type { get; }

    /// <summary>The exact number of bytes <see cref="Write"/> writes.</summary>
    public abstract long Length { get; }

    /// <summary>Writes the section's bytes.</summary>
    public abstract void Write(ref KvSnapshotSpanWriter writer);
}

/// <summary>Writes varints and bytes into an array sized in advance.</summary>
internal ref struct KvSnapshotSpanWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    /// <summary>Writes into <paramref name="buffer"/> from its start.</summary>
    public KvSnapshotSpanWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Position => _position;

    /// <summary>The encoded length of <paramref name="value"/> as an unsigned LEB128 varint.</summary>
    public static int VarintLength(ulong value)
    {
        var n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }

        return n;
    }

    /// <summary>Appends an unsigned LEB128 varint.</summary>
    public void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer[_position++] = (byte)(value | 0x80);
            value >>= 7;
        }

        _buffer[_position++] = (byte)value;
    }

    /// <summary>Appends one byte.</summary>
    public void WriteByte(byte value) => _buffer[_position++] = value;

    /// <summary>Appends <paramref name="bytes"/>.</summary>
    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[_position..]);
        _position += bytes.Length;
    }
}
