using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace KvCluster.Client.Snapshots;

/// <summary>
/// The envelope of an AkkaKv state-machine snapshot (format 3), shared by the node (which writes and restores it) and
/// <c>kv snapshot status</c> (which inspects a saved file without the node's code). Layout, integers as unsigned LEB128
/// varints unless noted:
/// <code>
/// "AKVS"                      magic, 4 bytes
/// format                      u16 little-endian: 3
/// applied index               the Raft index of the last entry the state reflects
/// revision                    the store revision
/// compaction point + 1        0 = never compacted
/// section count
/// section*                    type (varint), length (varint), that many bytes
/// SHA-256                     32 bytes over every preceding byte
/// </code>
/// Sections (<see cref="KvSnapshotSection"/>) carry the parts of the state: the key-value history (type 1, exactly
/// one) and, once leases exist, the lease table (type 2). A reader refuses a section type it does not know, with a
/// message naming it, rather than skip or misread state it cannot restore: an older build never serves a store without
/// the leases a newer one wrote. To add a section: give it the next type number in <see cref="KvSnapshotSection"/>,
/// write it in the node's capture (<c>KvStateMachine.CaptureSnapshot</c>, cheap on the actor turn, serialized later)
/// and read it in <c>KvStateMachine.Restore</c>'s section switch; the format number stays 3 (an old build refuses the
/// new type by name).
/// </summary>
public static class KvSnapshotEnvelope
{
    /// <summary>The format this build writes and reads.</summary>
    public const ushort FormatVersion = 3;

    /// <summary>Length of the trailing SHA-256.</summary>
    public const int DigestBytes = 32;

    /// <summary>Magic plus format number.</summary>
    public const int PrefixBytes = 6;

    /// <summary>The first four bytes of every snapshot: "AKVS".</summary>
    public static ReadOnlySpan<byte> Magic => "AKVS"u8;

    /// <summary>Writes the envelope's head (magic, format, applied index, revision, compaction point, section count).</summary>
    public static void WriteHead(ArrayBufferWriter<byte> writer, long appliedIndex, long revision, long compactRevision, int sections)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(writer.GetSpan(2), FormatVersion);
        writer.Advance(2);
        WriteVarint(writer, (ulong)appliedIndex);
        WriteVarint(writer, (ulong)revision);
        WriteVarint(writer, (ulong)(compactRevision + 1));
        WriteVarint(writer, (ulong)sections);
    }

    /// <summary>Appends the SHA-256 of everything written so far and returns the finished image.</summary>
    public static byte[] Finish(ArrayBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        SHA256.HashData(writer.WrittenSpan, writer.GetSpan(DigestBytes));
        writer.Advance(DigestBytes);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Appends an unsigned LEB128 varint.</summary>
    public static void WriteVarint(IBufferWriter<byte> writer, ulong value)
    {
        ArgumentNullException.ThrowIfNull(writer);
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

    /// <summary>
    /// Checks magic, format and digest and reads the head and the section table. Nothing in the sections is decoded.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a snapshot, another format, truncated, or the digest does not match;
    /// the message says which.</exception>
    public static KvSnapshotHeader Read(ReadOnlySpan<byte> image)
    {
        if (image.Length < PrefixBytes + 4 + DigestBytes)
        {
            throw new InvalidDataException(
                $"The snapshot is {image.Length} bytes, shorter than the smallest possible snapshot ({PrefixBytes + 4 + DigestBytes} bytes).");
        }

        if (!image.StartsWith(Magic))
        {
            throw new InvalidDataException("The bytes are not an AkkaKv snapshot: the magic \"AKVS\" is missing.");
        }

        var format = BinaryPrimitives.ReadUInt16LittleEndian(image[Magic.Length..]);
        if (format != FormatVersion)
        {
            throw new InvalidDataException(format < FormatVersion
                ? $"The snapshot uses format version {format}, written before snapshots had sections; this build reads only version {FormatVersion}."
                : $"The snapshot uses format version {format}, newer than this build's {FormatVersion}; restore it with a newer AkkaKv.");
        }

        var body = image[..^DigestBytes];
        Span<byte> digest = stackalloc byte[DigestBytes];
        SHA256.HashData(body, digest);
        if (!digest.SequenceEqual(image[^DigestBytes..]))
        {
            throw new InvalidDataException(
                $"The snapshot is corrupted: its SHA-256 digest does not match its {body.Length} bytes of content.");
        }

        var reader = new KvSnapshotReader(body, PrefixBytes);
        var applied = reader.ReadInt64("applied index");
        var revision = reader.ReadInt64("revision");
        var compact = reader.ReadInt64("compaction point") - 1;
        var count = reader.ReadInt64("section count");
        var sections = new List<KvSnapshotSectionInfo>();
        for (long i = 0; i < count; i++)
        {
            var type = reader.ReadUInt64($"type of section {i}");
            var length = reader.ReadInt64($"length of section {i}");
            if (length > reader.Remaining)
            {
                throw new InvalidDataException(
                    $"Section {i} (type {type}) claims {length} bytes but only {reader.Remaining} remain before the digest.");
            }

            sections.Add(new KvSnapshotSectionInfo(type, reader.Position, (int)length));
            reader.Skip((int)length);
        }

        if (!reader.AtEnd)
        {
            throw new InvalidDataException($"The snapshot has {reader.Remaining} unexpected bytes after its {count} sections.");
        }

        return new KvSnapshotHeader(format, applied, revision, compact, sections, image.Length);
    }

    /// <summary>The stream unit of etcd's snapshot files: etcdctl 3.4 accepts a saved file only when its length is a
    /// multiple of this plus the 32-byte digest (etcd's database is made of 512-byte multiples).</summary>
    public const int StreamAlignment = 512;

    /// <summary>
    /// The bytes etcd's Maintenance.Snapshot streams for <paramref name="image"/>: the image, zeros up to a multiple of
    /// <see cref="StreamAlignment"/>, then the SHA-256 of all that (what <c>etcdctl snapshot save</c> writes to its file
    /// and checks the length of). <see cref="Unwrap"/> gives the image back.
    /// </summary>
    public static (int PaddedLength, byte[] Digest) StreamLayout(ReadOnlySpan<byte> image)
    {
        var padded = (image.Length + StreamAlignment - 1) / StreamAlignment * StreamAlignment;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(image);
        sha.AppendData(new byte[padded - image.Length]);
        return (padded, sha.GetHashAndReset());
    }

    /// <summary>
    /// The snapshot image inside a saved file: a file written by <c>etcdctl snapshot save</c> or <c>kv snapshot save</c>
    /// holds the streamed image, zero padding and the SHA-256 of both (<see cref="StreamLayout"/>); when that trailer
    /// matches, the trailer and the padding are stripped. A bare image, or a file whose trailer does not match, is
    /// returned as it is (and <see cref="Read"/> then says what is wrong with it).
    /// </summary>
    public static ReadOnlyMemory<byte> Unwrap(ReadOnlyMemory<byte> file)
    {
        var span = file.Span;
        if (span.Length < (2 * DigestBytes) + PrefixBytes)
        {
            return file;
        }

        Span<byte> digest = stackalloc byte[DigestBytes];
        SHA256.HashData(span[..^DigestBytes], digest);
        if (!digest.SequenceEqual(span[^DigestBytes..]))
        {
            return file;
        }

        // A bare image also ends with the digest of what precedes it: tell them apart by the image's own structure.
        var inner = span[..^DigestBytes];
        var length = MeasureImage(inner);
        if (length is not { } n || n > inner.Length || inner[n..].ContainsAnyExcept((byte)0))
        {
            return file;
        }

        return n == span.Length ? file : file[..n];
    }

    /// <summary>The length an image starting at <paramref name="bytes"/> announces (head, sections, digest), or null.</summary>
    private static int? MeasureImage(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < PrefixBytes || !bytes.StartsWith(Magic))
        {
            return null;
        }

        try
        {
            var reader = new KvSnapshotReader(bytes, PrefixBytes);
            reader.ReadUInt64("applied index");
            reader.ReadUInt64("revision");
            reader.ReadUInt64("compaction point");
            var count = reader.ReadInt64("section count");
            for (long i = 0; i < count; i++)
            {
                reader.ReadUInt64("section type");
                var length = reader.ReadInt64("section length");
                if (length > reader.Remaining)
                {
                    return null;
                }

                reader.Skip((int)length);
            }

            return reader.Position + DigestBytes;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }
}

/// <summary>The section types of a snapshot (see <see cref="KvSnapshotEnvelope"/>).</summary>
public enum KvSnapshotSection : ulong
{
    /// <summary>The MVCC key-value history: key count, then per key its versions (the node's KvStateMachine).</summary>
    Keys = 1,

    /// <summary>Reserved for the lease table (issue 16's leases): written once leases exist.</summary>
    Leases = 2,

    /// <summary>etcd's auth store (users, roles, permissions, the enabled flag): an <c>AuthImage</c> protobuf, written once the store changed.</summary>
    Auth = 3,
}

/// <summary>What <see cref="KvSnapshotEnvelope.Read"/> found.</summary>
/// <param name="Format">The format number.</param>
/// <param name="AppliedIndex">The Raft index the state reflects.</param>
/// <param name="Revision">The store revision.</param>
/// <param name="CompactRevision">The compaction point (-1: never compacted).</param>
/// <param name="Sections">The sections in order, with their place in the image.</param>
/// <param name="Length">The image's length in bytes, digest included.</param>
public sealed record KvSnapshotHeader(ushort Format, long AppliedIndex, long Revision, long CompactRevision, IReadOnlyList<KvSnapshotSectionInfo> Sections, long Length);

/// <summary>One section of a snapshot.</summary>
/// <param name="Type">Its type (<see cref="KvSnapshotSection"/>, or a number this build does not know).</param>
/// <param name="Offset">Where its bytes start in the image.</param>
/// <param name="Length">How many bytes it has.</param>
public readonly record struct KvSnapshotSectionInfo(ulong Type, int Offset, int Length);

/// <summary>Reads varints and byte strings of a snapshot with bounds checks whose errors name what was being read.</summary>
public ref struct KvSnapshotReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>Reads <paramref name="data"/> from <paramref name="position"/>.</summary>
    public KvSnapshotReader(ReadOnlySpan<byte> data, int position = 0)
    {
        _data = data;
        _position = position;
    }

    /// <summary>True when every byte was read.</summary>
    public readonly bool AtEnd => _position == _data.Length;

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary>The offset of the next byte.</summary>
    public readonly int Position => _position;

    /// <summary>Skips <paramref name="count"/> bytes (checked by the caller).</summary>
    public void Skip(int count) => _position += count;

    /// <summary>Reads a varint that must fit a non-negative long.</summary>
    public long ReadInt64(string what)
    {
        var value = ReadUInt64(what);
        return value <= long.MaxValue
            ? (long)value
            : throw new InvalidDataException($"The {what} at offset {_position} is out of range ({value}).");
    }

    /// <summary>Reads one byte.</summary>
    public byte ReadByte(string what)
    {
        if (_position >= _data.Length)
        {
            throw Truncated(what);
        }

        return _data[_position++];
    }

    /// <summary>Reads an unsigned varint.</summary>
    public ulong ReadUInt64(string what)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw Truncated(what);
            }

            var b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException($"The {what} at offset {_position} is not a valid varint.");
    }

    /// <summary>Reads a length-prefixed byte string.</summary>
    public ReadOnlySpan<byte> ReadBytes(string what)
    {
        var length = ReadInt64(what + " length");
        if (length > Remaining)
        {
            throw Truncated(what);
        }

        var bytes = _data.Slice(_position, (int)length);
        _position += (int)length;
        return bytes;
    }

    private readonly InvalidDataException Truncated(string what) =>
        new($"The snapshot ends at offset {_position} while reading the {what}.");
}
