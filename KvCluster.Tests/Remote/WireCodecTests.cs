using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors.Remote.Protocol;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Tests.Remote;

public sealed class WireCodecTests
{
    private static byte[] EncodeEnvelope(string recipient, string? sender, int typeId, IMessage payload)
    {
        var writer = new ArrayBufferWriter<byte>();
        var size = EnvelopeCodec.MeasureFrame(recipient, sender, typeId, payload, out var sizes);
        EnvelopeCodec.Write(writer, size, sizes, recipient, sender, typeId, payload);
        Assert.Equal(size, writer.WrittenCount);
        return writer.WrittenSpan.ToArray();
    }

    [Fact]
    public void EnvelopeCodec_HandWrittenFrame_ParsesWithGeneratedEnvelope()
    {
        var payload = new StringValue { Value = "héllo" };

        var frame = EncodeEnvelope("kv://b@127.0.0.1:1/user/x", "kv://a@127.0.0.1:2/user/y", 1002, payload);
        var envelope = Envelope.Parser.ParseFrom(frame.AsSpan(FrameCodec.HeaderSize));

        Assert.Equal((byte)FrameKind.Envelope, frame[4]);
        Assert.Equal(frame.Length - 4, BinaryPrimitives.ReadInt32BigEndian(frame));
        Assert.Equal("kv://b@127.0.0.1:1/user/x", envelope.Recipient);
        Assert.Equal("kv://a@127.0.0.1:2/user/y", envelope.Sender);
        Assert.Equal(1002, envelope.TypeId);
        Assert.Equal(payload, StringValue.Parser.ParseFrom(envelope.Payload));
    }

    [Fact]
    public void EnvelopeCodec_GeneratedEnvelopeWithUnknownField_ParsesAndSkipsIt()
    {
        var envelope = new Envelope { Recipient = "kv://b@h:1/user/x", TypeId = 1000, Payload = new Int64Value { Value = 5 }.ToByteString() };
        var bytes = envelope.ToByteArray().Concat(new byte[] { (9 << 3) | 0, 1 }).ToArray();

        var ok = EnvelopeCodec.TryParse(bytes, out var recipient, out var sender, out var typeId, out var payload);

        Assert.True(ok);
        Assert.Equal("kv://b@h:1/user/x", EnvelopeCodec.DecodePath(recipient));
        Assert.True(sender.IsEmpty);
        Assert.Equal(1000, typeId);
        Assert.Equal(5, Int64Value.Parser.ParseFrom(payload).Value);
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, 0x61 })]
    [InlineData(new byte[] { 0x0B })]
    [InlineData(new byte[] { 0x18, 0x01 })]
    [InlineData(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF })]
    public void EnvelopeCodec_TruncatedOrWithoutRecipient_IsRejected(byte[] body)
    {
        Assert.False(EnvelopeCodec.TryParse(body, out _, out _, out _, out _));
    }

    [Fact]
    public void FrameCodec_FrameSplitAcrossSegments_IsReadWhole()
    {
        var frame = EncodeEnvelope("kv://b@h:1/user/x", null, 1000, new Int64Value { Value = 42 });
        var sequence = Segments.Create(frame.Take(3).ToArray(), frame.Skip(3).Take(4).ToArray(), frame.Skip(7).ToArray());

        var status = FrameCodec.TryReadFrame(ref sequence, 1024, out var kind, out var body, out _);

        Assert.Equal(FrameReadStatus.Frame, status);
        Assert.Equal(FrameKind.Envelope, kind);
        Assert.Equal(frame.Length - FrameCodec.HeaderSize, body.Length);
        Assert.True(sequence.IsEmpty);
    }

    [Fact]
    public void FrameCodec_PartialFrame_IsIncompleteAndLeavesBufferUnchanged()
    {
        var frame = EncodeEnvelope("kv://b@h:1/user/x", null, 1000, new Int64Value { Value = 42 });
        var sequence = new ReadOnlySequence<byte>(frame.AsMemory(0, frame.Length - 1));

        var status = FrameCodec.TryReadFrame(ref sequence, 1024, out _, out _, out _);

        Assert.Equal(FrameReadStatus.Incomplete, status);
        Assert.Equal(frame.Length - 1, sequence.Length);
    }

    [Theory]
    [InlineData(0u, 3, (int)FrameReadStatus.Malformed)]
    [InlineData(2_000_000_000u, 3, (int)FrameReadStatus.Oversized)]
    [InlineData(4097u, 3, (int)FrameReadStatus.Oversized)]
    [InlineData(2u, 0, (int)FrameReadStatus.Malformed)]
    [InlineData(2u, 6, (int)FrameReadStatus.Malformed)]
    public void FrameCodec_BadHeader_IsReportedWithoutConsumingInput(uint length, byte kind, int expectedStatus)
    {
        var bytes = new byte[7];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, length);
        bytes[4] = kind;
        var sequence = new ReadOnlySequence<byte>(bytes);

        var status = FrameCodec.TryReadFrame(ref sequence, 4096, out _, out _, out var declared);

        Assert.Equal((FrameReadStatus)expectedStatus, status);
        Assert.Equal(length, declared);
        Assert.Equal(7, sequence.Length);
    }

    [Fact]
    public void FrameCodec_TwoFramesInOneBuffer_AreReadInOrder()
    {
        var first = RawPeer.Control(FrameKind.Heartbeat, new Heartbeat { Sequence = 1 });
        var second = RawPeer.Control(FrameKind.Heartbeat, new Heartbeat { Sequence = 2 });
        var sequence = new ReadOnlySequence<byte>(first.Concat(second).ToArray());

        FrameCodec.TryReadFrame(ref sequence, 1024, out _, out var body1, out _);
        FrameCodec.TryReadFrame(ref sequence, 1024, out _, out var body2, out _);

        Assert.Equal(1, Heartbeat.Parser.ParseFrom(body1).Sequence);
        Assert.Equal(2, Heartbeat.Parser.ParseFrom(body2).Sequence);
        Assert.True(sequence.IsEmpty);
    }

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Create(params byte[][] parts)
        {
            var first = new Segments(parts[0], 0);
            var last = first;
            foreach (var part in parts.Skip(1))
            {
                var next = new Segments(part, last.RunningIndex + last.Memory.Length);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
