using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace KvCluster.Client.Cli;

/// <summary>One response of a pbm command host.</summary>
/// <param name="Status">The status word: <c>ok</c>, <c>usage</c> or <c>failed</c>.</param>
/// <param name="Body">The text output, or the JSON object when the request began with <c>--output json</c>.</param>
internal readonly record struct PbmReply(string Status, string Body);

/// <summary>The connection to a pbm host could not be opened (refused, unresolvable, timed out).</summary>
internal sealed class PbmUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The client side of the pbm protocol (the host side is <c>KvCluster.Pbm</c>'s <c>CommandFrame</c>,
/// which this project may not reference): frames are a 4-byte big-endian length then that many
/// bytes of UTF-8; a request is a command line; a response is a status word, '\n', the body.
/// One request at a time per client; not thread-safe.
/// </summary>
internal sealed class PbmClient : IAsyncDisposable
{
    /// <summary>Largest response accepted (the host's limit, 4 MiB).</summary>
    public const int MaxResponseBytes = 4 * 1024 * 1024;

    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private PbmClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Opens a connection to <paramref name="host"/>:<paramref name="port"/> within <paramref name="timeout"/>.</summary>
    /// <exception cref="PbmUnavailableException">It could not be opened; the message says why.</exception>
    public static async Task<PbmClient> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            return new PbmClient(socket);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new PbmUnavailableException($"cannot connect to pbm host {host}:{port}: {ex.Message}", ex);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new PbmUnavailableException($"cannot connect to pbm host {host}:{port}: no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends one command line and reads its response.</summary>
    /// <exception cref="IOException">The connection broke, or the host sent a malformed or oversized response; the message says which.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired (for example the caller's timeout).</exception>
    public async Task<PbmReply> SendAsync(string commandLine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var payload = s_utf8.GetBytes(commandLine);
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame, 4);
        await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);

        var header = new byte[4];
        var read = await _stream.ReadAtLeastAsync(header, 4, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < 4)
        {
            throw new IOException("the pbm host closed the connection without answering");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > MaxResponseBytes)
        {
            throw new IOException($"the pbm host announced a response of {length} bytes, over the {MaxResponseBytes}-byte limit: is this a pbm port?");
        }

        var body = new byte[length];
        read = await _stream.ReadAtLeastAsync(body, (int)length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < length)
        {
            throw new IOException("the pbm host closed the connection in the middle of a response");
        }

        string text;
        try
        {
            text = s_utf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            throw new IOException("the pbm host sent a response that is not UTF-8: is this a pbm port?");
        }

        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        var status = newline < 0 ? text : text[..newline];
        if (status is not ("ok" or "usage" or "failed"))
        {
            throw new IOException($"the pbm host sent an unknown status '{(status.Length > 20 ? status[..20] + "..." : status)}': is this a pbm port?");
        }

        return new PbmReply(status, newline < 0 ? string.Empty : text[(newline + 1)..]);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
