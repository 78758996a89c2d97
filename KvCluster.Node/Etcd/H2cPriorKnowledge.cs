using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Http.Features;
using KvCluster.Node.Etcd.Hpack;

namespace KvCluster.Node.Etcd;

/// <summary>
/// Lets one cleartext Kestrel endpoint serve both HTTP/1.1 (curl, Prometheus: <c>/health</c>, <c>/metrics</c>) and
/// HTTP/2 with prior knowledge (etcd's gRPC clients, which speak h2c without an upgrade), as etcd's client port does.
/// Kestrel (.NET 10) picks HTTP/1.1 for every cleartext connection of an <c>Http1AndHttp2</c> endpoint: without TLS
/// there is no ALPN to choose by, and it does not look at the bytes (dotnet/aspnetcore#56984). This connection
/// middleware looks at the first bytes without consuming them: a connection that opens with HTTP/2's preface
/// (<c>PRI * HTTP/2.0</c>, RFC 9113 §3.4) is marked as if ALPN had chosen "h2", which Kestrel's protocol selection
/// honours; any other connection goes on as HTTP/1.1. The marked connection is still cleartext: the endpoint allows
/// the <c>:scheme</c> "http" those clients send (<c>KestrelServerOptions.AllowAlternateSchemes</c>). Its input is read
/// through <see cref="UrlAuthorityReader"/>, so that the URL etcdctl sends as <c>:authority</c> when given
/// <c>http://host:port</c> endpoints passes Kestrel's Host check.
/// </summary>
internal static class H2cPriorKnowledge
{
    /// <summary>The bytes that tell the HTTP/2 preface from every HTTP/1.x method ("PRI" vs "PROPFIND", "POST", "PUT"...).</summary>
    private static ReadOnlySpan<byte> PrefaceStart => "PRI * HTTP/2.0"u8;

    /// <summary>The connection middleware (for <c>ListenOptions.Use</c>).</summary>
    public static ConnectionDelegate Middleware(ConnectionDelegate next) => async connection =>
    {
        if (await StartsWithPrefaceAsync(connection).ConfigureAwait(false))
        {
            var marker = new Http2Marker();
            connection.Features.Set<ITlsConnectionFeature>(marker);
            connection.Features.Set<ITlsApplicationProtocolFeature>(marker);
            connection.Transport = UrlAuthorityReader.Wrap(connection.Transport);
        }

        await next(connection).ConfigureAwait(false);
    };

    /// <summary>What the first bytes say: true for HTTP/2's preface; false for anything else (or a closed connection).</summary>
    internal static async Task<bool> StartsWithPrefaceAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        long examined = 0;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(connection.ConnectionClosed).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            var buffer = result.Buffer;
            var verdict = Classify(buffer);
            if (verdict is null && !result.IsCompleted && !result.IsCanceled)
            {
                // Too few bytes to tell: examined all, consumed nothing, so the next read waits for more.
                examined = buffer.Length;
                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            // Consume nothing and examine no more than before: Kestrel's first read sees the same bytes at once.
            input.AdvanceTo(buffer.Start, buffer.GetPosition(examined));
            return verdict ?? false;
        }
    }

    /// <summary>True: the preface; false: not it; null: too few bytes to tell.</summary>
    internal static bool? Classify(ReadOnlySequence<byte> buffer)
    {
        var length = (int)Math.Min(buffer.Length, PrefaceStart.Length);
        Span<byte> head = stackalloc byte[PrefaceStart.Length];
        buffer.Slice(0, length).CopyTo(head);
        if (!head[..length].SequenceEqual(PrefaceStart[..length]))
        {
            return false;
        }

        return length == PrefaceStart.Length ? true : null;
    }

    /// <summary>The features that make Kestrel select HTTP/2 for a cleartext connection that opened with the preface.</summary>
    private sealed class Http2Marker : ITlsConnectionFeature, ITlsApplicationProtocolFeature
    {
        private static readonly ReadOnlyMemory<byte> s_h2 = "h2"u8.ToArray();

        public ReadOnlyMemory<byte> ApplicationProtocol => s_h2;

        public X509Certificate2? ClientCertificate
        {
            get => null;
            set { }
        }

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
