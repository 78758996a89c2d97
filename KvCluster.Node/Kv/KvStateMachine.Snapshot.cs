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

    /// <summary>
    /// The snapshot format this build writes and reads: 2 holds the MVCC history (format 1, a single
    /// version per key without revisions of its own, is refused).
    /// </summary>
    internal const ushort SnapshotFormatVersion = 2;

    private const int DigestBytes = 32;

    /// <summary>Version flag byte: a put (with create revision, version, lease and value).</summary>
    private const byte PutFlag = 0;

    /// <summary>Version flag byte: a tombstone (nothing follows).</summary>
    private const byte TombstoneFlag = 1;

    /// <summary>
    /// Serializes the whole store, history included, into a new array the caller owns. Layout (all
    /// integers unsigned LEB128 varints unless noted): magic "AKVS"; format version (u16
    /// little-endian); applied index; revision; compaction point + 1 (0 = never compacted); key count;
    /// then per key in key order: key length, key, version count, and per version oldest first: mod
    /// revision, a flag byte (0 put, 1 tombstone) and, for a put, create revision, version, lease
    /// (the 64 bits as unsigned), value length, value; finally the SHA-256 of every preceding byte.
    /// Deterministic: replicas that applied the same log give equal bytes.
    /// </summary>
    public byte[] Snapshot()
    {
        var writer = new ArrayBufferWriter<byte>(64 + (_sorted.Count * 40));
        writer.Write(SnapshotMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(writer.GetSpan(2), SnapshotFormatVersion);
        writer.Advance(2);
        WriteVarint(writer, AppliedIndex);
        WriteVarint(writer, Revision);
        WriteVarint(writer, CompactRevision + 1);
        WriteVarint(writer, (long)_sorted.Count);
        foreach (var key in _sorted)
        {
            WriteVarint(writer, (long)key.Key.Length);
            writer.Write(key.Key.Span);
            WriteVarint(writer, (long)key.VersionCount);
            foreach (var version in key.Versions())
            {
                WriteVarint(writer, version.ModRevision);
                if (version.IsTombstone)
                {
                    WriteFlag(writer, TombstoneFlag);
                    continue;
                }

                WriteFlag(writer, PutFlag);
                WriteVarint(writer, version.CreateRevision);
                WriteVarint(writer, version.Version);
                WriteUnsigned(writer, (ulong)version.Lease);
                WriteVarint(writer, (long)version.Value!.Length);
                writer.Write(version.Value.Span);
            }
        }

        SHA256.HashData(writer.WrittenSpan, writer.GetSpan(DigestBytes));
        writer.Advance(DigestBytes);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Replaces the whole store with the one in <paramref name="snapshot"/> (from
    /// <see cref="Snapshot"/>, possibly on another node), history and compaction point included, so
    /// reads at past revisions answer as they did. All or nothing: when the snapshot is rejected the
    /// store is unchanged.
    /// </summary>
    /// <exception cref="KvSnapshotFormatException">
    /// The bytes are not a snapshot, are truncated or corrupted (digest mismatch), use an unknown
    /// format version, or describe an impossible store; the message says which and where.
    /// </exception>
    public void Restore(ReadOnlySpan<byte> snapshot)
    {
        var headerLength = SnapshotMagic.Length + 2;
        if (snapshot.Length < headerLength + 4 + DigestBytes)
        {
            throw new KvSnapshotFormatException(
                $"The snapshot is {snapshot.Length} bytes, shorter than the smallest possible snapshot ({headerLength + DigestBytes + 4} bytes).");
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
        var compactRevision = reader.ReadVarint("compaction point") - 1;
        var count = reader.ReadVarint("key count");
        if (revision < InitialRevision || compactRevision > revision)
        {
            throw new KvSnapshotFormatException(
                $"The snapshot's revision {revision} and compaction point {compactRevision} are impossible " +
                $"(the revision is at least {InitialRevision} and the compaction point at most the revision).");
        }

        var byKey = new Dictionary<ByteString, KvKeyHistory>(KvKeyEqualityComparer.Instance);
        var sorted = new SortedSet<KvKeyHistory>(KvKeyHistoryComparer.Instance);
        var compactable = new HashSet<KvKeyHistory>(ReferenceEqualityComparer.Instance);
        var live = 0;
        KvKeyHistory? previous = null;
        for (long i = 0; i < count; i++)
        {
            var key = ByteString.CopyFrom(reader.ReadBytes("key", i));
            var versions = reader.ReadVarint("version count", i);
            if (key.IsEmpty || versions < 1)
            {
                throw new KvSnapshotFormatException(
                    $"Key {i} ({KvKeyOrder.Describe(key.Span)}) is impossible: {key.Length} bytes long with {versions} versions.");
            }

            KvKeyHistory? history = null;
            for (long v = 0; v < versions; v++)
            {
                var version = ReadVersion(ref reader, i, key, revision, history);
                if (history is null)
                {
                    history = new KvKeyHistory(key, version);
                }
                else
                {
                    history.Append(version);
                }
            }

            if (previous is not null && KvKeyHistoryComparer.Instance.Compare(previous, history!) >= 0)
            {
                throw new KvSnapshotFormatException(
                    $"Key {i} ({KvKeyOrder.Describe(key.Span)}) is out of order; snapshot keys are strictly ascending.");
            }

            byKey.Add(key, history!);
            sorted.Add(history!);
            if (history!.HasHistory)
            {
                compactable.Add(history);
            }

            if (history.IsLive)
            {
                live++;
            }

            previous = history;
        }

        if (!reader.AtEnd)
        {
            throw new KvSnapshotFormatException(
                $"The snapshot has {reader.Remaining} unexpected bytes after its {count} keys.");
        }

        _byKey = byKey;
        _bySpan = byKey.GetAlternateLookup<ReadOnlySpan<byte>>();
        _sorted = sorted;
        _compactable = compactable;
        _liveCount = live;
        AppliedIndex = appliedIndex;
        Revision = revision;
        CompactRevision = compactRevision;
        AssertInvariants();
        PublishRestored();
    }

    /// <summary>Reads one version of key <paramref name="i"/> and checks it against the ones before.</summary>
    private static KvVersion ReadVersion(ref SnapshotReader reader, long i, ByteString key, long revision, KvKeyHistory? before)
    {
        var mod = reader.ReadVarint("mod revision", i);
        var flag = reader.ReadByte("version flag", i);
        KvVersion version;
        if (flag == TombstoneFlag)
        {
            version = KvVersion.Tombstone(mod);
        }
        else if (flag == PutFlag)
        {
            var create = reader.ReadVarint("create revision", i);
            var number = reader.ReadVarint("version", i);
            var lease = (long)reader.ReadUnsigned("lease", i);
            var value = ByteString.CopyFrom(reader.ReadBytes("value", i));
            version = new KvVersion(mod, create, number, lease, value);
        }
        else
        {
            throw new KvSnapshotFormatException($"Key {i} ({KvKeyOrder.Describe(key.Span)}) has a version with unknown flag {flag}.");
        }

        var previous = before?.Latest;
        var possible = mod > InitialRevision && mod <= revision
            && (previous is null || mod > previous.Value.ModRevision)
            && (version.IsTombstone
                ? previous is { IsTombstone: false }
                : version.CreateRevision > InitialRevision && version.CreateRevision <= mod && version.Version >= 1
                    && (previous is { IsTombstone: false } p
                        ? version.CreateRevision == p.CreateRevision && version.Version == p.Version + 1
                        : previous is null || (version.CreateRevision == mod && version.Version == 1)));
        if (!possible)
        {
            throw new KvSnapshotFormatException(
                $"Key {i} ({KvKeyOrder.Describe(key.Span)}) has an impossible version: mod revision {mod}, create revision " +
                $"{version.CreateRevision}, version {version.Version}{(version.IsTombstone ? " (tombstone)" : string.Empty)}, " +
                $"after {(previous is null ? "nothing" : $"mod revision {previous.Value.ModRevision}")}, store revision {revision}.");
        }

        return version;
    }

    private static void WriteVarint(ArrayBufferWriter<byte> writer, long signedValue)
    {
        Debug.Assert(signedValue >= 0, "Lengths, counts and indexes are never negative.");
        WriteUnsigned(writer, (ulong)signedValue);
    }

    private static void WriteFlag(ArrayBufferWriter<byte> writer, byte flag)
    {
        writer.GetSpan(1)[0] = flag;
        writer.Advance(1);
    }

    private static void WriteUnsigned(ArrayBufferWriter<byte> writer, ulong value)
    {
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
            var value = ReadUnsigned(what, entry);
            return value <= long.MaxValue
                ? (long)value
                : throw new KvSnapshotFormatException($"The {Where(what, entry)} at offset {_position} is out of range ({value}).");
        }

        public byte ReadByte(string what, long entry)
        {
            if (_position >= _data.Length)
            {
                throw Truncated(what, entry);
            }

            return _data[_position++];
        }

        public ulong ReadUnsigned(string what, long? entry = null)
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
                    return value;
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

        private static string Where(string what, long? entry) => entry is null ? what : $"{what} of key {entry}";
    }
}
