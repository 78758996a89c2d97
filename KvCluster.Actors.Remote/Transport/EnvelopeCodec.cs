using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// Hand-written encoder and decoder of <see cref="Protocol.Envelope"/> frames, byte-compatible with
/// the generated code (field 1 recipient, 2 sender, 3 type_id, 4 payload). The encoder writes the
/// payload message straight into the output buffer, with no intermediate array; the decoder works
/// on a span of the input buffer and materialises only the two path strings and the payload message.
/// </summary>
internal static class EnvelopeCodec
{
    private const byte RecipientTag = (1 << 3) | 2;
    private const byte SenderTag = (2 << 3) | 2;
    private const byte TypeIdTag = (3 << 3) | 0;
    private const byte PayloadTag = (4 << 3) | 2;

    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Size of the frame that <see cref="Write"/> would produce, header included. Also returns the
    /// pieces' sizes so <see cref="Write"/> need not compute them again.
    /// </summary>
    public static int MeasureFrame(string recipient, string? sender, int typeId, IMessage payload, out EnvelopeSizes sizes)
    {
        sizes = new EnvelopeSizes(
            s_utf8.GetByteCount(recipient),
            string.IsNullOrEmpty(sender) ? 0 : s_utf8.GetByteCount(sender),
            payload.CalculateSize());
        var body = 1 + VarintSize((uint)sizes.Recipient) + sizes.Recipient;
        if (sizes.Sender > 0)
        {
            body += 1 + VarintSize((uint)sizes.Sender) + sizes.Sender;
        }

        if (typeId != 0)
        {
            body += 1 + VarintSize((uint)typeId);
        }

        if (sizes.Payload > 0)
        {
            body += 1 + VarintSize((uint)sizes.Payload) + sizes.Payload;
        }

        return FrameCodec.HeaderSize + body;
    }

    /// <summary>Writes a whole envelope frame of <paramref name="frameSize"/> bytes (from <see cref="MeasureFrame"/>).</summary>
    public static void Write(IBufferWriter<byte> output, int frameSize, in EnvelopeSizes sizes, string recipient, string? sender, int typeId, IMessage payload)
    {
        var span = output.GetSpan(frameSize);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)(frameSize - 4));
        span[4] = (byte)FrameKind.Envelope;
        var pos = FrameCodec.HeaderSize;
        span[pos++] = RecipientTag;
        pos += WriteVarint(span[pos..], (uint)sizes.Recipient);
        pos += s_utf8.GetBytes(recipient, span[pos..]);
        if (sizes.Sender > 0)
        {
            span[pos++] = SenderTag;
            pos += WriteVarint(span[pos..], (uint)sizes.Sender);
            pos += s_utf8.GetBytes(sender, span[pos..]);
        }

        if (typeId != 0)
        {
            span[pos++] = TypeIdTag;
            pos += WriteVarint(span[pos..], (uint)typeId);
        }

        if (sizes.Payload > 0)
        {
            span[pos++] = PayloadTag;
            pos += WriteVarint(span[pos..], (uint)sizes.Payload);
            payload.WriteTo(span.Slice(pos, sizes.Payload));
            pos += sizes.Payload;
        }

        output.Advance(pos);
    }

    /// <summary>
    /// Splits an envelope body into its fields without allocating. Unknown fields are skipped, as
    /// protobuf requires. Returns false when the bytes are not a valid envelope.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> body, out ReadOnlySpan<byte> recipient, out ReadOnlySpan<byte> sender, out int typeId, out ReadOnlySpan<byte> payload)
    {
        recipient = default;
        sender = default;
        payload = default;
        typeId = 0;
        var pos = 0;
        while (pos < body.Length)
        {
            if (!TryReadVarint(body, ref pos, out var tag))
            {
                return false;
            }

            var field = tag >> 3;
            var wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    if (!TryReadVarint(body, ref pos, out var value))
                    {
                        return false;
                    }

                    if (field == 3)
                    {
                        typeId = (int)value;
                    }

                    break;
                case 2:
                    if (!TryReadVarint(body, ref pos, out var length) || length > (ulong)(body.Length - pos))
                    {
                        return false;
                    }

                    var slice = body.Slice(pos, (int)length);
                    pos += (int)length;
                    switch (field)
                    {
                        case 1: recipient = slice; break;
                        case 2: sender = slice; break;
                        case 4: payload = slice; break;
                    }

                    break;
                case 1:
                    pos += 8;
                    break;
                case 5:
                    pos += 4;
                    break;
                default:
                    return false;
            }

            if (field == 0 || pos > body.Length)
            {
                return false;
            }
        }

        return recipient.Length > 0;
    }

    /// <summary>Decodes a UTF-8 path; throws <see cref="DecoderFallbackException"/> on invalid UTF-8.</summary>
    public static string DecodePath(ReadOnlySpan<byte> utf8) => utf8.IsEmpty ? string.Empty : s_utf8.GetString(utf8);

    private static int VarintSize(uint value) => value switch
    {
        < 1u << 7 => 1,
        < 1u << 14 => 2,
        < 1u << 21 => 3,
        < 1u << 28 => 4,
        _ => 5,
    };

    private static int WriteVarint(Span<byte> span, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        return i;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> span, ref int pos, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (pos >= span.Length)
            {
                return false;
            }

            var b = span[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Byte sizes of an envelope's variable parts, measured once per message.</summary>
internal readonly record struct EnvelopeSizes(int Recipient, int Sender, int Payload);
