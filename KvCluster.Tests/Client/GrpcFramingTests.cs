using Google.Protobuf;
using KvCluster.Client.Bench;
using KvCluster.Client.Bench.Etcd;
using KvCluster.Client.Bench.Etcd.Protocol;

namespace KvCluster.Tests.Client;

public sealed class GrpcFramingTests
{
    [Fact]
    public void Encode_PutRequest_WritesUncompressedFlagBigEndianLengthAndMessage()
    {
        var request = new PutRequest { Key = ByteString.CopyFromUtf8("k"), Value = ByteString.CopyFrom(new byte[300]) };

        var frame = GrpcFraming.Encode(request);

        var size = request.CalculateSize();
        Assert.Equal(GrpcFraming.HeaderSize + size, frame.Length);
        Assert.Equal(0, frame[0]);
        Assert.Equal(new byte[] { 0, 0, (byte)(size >> 8), (byte)size }, frame[1..5]);
        Assert.Equal(request, PutRequest.Parser.ParseFrom(frame, 5, size));
    }

    [Fact]
    public void DecodeSingle_EncodedFrame_RoundTrips()
    {
        var response = new RangeResponse { Count = 1, Kvs = { new KeyValue { Key = ByteString.CopyFromUtf8("a"), Value = ByteString.CopyFromUtf8("b") } } };

        var message = GrpcFraming.DecodeSingle(GrpcFraming.Encode(response));

        Assert.Equal(response, RangeResponse.Parser.ParseFrom(message));
    }

    [Fact]
    public void DecodeSingle_EmptyMessageFrame_ReturnsEmptyMessage()
    {
        var message = GrpcFraming.DecodeSingle(new byte[] { 0, 0, 0, 0, 0 });

        Assert.Equal(0, message.Length);
    }

    [Theory]
    [InlineData(new byte[] { }, "the response body is empty")]
    [InlineData(new byte[] { 0, 0, 0 }, "truncated gRPC frame header: 3 of 5 bytes")]
    [InlineData(new byte[] { 0, 0, 0, 0, 10, 1, 2, 3 }, "truncated gRPC message: the frame announces 10 bytes, 3 arrived")]
    [InlineData(new byte[] { 0, 0, 0, 0, 1, 8, 9 }, "1 unexpected bytes after the gRPC message")]
    [InlineData(new byte[] { 1, 0, 0, 0, 1, 8 }, "compressed, but no compression was negotiated")]
    [InlineData(new byte[] { 7, 0, 0, 0, 1, 8 }, "invalid gRPC compressed flag 7")]
    [InlineData(new byte[] { 0, 0x7f, 0, 0, 0 }, "exceeds the 4194304-byte limit")]
    public void DecodeSingle_MalformedFrame_ThrowsNamingTheDefect(byte[] body, string expected)
    {
        var error = Assert.Throws<GrpcFramingException>(() => GrpcFraming.DecodeSingle(body));

        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData(14, (int)BenchErrorKind.Unavailable)]
    [InlineData(8, (int)BenchErrorKind.Unavailable)]
    [InlineData(4, (int)BenchErrorKind.Timeout)]
    [InlineData(3, (int)BenchErrorKind.Rejected)]
    [InlineData(9, (int)BenchErrorKind.Rejected)]
    public void ToErrorKind_EtcdErrors_MapAsDocumented(int status, int expected)
    {
        Assert.Equal((BenchErrorKind)expected, GrpcStatus.ToErrorKind(status));
    }
}
