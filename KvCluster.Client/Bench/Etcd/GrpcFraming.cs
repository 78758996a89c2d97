using System.Buffers.Binary;
using Google.Protobuf;

namespace KvCluster.Client.Bench.Etcd;

/// <summary>
/// gRPC's length-prefixed message framing over HTTP/2 (gRPC "PROTOCOL-HTTP2", Length-Prefixed-Message):
/// 1 byte compressed flag, 4 bytes big-endian message length, then the protobuf message.
/// </summary>
internal static class GrpcFraming
{
    /// <summary>Size of the frame header: compressed flag plus length.</summary>
    public const int HeaderSize = 5;

    /// <summary>Largest message accepted, gRPC's default receive limit (4 MiB).</summary>
    public const int MaxMessageSize = 4 * 1024 * 1024;

    /// <summary>Serializes <paramref name="message"/> into a new array holding exactly one uncompressed frame.</summary>
    public static byte[] Encode(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var size = message.CalculateSize();
        var frame = new byte[HeaderSize + size];
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), (uint)size);
        message.WriteTo(frame.AsSpan(HeaderSize));
        return frame;
    }

    /// <summary>
    /// Returns the message bytes of a unary call's body, which must hold exactly one
    /// uncompressed frame. Throws <see cref="GrpcFramingException"/> naming the defect for a
    /// truncated header or message, a compressed or invalid flag, an over-long length, or bytes
    /// after the message.
    /// </summary>
    public static ReadOnlySpan<byte> DecodeSingle(ReadOnlySpan<byte> body)
    {
        if (body.Length < HeaderSize)
        {
            throw new GrpcFramingException(body.Length == 0
                ? "the response body is empty: expected one gRPC message"
                : $"truncated gRPC frame header: {body.Length} of {HeaderSize} bytes");
        }

        switch (body[0])
        {
            case 0:
                break;
            case 1:
                throw new GrpcFramingException("the gRPC message is compressed, but no compression was negotiated");
            default:
                throw new GrpcFramingException($"invalid gRPC compressed flag {body[0]} (expected 0 or 1)");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(1, 4));
        if (length > MaxMessageSize)
        {
            throw new GrpcFramingException($"gRPC message of {length} bytes exceeds the {MaxMessageSize}-byte limit");
        }

        var available = body.Length - HeaderSize;
        if (available < length)
        {
            throw new GrpcFramingException($"truncated gRPC message: the frame announces {length} bytes, {available} arrived");
        }

        if (available > length)
        {
            throw new GrpcFramingException($"{available - length} unexpected bytes after the gRPC message (a unary response holds one message)");
        }

        return body.Slice(HeaderSize, (int)length);
    }
}

/// <summary>A gRPC body violated the length-prefixed framing; the message names the defect.</summary>
internal sealed class GrpcFramingException : Exception
{
    /// <summary>Creates the exception with a message naming the framing defect.</summary>
    public GrpcFramingException(string message)
        : base(message)
    {
    }
}
