using System.Net;
using System.Net.Sockets;

namespace KvCluster.Benchmarks.Remote;

/// <summary>The baseline: a plain-socket server echoing fixed-size messages, one connection at a time.</summary>
internal sealed class RawEchoServer : IDisposable
{
    private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();

    public RawEchoServer()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _ = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptAsync(_stop.Token);
                socket.NoDelay = true;
                _ = Task.Run(() => EchoAsync(socket));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task EchoAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = new byte[RemotePingPongCommand.PayloadBytes + 4];
            try
            {
                while (true)
                {
                    var read = 0;
                    while (read < buffer.Length)
                    {
                        var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None);
                        if (n == 0)
                        {
                            return;
                        }

                        read += n;
                    }

                    await socket.SendAsync(buffer, SocketFlags.None);
                }
            }
            catch (SocketException)
            {
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}
