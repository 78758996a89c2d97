using System.Net;
using System.Net.Sockets;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Bench.Etcd;

/// <summary>
/// One connection to an etcd-API member: a <see cref="GrpcChannel"/> over HTTP/2 cleartext on exactly one TCP
/// connection (many concurrent calls are multiplexed on it), with the generated KV, Cluster and Maintenance stubs.
/// Used by <c>kv bench --target etcd</c> (one per <c>--conns</c>) and by the <c>kv</c> etcd commands.
/// </summary>
internal sealed class EtcdChannel : IDisposable
{
    private readonly GrpcChannel _channel;
    private int _connectionsOpened;

    /// <summary>Creates the channel to <paramref name="endpoint"/>; nothing is sent until the first call.</summary>
    /// <param name="endpoint">The member's client address.</param>
    /// <param name="connectTimeout">Bound on opening the TCP connection.</param>
    /// <param name="tls">The TLS flags; with them (or an https endpoint) the channel speaks TLS.</param>
    public EtcdChannel(BenchEndpoint endpoint, TimeSpan connectTimeout, EtcdClientTls? tls = null)
    {
        Endpoint = endpoint;
        var handler = new SocketsHttpHandler
        {
            // One TCP connection per channel: "--conns 100" means 100 connections, as etcd's benchmark tool.
            EnableMultipleHttp2Connections = false,
            UseProxy = false,
            ConnectTimeout = connectTimeout,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            ConnectCallback = ConnectAsync,
        };
        // etcdctl's rule: TLS for an https endpoint, and for every endpoint once a TLS flag is given.
        var secure = endpoint.Tls || tls is not null;
        if (secure)
        {
            tls?.Apply(handler.SslOptions);
        }

        _channel = GrpcChannel.ForAddress(new Uri($"{(secure ? "https" : "http")}://{endpoint}"), new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            // etcd's default request limit is 1.5 MiB; a range answer may be larger than gRPC's 4 MiB default.
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        });
        Kv = new KV.KVClient(_channel);
        Cluster = new KvCluster.Client.Etcd.Cluster.ClusterClient(_channel);
        Maintenance = new Maintenance.MaintenanceClient(_channel);
        Lease = new KvCluster.Client.Etcd.Lease.LeaseClient(_channel);
        Watch = new KvCluster.Client.Etcd.Watch.WatchClient(_channel);
        Auth = new KvCluster.Client.Etcd.Auth.AuthClient(_channel);
    }

    /// <summary>The member this channel talks to.</summary>
    public BenchEndpoint Endpoint { get; }

    /// <summary>The KV service (Range, Put, DeleteRange, Txn, Compact).</summary>
    public KV.KVClient Kv { get; }

    /// <summary>The Cluster service (members).</summary>
    public KvCluster.Client.Etcd.Cluster.ClusterClient Cluster { get; }

    /// <summary>The Maintenance service (status, move-leader...).</summary>
    public Maintenance.MaintenanceClient Maintenance { get; }

    /// <summary>The Lease service (grant, revoke, keep-alive, time-to-live, list).</summary>
    public KvCluster.Client.Etcd.Lease.LeaseClient Lease { get; }

    /// <summary>The Watch service (a bidirectional stream).</summary>
    public KvCluster.Client.Etcd.Watch.WatchClient Watch { get; }

    /// <summary>The Auth service (authenticate; users, roles, permissions).</summary>
    public KvCluster.Client.Etcd.Auth.AuthClient Auth { get; }

    /// <summary>TCP connections opened so far (1 while the connection lives).</summary>
    public int ConnectionsOpened => Volatile.Read(ref _connectionsOpened);

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _connectionsOpened);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
