using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Google.Protobuf;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>The first four bytes of every snapshot: "AKVS".</summary>
    internal static ReadOnlySpan<byte> SnapshotMagic => "AKVS"u8;

    /// <summary>The snapshot format this build writes and reads.</summary>
    internal const ushort SnapshotFormatVersion = 1;

    private const int DigestBytes = 32;

    /// <summary>
    /// Serializes the whole store into a new array the caller owns. Layout (all integers unsigned
    /// LEB128 varints unless noted): magic "AKVS"; format version (u16 little-endian); applied
    /// index; revision; entry count; then per entry in key order: key length, key, value length,
    /// value, create index, mod index, version; finally the SHA-256 of every preceding byte.
    /// Deterministic: equal stores give equal bytes.
    /// </summary>
    public byte[] Snapshot()
    {
        var writer = new ArrayBufferWriter<byte>(64 + (_sorted.Count * 32));
        writer.Write(SnapshotMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(writer.GetSpan(2), SnapshotFormatVersion);
        writer.Advance(2);
        WriteVarint(writer, AppliedIndex);
        WriteVarint(writer, Revision);
        WriteVarint(writer, (long)_sorted.Count);
        foreach (var entry in _sorted)
        {
            WriteVarint(writer, (long)entry.Key.Length);
            writer.Write(entry.Key.Span);
            WriteVarint(writer, (long)entry.Value.Length);
            writer.Write(entry.Value.Span);
            WriteVarint(writer, entry.CreateIndex);
            WriteVarint(writer, entry.ModIndex);
            WriteVarint(writer, entry.Version);
        }

        SHA256.HashData(writer.WrittenSpan, writer.GetSpan(DigestBytes));
        writer.Advance(DigestBytes);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Replaces the whole store with the one in <paramref name="snapshot"/> (from
    /// <see cref="Snapshot"/>, possibly on another node). All or nothing: when the snapshot is
    /// rejected the store is unchanged.
    /// </summary>
    /// <exception cref="KvSnapshotFormatException">
    /// The bytes are not a snapshot, are truncated or corrupted (digest mismatch), use an unknown
    /// format version, or describe an impossible store; the message says which and where.
    /// </exception>
    public void Restore(ReadOnlySpan<byte> snapshot)
    {
        var headerLength = SnapshotMagic.Length + 2;
        if (snapshot.Length < headerLength + 3 + DigestBytes)
        {
            throw new KvSnapshotFormatException(
                $"The snapshot is {snapshot.Length} bytes, shorter than the smallest possible snapshot ({headerLength + DigestBytes + 3} bytes).");
        }

        if (!snapshot.StartsWith(SnapshotMagic))
        {
            throw new KvSnapshotFormatException("The bytes are not a KV snapshot: the magic \"AKVS\" is missing.");
        }

        var format = BinaryPrimitives.ReadUInt16LittleEndian(snapshot[SnapshotMagic.Length..]);
        if (format != SnapshotFormatVersion)
        {
            throw new KvSnapshotFormatException(
                $"The snapshot uses format version {format}; this build reads only version {SnapshotFormatVersion}.");
        }

        var body = snapshot[..^DigestBytes];
        Span<byte> digest = stackalloc byte[DigestBytes];
        SHA256.HashData(body, digest);
        if (!digest.SequenceEqual(snapshot[^DigestBytes..]))
        {
            throw new KvSnapshotFormatException(
                $"The snapshot is corrupted: its SHA-256 digest does not match its {body.Length} bytes of content.");
        }

        var reader = new SnapshotReader(body, headerLength);
        var appliedIndex = reader.ReadVarint("applied index");
        var revision = reader.ReadVarint("revision");
        var count = reader.ReadVarint("entry count");
        if (revision > appliedIndex)
        {
            throw new KvSnapshotFormatException($"The snapshot's revision {revision} is above its applied index {appliedIndex}.");
        }

        var byKey = new Dictionary<ByteString, KvEntry>(KvKeyEqualityComparer.Instance);
        var sorted = new SortedSet<KvEntry>(KvEntryKeyComparer.Instance);
        KvEntry? previous = null;
        for (long i = 0; i < count; i++)
        {
            var key = ByteString.CopyFrom(reader.ReadBytes("key", i));
            var value = ByteString.CopyFrom(reader.ReadBytes("value", i));
            var entry = new KvEntry(
                key, value, reader.ReadVarint("create index", i), reader.ReadVarint("mod index", i), reader.ReadVarint("version", i));
            if (key.IsEmpty || entry.CreateIndex == 0 || entry.CreateIndex > entry.ModIndex || entry.ModIndex > revision || entry.Version == 0)
            {
                throw new KvSnapshotFormatException(
                    $"Entry {i} (key {KvKeyOrder.Describe(key.Span)}) is impossible: create index {entry.CreateIndex}, " +
                    $"mod index {entry.ModIndex}, version {entry.Version}, store revision {revision}.");
            }

            if (previous is not null && KvEntryKeyComparer.Instance.Compare(previous, entry) >= 0)
            {
                throw new KvSnapshotFormatException(
                    $"Entry {i} (key {KvKeyOrder.Describe(key.Span)}) is out of order; snapshot keys are strictly ascending.");
            }

            byKey.Add(key, entry);
            sorted.Add(entry);
            previous = entry;
        }

        if (!reader.AtEnd)
        {
            throw new KvSnapshotFormatException(
                $"The snapshot has {reader.Remaining} unexpected bytes after its {count} entries.");
        }

        _byKey = byKey;
        _bySpan = byKey.GetAlternateLookup<ReadOnlySpan<byte>>();
        _sorted = sorted;
        AppliedIndex = appliedIndex;
        Revision = revision;
        AssertInvariants();
    }

    private static void WriteVarint(ArrayBufferWriter<byte> writer, long signedValue)
    {
        Debug.Assert(signedValue >= 0, "Lengths, counts and indexes are never negative.");
        var value = (ulong)signedValue;
        var span = writer.GetSpan(10);
        var n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        writer.Advance(n);
    }

    /// <summary>Reads the snapshot body with bounds checks that name what was being read.</summary>
    private ref struct SnapshotReader
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _position;

        public SnapshotReader(ReadOnlySpan<byte> data, int position)
        {
            _data = data;
            _position = position;
        }

        public readonly bool AtEnd => _position == _data.Length;

        public readonly int Remaining => _data.Length - _position;

        public long ReadVarint(string what, long? entry = null)
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _data.Length)
                {
                    throw Truncated(what, entry);
                }

                var b = _data[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value <= long.MaxValue
                        ? (long)value
                        : throw new KvSnapshotFormatException($"The {Where(what, entry)} at offset {_position} is out of range ({value}).");
                }
            }

            throw new KvSnapshotFormatException($"The {Where(what, entry)} at offset {_position} is not a valid varint.");
        }

        public ReadOnlySpan<byte> ReadBytes(string what, long entry)
        {
            var length = ReadVarint(what + " length", entry);
            if (length > (long)(_data.Length - _position))
            {
                throw Truncated(what, entry);
            }

            var bytes = _data.Slice(_position, (int)length);
            _position += (int)length;
            return bytes;
        }

        private readonly KvSnapshotFormatException Truncated(string what, long? entry) =>
            new($"The snapshot ends at offset {_position} while reading the {Where(what, entry)}.");

        private static string Where(string what, long? entry) => entry is null ? what : $"{what} of entry {entry}";
    }
}
