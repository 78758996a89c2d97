using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace KvCluster.Pbm;

/// <summary>The accept loop and the serving of one connection.</summary>
public sealed partial class CommandHost
{
    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || (ex is SocketException && _stopping.IsCancellationRequested))
            {
                return;
            }
            catch (SocketException ex)
            {
                // A connection reset before it was accepted: nothing to serve, keep listening.
                _logger.LogDebug("pbm accept failed: {Reason}", ex.Message);
                continue;
            }

            var id = Interlocked.Increment(ref _nextConnectionId);
            socket.NoDelay = true;
            if (_connections.Count >= Settings.MaxConnections)
            {
                Interlocked.Increment(ref _refused);
                _logger.LogWarning("pbm connection from {Peer} refused: {Max} connections are open (setting MaxConnections).", socket.RemoteEndPoint, Settings.MaxConnections);
                _ = RefuseAsync(socket);
                continue;
            }

            Interlocked.Increment(ref _accepted);
            var served = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[id] = (socket, served.Task);
            _ = Task.Run(async () =>
            {
                try
                {
                    await ServeAsync(socket).ConfigureAwait(false);
                }
                finally
                {
                    socket.Dispose();
                    _connections.TryRemove(id, out _);
                    served.TrySetResult();
                }
            });
        }
    }

    private async Task RefuseAsync(Socket socket)
    {
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await CommandFrame.WriteAsync(stream, CommandFrame.FormatResponse(CommandStatus.Failed, $"the command host serves at most {Settings.MaxConnections} connections at once; try again later"), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The refused peer is gone already.
        }
    }

    /// <summary>
    /// Serves one connection, scenario by scenario:
    /// 1. Read a 4-byte length within <see cref="CommandHostSettings.IdleTimeout"/>; a clean end of
    ///    stream here is the client hanging up, an idle timeout closes quietly.
    /// 2. A length above <see cref="CommandHostSettings.MaxRequestBytes"/>: answer <c>failed</c>,
    ///    log, close (the body is never read, so a hostile size costs nothing).
    /// 3. Read the body; a stream that ends inside a frame is logged and closed.
    /// 4. Decode strict UTF-8; invalid bytes: answer <c>failed</c>, log, close.
    /// 5. Run the command line, answer, go to 1.
    /// </summary>
    private async Task ServeAsync(Socket socket)
    {
        var peer = socket.RemoteEndPoint?.ToString() ?? "unknown peer";
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var header = new byte[CommandFrame.HeaderSize];
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                idle.CancelAfter(Settings.IdleTimeout);
                var read = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, idle.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                if (read < header.Length)
                {
                    Reject(peer, $"the stream ended inside a frame's length ({read} of {header.Length} bytes)");
                    return;
                }

                var length = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (length > (uint)Settings.MaxRequestBytes)
                {
                    var problem = $"request frame of {length} bytes exceeds the maximum of {Settings.MaxRequestBytes} bytes";
                    Reject(peer, problem);
                    await CommandFrame.WriteAsync(stream, CommandFrame.FormatResponse(CommandStatus.Failed, problem + "; closing the connection"), idle.Token).ConfigureAwait(false);
                    return;
                }

                string line;
                var body = ArrayPool<byte>.Shared.Rent((int)Math.Max(1, length));
                try
                {
                    read = await stream.ReadAtLeastAsync(body.AsMemory(0, (int)length), (int)length, throwOnEndOfStream: false, idle.Token).ConfigureAwait(false);
                    if (read < length)
                    {
                        Reject(peer, $"the stream ended inside a frame ({read} of {length} bytes)");
                        return;
                    }

                    try
                    {
                        line = CommandFrame.StrictUtf8.GetString(body, 0, (int)length);
                    }
                    catch (DecoderFallbackException ex)
                    {
                        var problem = $"request frame is not valid UTF-8 (byte offset {ex.Index})";
                        Reject(peer, problem);
                        await CommandFrame.WriteAsync(stream, CommandFrame.FormatResponse(CommandStatus.Failed, problem + "; closing the connection"), idle.Token).ConfigureAwait(false);
                        return;
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(body);
                }

                var response = await ExecuteLinkedAsync(line, _stopping.Token).ConfigureAwait(false);
                var payload = CommandFrame.FormatResponse(response.Status, response.Body);
                if (CommandFrame.StrictUtf8.GetByteCount(payload) > Settings.MaxResponseBytes)
                {
                    payload = CommandFrame.FormatResponse(CommandStatus.Failed, $"the output of '{line}' exceeds {Settings.MaxResponseBytes} bytes; narrow the command (for example actor hierarchy -d 2)");
                }

                _logger.LogDebug("pbm {Peer}: '{Line}' -> {Status}", peer, line, response.Status);
                await CommandFrame.WriteAsync(stream, payload, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            if (!_stopping.IsCancellationRequested)
            {
                _logger.LogDebug("pbm connection from {Peer} closed after {Timeout} idle.", peer, Settings.IdleTimeout);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _logger.LogDebug("pbm connection from {Peer} closed: {Reason}", peer, ex.Message);
        }
    }

    private void Reject(string peer, string problem)
    {
        Interlocked.Increment(ref _malformed);
        _logger.LogWarning("pbm connection from {Peer} closed: {Problem}. Other connections are not affected.", peer, problem);
    }
}
