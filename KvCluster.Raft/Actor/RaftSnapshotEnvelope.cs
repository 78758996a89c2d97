using System.Buffers.Binary;
using System.Security.Cryptography;
using Google.Protobuf;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// A snapshot as stored in the snapshot store and sent to followers, decoded: the Raft metadata, when it was taken,
/// and the state machine image (a slice of the envelope's bytes).
/// </summary>
/// <param name="Metadata">Index, term and configuration.</param>
/// <param name="TakenAt">When the snapshot was taken (UTC).</param>
/// <param name="Data">The state machine image (from <see cref="IStateMachineSnapshot.Serialize"/>).</param>
internal sealed record DecodedSnapshot(SnapshotMetadata Metadata, DateTime TakenAt, ReadOnlyMemory<byte> Data);

/// <summary>
/// The versioned envelope of a Raft snapshot: magic <c>AKRS</c>, format version (u16 little-endian), header length
/// (u32 little-endian), a protobuf <see cref="SnapshotHeader"/> (index, term, configuration, data length, SHA-256 of the
/// data, time taken), then the data. Written once to the snapshot store (as a byte array, so a damaged row still loads
/// and is refused here with a reason) and sent as is, in chunks, to followers.
/// </summary>
internal static class RaftSnapshotEnvelope
{
    /// <summary>The format this build writes and reads.</summary>
    public const ushort FormatVersion = 1;

    /// <summary>The first four bytes of every envelope.</summary>
    private static ReadOnlySpan<byte> Magic => "AKRS"u8;

    /// <summary>Magic, version and header length.</summary>
    private const int PrefixLength = 4 + 2 + 4;

    /// <summary>Builds the envelope of <paramref name="data"/> (hashes and copies it: call off the actor's turn).</summary>
    /// <param name="metadata">What the snapshot covers.</param>
    /// <param name="takenAt">When it was captured (UTC).</param>
    /// <param name="data">The state machine image.</param>
    /// <returns>The envelope bytes.</returns>
    public static byte[] Encode(SnapshotMetadata metadata, DateTime takenAt, ReadOnlySpan<byte> data)
    {
        var header = new SnapshotHeader
        {
            Index = metadata.Index,
            Term = metadata.Term,
            Voters = { metadata.Membership.Voters },
            Learners = { metadata.Membership.Learners },
            Promoting = { metadata.Membership.Promoting },
            MembershipIndex = metadata.MembershipIndex,
            DataLength = data.Length,
            DataSha256 = ByteString.CopyFrom(SHA256.HashData(data)),
            TakenAtUnixMs = new DateTimeOffset(DateTime.SpecifyKind(takenAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds(),
        };
        var headerLength = header.CalculateSize();
        var envelope = new byte[PrefixLength + headerLength + data.Length];
        Magic.CopyTo(envelope);
        BinaryPrimitives.WriteUInt16LittleEndian(envelope.AsSpan(4), FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(envelope.AsSpan(6), (uint)headerLength);
        header.WriteTo(envelope.AsSpan(PrefixLength, headerLength));
        data.CopyTo(envelope.AsSpan(PrefixLength + headerLength));
        return envelope;
    }

    /// <summary>Reads the header only (no checksum): the index a damaged snapshot claims, for a report.</summary>
    /// <returns>The index, or null when even the header is unreadable.</returns>
    public static long? TryReadIndex(ReadOnlyMemory<byte> envelope)
    {
        try
        {
            return ReadHeader(envelope.Span, out _).Index;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>Decodes and verifies an envelope (SHA-256 of the data; do it off the actor's turn for big images).</summary>
    /// <param name="envelope">The bytes; the returned data is a slice of them.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="InvalidDataException">The bytes are not an envelope, of another format version, truncated, or
    /// the data does not match its checksum; the message says which.</exception>
    public static DecodedSnapshot Decode(ReadOnlyMemory<byte> envelope)
    {
        var header = ReadHeader(envelope.Span, out var dataOffset);
        var data = envelope.Slice(dataOffset);
        if (data.Length != header.DataLength)
        {
            throw new InvalidDataException(
                $"Snapshot {header.Index}: the header announces {header.DataLength} bytes of data, {data.Length} are present (truncated or padded).");
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(data.Span, hash);
        if (!hash.SequenceEqual(header.DataSha256.Span))
        {
            throw new InvalidDataException($"Snapshot {header.Index}: the data does not match its SHA-256 checksum (corrupted).");
        }

        Membership membership;
        try
        {
            membership = new Membership(header.Voters, header.Learners, header.Promoting);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Snapshot {header.Index}: invalid configuration: {e.Message}", e);
        }

        var metadata = new SnapshotMetadata(header.Index, header.Term, membership, header.MembershipIndex);
        return new DecodedSnapshot(metadata, DateTimeOffset.FromUnixTimeMilliseconds(header.TakenAtUnixMs).UtcDateTime, data);
    }

    private static SnapshotHeader ReadHeader(ReadOnlySpan<byte> envelope, out int dataOffset)
    {
        if (envelope.Length < PrefixLength || !envelope.StartsWith(Magic))
        {
            throw new InvalidDataException($"Not a Raft snapshot: the magic \"AKRS\" is missing ({envelope.Length} bytes).");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(envelope[4..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Raft snapshot format version {version} is unknown; this build reads version {FormatVersion}.");
        }

        var headerLength = BinaryPrimitives.ReadUInt32LittleEndian(envelope[6..]);
        if (headerLength > envelope.Length - PrefixLength)
        {
            throw new InvalidDataException($"Raft snapshot header of {headerLength} bytes runs past the end ({envelope.Length} bytes; truncated).");
        }

        SnapshotHeader header;
        try
        {
            header = SnapshotHeader.Parser.ParseFrom(envelope.Slice(PrefixLength, (int)headerLength));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"Raft snapshot header is not valid protobuf: {e.Message}", e);
        }

        if (header.Index < 1 || header.Term < 1 || header.DataLength < 0 || header.MembershipIndex < 0 || header.MembershipIndex > header.Index)
        {
            throw new InvalidDataException($"Raft snapshot header is impossible: index {header.Index}, term {header.Term}, data length {header.DataLength}, configuration index {header.MembershipIndex}.");
        }

        dataOffset = PrefixLength + (int)headerLength;
        return header;
    }
}
