using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace KvCluster.Chaos;

/// <summary>
/// One command to a node's pbm command host over TCP (frames: 4-byte big-endian length, then UTF-8;
/// the response is a status word, '\n', the body). A new connection per command keeps it simple and
/// immune to a node that was killed or paused meanwhile.
/// </summary>
internal static class PbmChannel
{
    /// <summary>Sends <paramref name="line"/> to 127.0.0.1:<paramref name="port"/>; null when the host did not answer within <paramref name="timeout"/>.</summary>
    public static async Task<(string Status, string Body)?> SendAsync(int port, string line, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", port, deadline.Token).ConfigureAwait(false);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var payload = Encoding.UTF8.GetBytes(line);
            var frame = new byte[4 + payload.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
            payload.CopyTo(frame, 4);
            await stream.WriteAsync(frame, deadline.Token).ConfigureAwait(false);
            var header = new byte[4];
            await stream.ReadExactlyAsync(header, deadline.Token).ConfigureAwait(false);
            var length = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (length > 4 * 1024 * 1024)
            {
                return null;
            }

            var body = new byte[length];
            await stream.ReadExactlyAsync(body, deadline.Token).ConfigureAwait(false);
            var text = Encoding.UTF8.GetString(body);
            var newline = text.IndexOf('\n', StringComparison.Ordinal);
            return newline < 0 ? (text, string.Empty) : (text[..newline], text[(newline + 1)..]);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }
}
