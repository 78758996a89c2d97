using System.Net;
using Akka.Actor;
using KvCluster.Node.Hosting;
using KvCluster.Raft.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using KvCluster.Node.Etcd.Hpack;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace KvCluster.Node.Etcd;

/// <summary>
/// The node's client port: Kestrel serving etcd's v3 gRPC API (KV, Cluster, Maintenance, Lease; the other etcd services
/// answer Unimplemented) over cleartext HTTP/2 with prior knowledge, and <c>/health</c>, <c>/version</c>,
/// <c>/metrics</c> and etcd's JSON gateway (<c>POST /v3/...</c>, <see cref="EtcdJsonGateway"/>) over HTTP/1.1, on one
/// port (<see cref="H2cPriorKnowledge"/>). A background loop refreshes the
/// node's Raft status every <see cref="s_statusInterval"/> for the response headers' term and the Raft metrics.
/// Started by <see cref="KvNode"/> after its actors, stopped first in its shutdown (service-unbind).
/// </summary>
public sealed class EtcdServer : IAsyncDisposable
{
    /// <summary>How often the Raft gauges and the headers' term are refreshed.</summary>
    private static readonly TimeSpan s_statusInterval = TimeSpan.FromMilliseconds(250);

    private readonly WebApplication _app;
    private readonly EtcdGateway _gateway;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stopping = new();
    private Task _statusLoop = Task.CompletedTask;
    private int _stopped;

    private EtcdServer(WebApplication app, EtcdGateway gateway, ILogger log)
    {
        _app = app;
        _gateway = gateway;
        _log = log;
    }

    /// <summary>The port it listens on (the bound one when the setting asked for a free port).</summary>
    public int Port { get; private set; }

    /// <summary>
    /// Starts the client listener of <paramref name="node"/> on <see cref="NodeOptions.ClientPort"/>.
    /// </summary>
    /// <exception cref="IOException">The port cannot be bound; the message names it.</exception>
    public static async Task<EtcdServer> StartAsync(KvNode node, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(node);
        var options = node.Options;
        var metrics = new EtcdMetrics(RaftJournalMetrics.NodeOf(node.System));
        var gateway = new EtcdGateway(node, metrics);
        var tls = options.LoadClientTls();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddLogging();
        builder.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(new ExpectedWarningFilter(loggerFactory)));
        builder.Services.Replace(ServiceDescriptor.Singleton<IHostLifetime, QuietLifetime>());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.AllowAlternateSchemes = true;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes + EtcdGrpcOverheadBytes;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            kestrel.Listen(BindAddress(options.ClientBindHost), options.ClientPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                if (tls is null)
                {
                    listen.Use(H2cPriorKnowledge.Middleware);
                    return;
                }

                // TLS: ALPN picks HTTP/2 for gRPC clients and HTTP/1.1 for curl; etcdctl's URL authority is handled on
                // the decrypted HTTP/2 connections as on cleartext ones.
                listen.UseHttps(https =>
                {
                    https.ServerCertificateChain = tls.Chain;
                    https.ServerCertificate = tls.Certificate;
                    if (tls.RequireClientCertificate)
                    {
                        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                        https.ClientCertificateValidation = (certificate, _, _) => tls.IsTrustedClient(certificate);
                    }
                });
                listen.Use(UrlAuthorityReader.Middleware);
            });
        });
        builder.Services.AddRoutingCore();
        builder.Services.AddSingleton(gateway);
        builder.Services.AddSingleton(new EtcdJsonGateway(options.MaxRequestBytes + EtcdGrpcOverheadBytes, tls));
        builder.Services.AddSingleton(new LeaseIdGenerator(node.NodeId, DateTimeOffset.UtcNow));
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton<EtcdMetricsInterceptor>();
        builder.Services.AddSingleton<EtcdRequireLeaderInterceptor>();
        builder.Services.AddSingleton(new EtcdAuthTokens(TimeSpan.FromSeconds(options.AuthTokenTtl)));
        builder.Services.AddSingleton<EtcdAuthInterceptor>();
        // grpc.health.v1.Health, as etcd registers it: SERVING while this node knows a Raft leader (what /health says),
        // NOT_SERVING otherwise; for grpc_health_probe and Kubernetes' gRPC probes. Checked on each call.
        builder.Services.AddGrpcHealthChecks()
            .AddAsyncCheck("raft", async cancellationToken => await gateway.UnhealthyReasonAsync(cancellationToken).ConfigureAwait(false) is { } reason
                ? HealthCheckResult.Unhealthy(reason)
                : HealthCheckResult.Healthy());
        builder.Services.AddGrpc(grpc =>
        {
            // etcd's gRPC limit: the request limit plus room for the envelope (embed/config.go: MaxRequestBytes + 512 KiB).
            grpc.MaxReceiveMessageSize = options.MaxRequestBytes + EtcdGrpcOverheadBytes;
            grpc.MaxSendMessageSize = null;
            grpc.EnableDetailedErrors = false;
            grpc.Interceptors.Add<EtcdMetricsInterceptor>();
            grpc.Interceptors.Add<EtcdRequireLeaderInterceptor>();
            grpc.Interceptors.Add<EtcdAuthInterceptor>();
        });
        var app = builder.Build();
        app.MapGrpcService<EtcdKvService>();
        app.MapGrpcService<EtcdMaintenanceService>();
        app.MapGrpcService<EtcdClusterService>();
        app.MapGrpcService<EtcdLeaseService>();
        app.MapGrpcService<EtcdWatchService>();
        app.MapGrpcService<EtcdAuthService>();
        app.MapGrpcHealthChecksService();
        EtcdHttpEndpoints.Map(app, gateway);
        EtcdJsonGateway.Map(app);
        app.MapMetrics("/metrics", metrics.Registry);

        var server = new EtcdServer(app, gateway, loggerFactory.CreateLogger<EtcdServer>());
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            metrics.Dispose();
            throw new IOException($"the client port {options.ClientBindHost}:{options.ClientPort} could not be bound (is it in use? --client-port / Node:ClientPort): {e.Message}", e);
        }

        server.Port = options.ClientPort;
        server._statusLoop = server.RefreshStatusAsync(server._stopping.Token);
        return server;
    }

    /// <summary>Room above <see cref="NodeOptions.MaxRequestBytes"/> for gRPC's envelope, as etcd leaves (512 KiB).</summary>
    internal const int EtcdGrpcOverheadBytes = 512 * 1024;

    /// <summary>Stops listening; waits for calls in flight (their router answers them) up to the host's timeout.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _log.LogWarning("The client port's listener did not stop within 10 s; closing it.");
        }

        await _statusLoop.ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _gateway.Metrics.Dispose();
        _stopping.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>The address Kestrel binds for <paramref name="host"/> (an IP, localhost, or any address for a name).</summary>
    internal static IPAddress BindAddress(string host) =>
        IPAddress.TryParse(host, out var address) ? address
        : host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.Any;

    private async Task RefreshStatusAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(s_statusInterval);
        try
        {
            do
            {
                try
                {
                    await _gateway.RaftStatusAsync(stopping).ConfigureAwait(false);
                    _gateway.Metrics.ObserveDisk(_gateway.Node);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The Raft node is busy or stopping, or the journal file moved under a checkpoint: try next round.
                    _log.LogDebug("Client port: the Raft status was not refreshed ({Reason}).", e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>The web host's lifetime: the node owns the signals (<see cref="NodeProgram"/>), not the console.</summary>
    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
