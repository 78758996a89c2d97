using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using KvCluster.Node.Etcd.Hpack;

namespace KvCluster.Tests.Etcd;

/// <summary>
/// The node's answer to etcdctl's URL authority (<see cref="UrlAuthority"/>, <see cref="UrlAuthorityReader"/>): HPACK's
/// Huffman code against RFC 7541's examples, the rewrite of a header block etcdctl 3.4.23 really sent, and the reader
/// over a connection's bytes however they are split. The end-to-end check with etcdctl is in
/// <see cref="EtcdctlInteropTests"/>.
/// </summary>
public sealed class UrlAuthoritySpecs
{
    /// <summary>The HEADERS frame of <c>etcdctl --endpoints http://127.0.0.1:12380 endpoint status</c> (etcdctl 3.4.23,
    /// grpc-go 1.33.3), captured between it and a node: <c>:authority</c> is a literal with incremental indexing whose
    /// Huffman-coded value is the whole URL.</summary>
    private const string StatusHeadersFrame =
        "0000770104000000018386459760a924882d9dcb6571afa066a925a87510ac6e48d36a3f41909d29aee30c044eae05c0b86e044cbc0f5f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f8669f75b03c0b7408d25062d495875996ee5b1063d5f03332e34";

    /// <summary>The HEADERS frame of <c>etcdctl --endpoints http://127.0.0.1:12380 put a b</c>: the same client sends
    /// <c>127.0.0.1:12380</c> as the authority of this call, which needs nothing.</summary>
    private const string PutHeadersFrame =
        "00006a0104000000018386458f60a924882d9dcb6571af9b8b1aed4f418b089d5c0b8170dc0899781f5f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f8669f7da7d976d408d25062d495875996ee5b1063d5f03332e34";

    private static readonly byte[] s_preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

    [Theory]
    [InlineData("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff")] // RFC 7541 C.4.1
    [InlineData("no-cache", "a8eb10649cbf")] // C.4.2
    [InlineData("custom-key", "25a849e95ba97d7f")] // C.4.3
    [InlineData("custom-value", "25a849e95bb8e8b4bf")] // C.4.3
    [InlineData("302", "6402")] // C.6.1
    [InlineData("private", "aec3771a4b")] // C.6.1
    [InlineData("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff")] // C.6.1
    [InlineData("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3")] // C.6.1
    [InlineData("foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007")] // C.6.3
    public void Huffman_EncodesAndDecodesRfc7541sExamples(string text, string hex)
    {
        var encoded = Convert.FromHexString(hex);
        Assert.Equal(encoded, HpackHuffman.Encode(Encoding.ASCII.GetBytes(text)));

        var symbols = new byte[encoded.Length * 2];
        var offsets = new int[symbols.Length];
        var count = HpackHuffman.Decode(encoded, symbols, offsets);
        Assert.Equal(text, Encoding.ASCII.GetString(symbols, 0, count));
        Assert.Equal(0, offsets[0]);
        Assert.Equal(HpackHuffman.CodeLength(text[0]), offsets[1]);
    }

    [Theory]
    [InlineData("ffffffff")] // EOS's 30 bits of ones: EOS inside a string
    [InlineData("f1e3c2e5f23a6ba0ab90f4ffff")] // a whole byte of padding
    [InlineData("f1e3c2e5f23a6ba0ab90f4fe")] // padding that is not all ones
    public void Huffman_RefusesWhatRfc7541CallsADecodingError(string hex)
    {
        var encoded = Convert.FromHexString(hex);
        Assert.Equal(-1, HpackHuffman.Decode(encoded, new byte[64], new int[64]));
    }

    [Fact]
    public void EtcdctlsStatusCall_GetsAnAuthorityKestrelAccepts_InTheSameBytes()
    {
        var frame = Convert.FromHexString(StatusHeadersFrame);
        var original = HpackHuffman.Encode("http://127.0.0.1:12380"u8);
        var at = frame.AsSpan().IndexOf(original);
        Assert.True(at > 0, "the URL is not in the captured block as HPACK's Huffman code");

        var rewritten = (byte[])frame.Clone();
        Assert.Equal(1, UrlAuthority.RewriteHeaderBlock(rewritten.AsSpan(9)));

        var expected = (byte[])frame.Clone();
        HpackHuffman.Encode("httpx--127.0.0.1:12380"u8).CopyTo(expected, at);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(rewritten));
    }

    [Fact]
    public void AHostPortAuthority_IsLeftAsItIs()
    {
        var frame = Convert.FromHexString(PutHeadersFrame);
        var block = (byte[])frame.Clone();
        Assert.Equal(0, UrlAuthority.RewriteHeaderBlock(block.AsSpan(9)));
        Assert.Equal(frame, block);
    }

    [Theory]
    [InlineData("http://127.0.0.1:2379", "httpx--127.0.0.1:2379")]
    [InlineData("https://node-1.example:2379", "httpsx--node-1.example:2379")]
    [InlineData("http://[::1]:2379", "httpx--~xx1~:2379")]
    [InlineData("http://host", "httpx--host")]
    [InlineData("127.0.0.1:2379", "127.0.0.1:2379")] // not a URL
    [InlineData("[::1]:2379", "[::1]:2379")]
    public void AnAuthorityLiteral_WhateverItsForm_BecomesAHostOfTheSameLength(string authority, string expected)
    {
        var value = Encoding.ASCII.GetBytes(authority);
        var name = Encoding.ASCII.GetBytes(":authority");
        foreach (var huffman in new[] { false, true })
        {
            var coded = huffman ? HpackHuffman.Encode(value) : value;
            var codedName = huffman ? HpackHuffman.Encode(name) : name;
            var forms = new[]
            {
                Concat([0x41], StringLiteral(coded, huffman)), // with indexing, static name 1
                Concat([0x01], StringLiteral(coded, huffman)), // without indexing, static name 1
                Concat([0x11], StringLiteral(coded, huffman)), // never indexed, static name 1
                Concat([0x40], StringLiteral(codedName, huffman), StringLiteral(coded, huffman)), // literal name
            };

            foreach (var form in forms)
            {
                // Around it: an indexed field (:method GET), a table size update, and a field that is not the authority.
                var block = Concat([0x82, 0x3f, 0xe1, 0x1f], form, [0x44], StringLiteral(coded, huffman));
                var before = (byte[])block.Clone();
                var count = UrlAuthority.RewriteHeaderBlock(block);
                Assert.Equal(authority == expected ? 0 : 1, count);
                var want = Concat([0x82, 0x3f, 0xe1, 0x1f], form[..^coded.Length], huffman ? HpackHuffman.Encode(Encoding.ASCII.GetBytes(expected)) : Encoding.ASCII.GetBytes(expected), [0x44], StringLiteral(coded, huffman));
                Assert.Equal(Convert.ToHexString(want), Convert.ToHexString(block));
                Assert.Equal(before.Length, block.Length);
            }
        }
    }

    [Theory]
    [InlineData("41")] // a literal cut before its value
    [InlineData("419d29ad")] // a value longer than the block
    [InlineData("7f")] // an integer cut inside its continuation bytes
    [InlineData("7fffffffffff01")] // an integer over 2^28
    [InlineData("40")] // a literal name missing
    public void AMalformedBlock_IsLeftToKestrel_WithoutAnException(string hex)
    {
        var block = Convert.FromHexString(hex);
        var before = (byte[])block.Clone();
        Assert.Equal(0, UrlAuthority.RewriteHeaderBlock(block));
        Assert.Equal(before, block);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(31)]
    [InlineData(120)]
    [InlineData(4096)]
    [InlineData(1 << 20)]
    public async Task TheReader_HandsOverEveryByte_WithEachHeaderBlockRewritten_HoweverTheSocketSplitsThem(int chunk)
    {
        var (connection, expected) = Connection();
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(await ReadThroughAsync(connection, chunk, wholeFrames: false)));
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(await ReadThroughAsync(connection, chunk, wholeFrames: true)));
    }

    [Fact]
    public async Task FramesItCannotFollow_GoThroughUnchanged()
    {
        // A HEADERS frame without END_HEADERS followed by DATA instead of CONTINUATION: a connection error for Kestrel to
        // report; from there on this reader passes everything through as it is.
        var block = Convert.FromHexString(StatusHeadersFrame)[9..];
        var connection = Concat(s_preface, Frame(0x1, 0x0, 1, block), Frame(0x0, 0x1, 1, new byte[10]), Frame(0x1, 0x4, 3, block));
        Assert.Equal(Convert.ToHexString(connection), Convert.ToHexString(await ReadThroughAsync(connection, 7, wholeFrames: false)));
    }

    /// <summary>A connection's bytes as etcdctl would send them, and the same bytes as the node must hand to Kestrel.</summary>
    private static (byte[] Connection, byte[] Expected) Connection()
    {
        var status = Convert.FromHexString(StatusHeadersFrame);
        var block = status[9..];
        var rewrittenBlock = (byte[])block.Clone();
        UrlAuthority.RewriteHeaderBlock(rewrittenBlock);
        var put = Convert.FromHexString(PutHeadersFrame);
        var big = new byte[40_000];
        new Random(7).NextBytes(big);

        // The same block again as HEADERS (padded, with priority) + CONTINUATION, split inside the authority's value.
        var split = 40;
        byte[] Padded(byte[] b) => Concat([3], [0, 0, 0, 0, 16], b[..split], [0, 0, 0]);
        var settings = Frame(0x4, 0x0, 0, new byte[6]);
        byte[] Stream(byte[] headerBlock) => Concat(
            s_preface, settings, Frame(0x1, 0x4, 1, headerBlock), Frame(0x0, 0x1, 1, [0, 0, 0, 0, 0]),
            Frame(0x1, 0x8 | 0x20, 3, Padded(headerBlock)), Frame(0x9, 0x4, 3, headerBlock[split..]), Frame(0x0, 0x1, 3, big),
            put, Frame(0x8, 0x0, 0, [0, 0, 0, 50]));
        return (Stream(block), Stream(rewrittenBlock));
    }

    /// <summary>
    /// Writes <paramref name="connection"/> into a pipe <paramref name="chunk"/> bytes at a time while a reader reads it
    /// through <see cref="UrlAuthorityReader"/>: consuming all it is given, or (as Kestrel does) only whole frames.
    /// </summary>
    private static async Task<byte[]> ReadThroughAsync(byte[] connection, int chunk, bool wholeFrames)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var writing = Task.Run(async () =>
        {
            for (var at = 0; at < connection.Length; at += chunk)
            {
                await pipe.Writer.WriteAsync(connection.AsMemory(at, Math.Min(chunk, connection.Length - at)));
            }

            await pipe.Writer.CompleteAsync();
        });

        var reader = UrlAuthorityReader.Over(pipe.Reader);
        var output = new MemoryStream();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, "the reader did not hand over the whole connection");
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            var take = wholeFrames && !result.IsCompleted ? WholeFrames(buffer, output.Length) : buffer.Length;
            foreach (var segment in buffer.Slice(0, take))
            {
                output.Write(segment.Span);
            }

            reader.AdvanceTo(buffer.GetPosition(take), buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await reader.CompleteAsync();
        await writing;
        return output.ToArray();
    }

    /// <summary>How much of <paramref name="buffer"/> is the preface and whole frames (given how much was taken before).</summary>
    private static long WholeFrames(ReadOnlySequence<byte> buffer, long taken)
    {
        long at = 0;
        if (taken == 0)
        {
            if (buffer.Length < s_preface.Length)
            {
                return 0;
            }

            at = s_preface.Length;
        }

        while (buffer.Length - at >= 9)
        {
            var header = buffer.Slice(at, 3).ToArray();
            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            if (buffer.Length - at - 9 < length)
            {
                break;
            }

            at += 9 + length;
        }

        return at;
    }

    private static byte[] Frame(byte type, byte flags, int stream, byte[] payload) =>
        Concat([(byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length, type, flags, (byte)(stream >> 24), (byte)(stream >> 16), (byte)(stream >> 8), (byte)stream], payload);

    private static byte[] StringLiteral(byte[] octets, bool huffman)
    {
        Assert.True(octets.Length < 127);
        return Concat([(byte)((huffman ? 0x80 : 0) | octets.Length)], octets);
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
