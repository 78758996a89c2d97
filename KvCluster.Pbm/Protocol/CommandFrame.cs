using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace KvCluster.Pbm;

/// <summary>
/// The pbm wire protocol, over one TCP connection.
/// </summary>
/// <remarks>
/// <list type="number">
/// <item>Every message is a frame: a 4-byte big-endian unsigned length N, then N bytes of UTF-8
/// (no byte-order mark). A request frame may hold at most
/// <see cref="CommandHostSettings.MaxRequestBytes"/> (64 KiB by default), a response at most
/// <see cref="MaxResponseBytes"/>.</item>
/// <item>The client sends a request: one command line, for example <c>cluster show</c>. Words are
/// separated by spaces; quotes group words. A line may start with <c>--output json</c> (or
/// <c>--output text</c>, the default).</item>
/// <item>The host answers each request with exactly one response frame, in order; a connection
/// may carry any number of requests, one at a time.</item>
/// <item>A response is a status word (<c>ok</c>, <c>usage</c> or <c>failed</c>), a line feed, then
/// the body: the command's text output (lines separated by '\n'; for <c>usage</c> the problem and
/// a <c>usage: ...</c> line), or with <c>--output json</c> one JSON object
/// <c>{"status", "command", "output", "data"}</c>.</item>
/// <item>A request frame larger than the limit, or bytes that are not UTF-8, are answered with a
/// last <c>failed</c> response naming the problem; then the host closes that connection and logs
/// it. Other connections are not affected.</item>
/// </list>
/// </remarks>
public static class CommandFrame
{
    /// <summary>Size of the length prefix.</summary>
    public const int HeaderSize = 4;

    /// <summary>Largest response payload a host sends and a client accepts (4 MiB).</summary>
    public const int MaxResponseBytes = 4 * 1024 * 1024;

    /// <summary>UTF-8 that throws on invalid bytes instead of substituting them.</summary>
    internal static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Formats a response payload: the status word, '\n', the body.</summary>
    public static string FormatResponse(CommandStatus status, string body) => CommandDispatcher.StatusWord(status) + "\n" + body;

    /// <summary>
    /// Writes one frame holding <paramref name="payload"/> and flushes. The caller serialises
    /// writes on a stream. The buffer is rented and returned before this completes.
    /// </summary>
    public static async Task WriteAsync(Stream stream, string payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(payload);
        var length = StrictUtf8.GetByteCount(payload);
        var buffer = ArrayPool<byte>.Shared.Rent(HeaderSize + length);
        try
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)length);
            StrictUtf8.GetBytes(payload, 0, payload.Length, buffer, HeaderSize);
            await stream.WriteAsync(buffer.AsMemory(0, HeaderSize + length), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
