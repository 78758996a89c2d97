using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>The kind byte that follows each frame's length prefix.</summary>
internal enum FrameKind : byte
{
    /// <summary>A <see cref="Protocol.Handshake"/>, first frame from a dialer.</summary>
    Handshake = 1,

    /// <summary>A <see cref="Protocol.HandshakeAck"/>, the acceptor's answer.</summary>
    HandshakeAck = 2,

    /// <summary>An <see cref="Protocol.Envelope"/> carrying one message.</summary>
    Envelope = 3,

    /// <summary>A <see cref="Protocol.Heartbeat"/> from the dialer.</summary>
    Heartbeat = 4,

    /// <summary>A <see cref="Protocol.HeartbeatAck"/> from the acceptor.</summary>
    HeartbeatAck = 5,
}

/// <summary>Outcome of <see cref="FrameCodec.TryReadFrame"/>.</summary>
internal enum FrameReadStatus
{
    /// <summary>A whole frame was read; the buffer was advanced past it.</summary>
    Frame,

    /// <summary>More bytes are needed; the buffer is unchanged.</summary>
    Incomplete,

    /// <summary>The length prefix exceeds the maximum frame size; the stream is unusable.</summary>
    Oversized,

    /// <summary>A zero length or an unknown kind byte; the stream is unusable.</summary>
    Malformed,
}

/// <summary>
/// Length-prefixed framing: <c>[length: uint32 big-endian][kind: 1 byte][body]</c>, where
/// length counts the kind byte and the body. Reading never allocates: the body is returned as a
/// slice of the caller's buffer, valid until the caller advances its pipe.
/// </summary>
internal static class FrameCodec
{
    /// <summary>Bytes of the length prefix plus the kind byte.</summary>
    public const int HeaderSize = 5;

    /// <summary>
    /// Reads one frame from the front of <paramref name="buffer"/>. On <see cref="FrameReadStatus.Frame"/>
    /// the buffer is advanced past the frame; otherwise it is unchanged. <paramref name="declaredLength"/>
    /// reports the length prefix (for log lines about oversized frames).
    /// </summary>
    public static FrameReadStatus TryReadFrame(
        ref ReadOnlySequence<byte> buffer,
        int maxFrameSize,
        out FrameKind kind,
        out ReadOnlySequence<byte> body,
        out long declaredLength)
    {
        kind = default;
        body = default;
        declaredLength = 0;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadBigEndian(out int signedLength))
        {
            return FrameReadStatus.Incomplete;
        }

        var length = (uint)signedLength;
        declaredLength = length;
        if (length == 0)
        {
            return FrameReadStatus.Malformed;
        }

        if (length > (uint)maxFrameSize)
        {
            return FrameReadStatus.Oversized;
        }

        if (reader.Remaining < length)
        {
            return FrameReadStatus.Incomplete;
        }

        reader.TryRead(out var kindByte);
        if (kindByte is < (byte)FrameKind.Handshake or > (byte)FrameKind.HeartbeatAck)
        {
            return FrameReadStatus.Malformed;
        }

        kind = (FrameKind)kindByte;
        body = buffer.Slice(reader.Position, length - 1);
        buffer = buffer.Slice(body.End);
        return FrameReadStatus.Frame;
    }

    /// <summary>Writes a control frame (handshake, heartbeat) holding <paramref name="message"/>.</summary>
    public static void WriteControl(IBufferWriter<byte> output, FrameKind kind, IMessage message)
    {
        var size = message.CalculateSize();
        var span = output.GetSpan(HeaderSize + size);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)(size + 1));
        span[4] = (byte)kind;
        message.WriteTo(span.Slice(HeaderSize, size));
        output.Advance(HeaderSize + size);
    }

    /// <summary>Writes raw bytes as a frame (tests use it to craft hostile input).</summary>
    public static byte[] Frame(FrameKind kind, ReadOnlySpan<byte> body)
    {
        var frame = new byte[HeaderSize + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(body.Length + 1));
        frame[4] = (byte)kind;
        body.CopyTo(frame.AsSpan(HeaderSize));
        return frame;
    }
}
