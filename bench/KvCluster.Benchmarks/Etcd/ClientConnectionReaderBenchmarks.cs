using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using KvCluster.Node.Etcd.Hpack;

namespace KvCluster.Benchmarks.Etcd;

/// <summary>
/// What reading a client connection through <see cref="UrlAuthorityReader"/> costs on the hot path: 1,000 unary gRPC
/// requests (a HEADERS frame as etcdctl 3.4 sends it and a 300-byte DATA frame each) written into a pipe and read out
/// again, straight from the pipe (the baseline: Kestrel without the reader) and through the reader, with a host:port
/// authority (nothing to rewrite, every client but etcdctl given URLs) and with a URL authority (rewritten every time).
/// </summary>
[MemoryDiagnoser]
public class ClientConnectionReaderBenchmarks
{
    private const int Requests = 1000;

    // Captured from etcdctl 3.4.23 (see KvCluster.Tests/Etcd/UrlAuthoritySpecs.cs): `put` (127.0.0.1:12380) and
    // `endpoint status` (http://127.0.0.1:12380).
    private const string HostPortHeaders =
        "00006a0104000000018386458f60a924882d9dcb6571af9b8b1aed4f418b089d5c0b8170dc0899781f5f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f8669f7da7d976d408d25062d495875996ee5b1063d5f03332e34";

    private const string UrlHeaders =
        "0000770104000000018386459760a924882d9dcb6571afa066a925a87510ac6e48d36a3f41909d29aee30c044eae05c0b86e044cbc0f5f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f8669f75b03c0b7408d25062d495875996ee5b1063d5f03332e34";

    private byte[] _hostPort = null!;
    private byte[] _url = null!;

    [GlobalSetup]
    public void Setup()
    {
        _hostPort = Connection(HostPortHeaders);
        _url = Connection(UrlHeaders);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Requests)]
    public long PipeAlone() => Drain(_hostPort, wrap: false);

    [Benchmark(OperationsPerInvoke = Requests)]
    public long ReaderHostPortAuthority() => Drain(_hostPort, wrap: true);

    [Benchmark(OperationsPerInvoke = Requests)]
    public long ReaderUrlAuthority() => Drain(_url, wrap: true);

    private static long Drain(byte[] connection, bool wrap)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 4096, useSynchronizationContext: false));
        PipeReader reader = wrap ? UrlAuthorityReader.Over(pipe.Reader) : pipe.Reader;
        long read = 0;

        // Written in socket-sized pieces, each read out before the next, as Kestrel's read loop sees a connection.
        for (var at = 0; at < connection.Length; at += 16384)
        {
            var piece = connection.AsSpan(at, Math.Min(16384, connection.Length - at));
            piece.CopyTo(pipe.Writer.GetSpan(piece.Length));
            pipe.Writer.Advance(piece.Length);
            _ = pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            while (reader.TryRead(out var result))
            {
                read += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
            }
        }

        pipe.Writer.Complete();
        reader.Complete();
        return read;
    }

    private static byte[] Connection(string headersHex)
    {
        var headers = Convert.FromHexString(headersHex);
        var data = new byte[9 + 300];
        data[1] = 300 >> 8;
        data[2] = 300 & 0xFF;
        data[4] = 0x1; // END_STREAM
        var stream = new ArrayBufferWriter<byte>();
        stream.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8);
        stream.Write(new byte[9] { 0, 0, 0, 4, 0, 0, 0, 0, 0 });
        for (var i = 0; i < Requests; i++)
        {
            var id = 2 * i + 1;
            headers[5] = data[5] = (byte)(id >> 24);
            headers[6] = data[6] = (byte)(id >> 16);
            headers[7] = data[7] = (byte)(id >> 8);
            headers[8] = data[8] = (byte)id;
            stream.Write(headers);
            stream.Write(data);
        }

        return stream.WrittenSpan.ToArray();
    }
}
