using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KvCluster.Pbm;

namespace KvCluster.Tests.Cmd;

/// <summary>A raw client of the pbm protocol, able to send well-formed and malformed frames.</summary>
internal sealed class CmdTestClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private CmdTestClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<CmdTestClient> ConnectAsync(CommandHost host)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, host.LocalEndPoint!.Port);
        return new CmdTestClient(tcp);
    }

    public Task<(string Status, string Body)> AskAsync(string line) => SendFrameAsync(Encoding.UTF8.GetBytes(line));

    public async Task<(string Status, string Body)> SendFrameAsync(byte[] payload)
    {
        await WriteRawAsync(Frame(payload));
        return await ReadResponseAsync();
    }

    public async Task WriteRawAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    public async Task<(string Status, string Body)> ReadResponseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var header = new byte[4];
        await _stream.ReadExactlyAsync(header, timeout.Token);
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
        await _stream.ReadExactlyAsync(body, timeout.Token);
        var text = Encoding.UTF8.GetString(body);
        var newline = text.IndexOf('\n');
        return (text[..newline], text[(newline + 1)..]);
    }

    /// <summary>True when the host closed the connection (the next read returns end of stream).</summary>
    public async Task<bool> IsClosedByHostAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return await _stream.ReadAsync(new byte[1], timeout.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public static byte[] Frame(byte[] payload)
    {
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame, 4);
        return frame;
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
