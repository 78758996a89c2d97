using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using KvCluster.Actors.Remote.Protocol;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Tests.Remote;

/// <summary>A hand-driven TCP peer for hostile-input tests.</summary>
internal sealed class RawPeer : IDisposable
{
    private RawPeer(Socket socket)
    {
        Socket = socket;
    }

    public Socket Socket { get; }

    public static async Task<RawPeer> ConnectAsync(RemoteAddress to)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(to.Host), to.Port));
        return new RawPeer(socket);
    }

    public static byte[] HandshakeFrame(RemoteAddress to, string system = "raw", int port = 9, ulong uid = 42) =>
        Control(FrameKind.Handshake, new Handshake
        {
            ProtocolVersion = RemoteSettings.ProtocolVersion,
            ClusterName = "akkakv",
            SystemName = system,
            Host = "127.0.0.1",
            Port = port,
            Uid = uid,
            ExpectedSystemName = to.System,
        });

    public static byte[] Control(FrameKind kind, IMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameCodec.WriteControl(writer, kind, message);
        return writer.WrittenSpan.ToArray();
    }

    public async Task SendAsync(byte[] bytes)
    {
        try
        {
            await Socket.SendAsync(bytes);
        }
        catch (SocketException)
        {
            // The server may already have closed the connection: that is what these tests provoke.
        }
    }

    /// <summary>Reads until the server closes the connection (returns true) or the timeout.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? RemoteTestNode.WaitTimeout);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = await Socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Reads one frame (tests of the handshake answer).</summary>
    public async Task<(FrameKind Kind, byte[] Body)> ReadFrameAsync()
    {
        using var cts = new CancellationTokenSource(RemoteTestNode.WaitTimeout);
        var header = new byte[FrameCodec.HeaderSize];
        await ReadExactlyAsync(header, cts.Token);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header);
        var body = new byte[length - 1];
        await ReadExactlyAsync(body, cts.Token);
        return ((FrameKind)header[4], body);
    }

    private async Task ReadExactlyAsync(byte[] target, CancellationToken ct)
    {
        var read = 0;
        while (read < target.Length)
        {
            var n = await Socket.ReceiveAsync(target.AsMemory(read), SocketFlags.None, ct);
            if (n == 0)
            {
                throw new IOException("closed");
            }

            read += n;
        }
    }

    public void Dispose() => Socket.Dispose();
}
