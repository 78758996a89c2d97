using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Google.Protobuf;

namespace KvCluster.Client.Bench.Etcd;

/// <summary>
/// One HTTP/2 cleartext connection to one gRPC server, carrying unary calls made by hand:
/// <c>POST /service/Method</c>, <c>content-type: application/grpc</c>, <c>te: trailers</c>, a
/// length-prefixed request message, and the status read from the trailers (or from the headers
/// of a trailers-only response).
/// </summary>
/// <remarks>
/// Each instance owns its own <see cref="SocketsHttpHandler"/>, so N instances are N TCP
/// connections; concurrent calls on one instance are multiplexed as HTTP/2 streams on that
/// connection. Safe for concurrent use by any number of clients.
/// </remarks>
internal sealed class GrpcConnection : IDisposable
{
    private readonly HttpMessageInvoker _http;
    private readonly string _grpcTimeout;

    /// <summary>TCP connections the handler has opened (normally 1; more after a reconnect).</summary>
    private int _connectionsOpened;

    /// <summary>Creates the connection object; the TCP connection is opened by the first call.</summary>
    public GrpcConnection(BenchEndpoint endpoint, TimeSpan requestTimeout)
    {
        Endpoint = endpoint;
        BaseAddress = new Uri($"http://{endpoint}/");
        _grpcTimeout = ((long)Math.Ceiling(requestTimeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "m";
        var handler = new SocketsHttpHandler
        {
            // One connection per handler unless the server's stream limit is reached, as in grpc-go.
            EnableMultipleHttp2Connections = true,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = requestTimeout,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectCallback = ConnectAsync,
        };
        // HttpMessageInvoker rather than HttpClient: no per-request timeout source or pending-request
        // bookkeeping; deadlines come from the caller's token (see EtcdBenchClient).
        _http = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>The server this connection talks to.</summary>
    public BenchEndpoint Endpoint { get; }

    /// <summary>Base address of the server, <c>http://host:port/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Number of TCP connections opened so far by this instance.</summary>
    public int ConnectionsOpened => Volatile.Read(ref _connectionsOpened);

    /// <summary>
    /// Makes one unary call to <paramref name="method"/> (an absolute URI ending in
    /// <c>/package.Service/Method</c>) with an already framed request body and returns the
    /// decoded response. <paramref name="receive"/> is the caller's reusable receive buffer.
    /// <paramref name="cancellationToken"/> carries both the caller's cancellation and the
    /// request deadline: when it fires and <paramref name="isDeadline"/> says it was the deadline,
    /// the call fails as <see cref="BenchErrorKind.Timeout"/>.
    /// Throws <see cref="BenchTargetException"/> for every transport, HTTP, framing or gRPC error.
    /// </summary>
    public async ValueTask<TResponse> CallAsync<TResponse>(
        Uri method,
        byte[] framedRequest,
        MessageParser<TResponse> parser,
        ReceiveBuffer receive,
        Func<bool> isDeadline,
        CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, method)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new GrpcContent(framedRequest),
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("grpc-timeout", _grpcTimeout);
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken)
                .ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var kind = (int)response.StatusCode is 502 or 503 or 504 or 429
                    ? BenchErrorKind.Unavailable
                    : BenchErrorKind.Rejected;
                throw Fail(kind, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase} (not a gRPC response)");
            }

            var contentType = response.Content.Headers.ContentType?.MediaType;
            if (contentType is null || !contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
            {
                throw Fail(BenchErrorKind.Rejected, $"content-type '{contentType}' is not application/grpc");
            }

            // A trailers-only response (errors, usually) carries grpc-status in its headers.
            if (TryGetStatus(response.Headers, out var headerStatus, out var headerMessage))
            {
                ThrowIfNotOk(headerStatus, headerMessage);
                throw Fail(BenchErrorKind.Unavailable, "trailers-only response with status OK carries no message");
            }

            var length = await ReadBodyAsync(response, receive, cancellationToken).ConfigureAwait(false);
            if (!TryGetStatus(response.TrailingHeaders, out var status, out var statusMessage))
            {
                throw Fail(BenchErrorKind.Unavailable, "the response ended without grpc-status");
            }

            ThrowIfNotOk(status, statusMessage);
            return parser.ParseFrom(GrpcFraming.DecodeSingle(receive.Buffer.AsSpan(0, length)));
        }
        catch (Exception e) when ((e is OperationCanceledException or HttpRequestException or IOException) && isDeadline())
        {
            // The deadline fired; whatever the transport reported on the way out, this is a timeout.
            throw Fail(BenchErrorKind.Timeout, "no response within the request timeout", e);
        }
        catch (GrpcFramingException e)
        {
            throw Fail(BenchErrorKind.Unavailable, e.Message, e);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Fail(BenchErrorKind.Unavailable, "malformed protobuf response: " + e.Message, e);
        }
        catch (HttpRequestException e)
        {
            throw Fail(BenchErrorKind.Unavailable, e.Message, e);
        }
        catch (IOException e)
        {
            throw Fail(BenchErrorKind.Unavailable, e.Message, e);
        }
    }

    /// <summary>Disposes the handler and closes its connections.</summary>
    public void Dispose() => _http.Dispose();

    private static async ValueTask<int> ReadBodyAsync(HttpResponseMessage response, ReceiveBuffer receive, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var filled = 0;
            while (true)
            {
                if (filled == receive.Buffer.Length)
                {
                    if (filled >= GrpcFraming.HeaderSize + GrpcFraming.MaxMessageSize)
                    {
                        throw new GrpcFramingException($"response body exceeds {GrpcFraming.HeaderSize + GrpcFraming.MaxMessageSize} bytes");
                    }

                    Array.Resize(ref receive.Buffer, Math.Min(filled * 2, GrpcFraming.HeaderSize + GrpcFraming.MaxMessageSize));
                }

                var read = await stream.ReadAsync(receive.Buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return filled;
                }

                filled += read;
            }
        }
    }

    private static bool TryGetStatus(HttpHeaders headers, out int status, out string? message)
    {
        message = null;
        if (!headers.NonValidated.TryGetValues("grpc-status", out var values))
        {
            status = 0;
            return false;
        }

        var text = values.ToString();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out status))
        {
            status = 2; // UNKNOWN, as grpc-go treats an unparsable status.
            message = $"unparsable grpc-status '{text}'";
            return true;
        }

        if (headers.NonValidated.TryGetValues("grpc-message", out var messages))
        {
            message = Uri.UnescapeDataString(messages.ToString());
        }

        return true;
    }

    private void ThrowIfNotOk(int status, string? message)
    {
        if (status != GrpcStatus.Ok)
        {
            throw Fail(GrpcStatus.ToErrorKind(status), $"{GrpcStatus.Name(status)}: {message}");
        }
    }

    private BenchTargetException Fail(BenchErrorKind kind, string message, Exception? inner = null) =>
        new(kind, $"{Endpoint}: {message}", inner);

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _connectionsOpened);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A request body that is one framed gRPC message already in memory.</summary>
    private sealed class GrpcContent : HttpContent
    {
        private readonly byte[] _frame;

        public GrpcContent(byte[] frame)
        {
            _frame = frame;
            Headers.TryAddWithoutValidation("content-type", "application/grpc");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            stream.WriteAsync(_frame, 0, _frame.Length);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            stream.WriteAsync(_frame, 0, _frame.Length, cancellationToken);

        protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            stream.Write(_frame, 0, _frame.Length);

        protected override bool TryComputeLength(out long length)
        {
            length = _frame.Length;
            return true;
        }
    }
}

/// <summary>A caller-owned, growable receive buffer reused across the calls of one client.</summary>
internal sealed class ReceiveBuffer
{
    /// <summary>The buffer; replaced by a larger one when a response does not fit.</summary>
    public byte[] Buffer = new byte[1024];
}
