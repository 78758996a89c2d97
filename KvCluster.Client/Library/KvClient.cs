using System.Diagnostics;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Tools.Client;
using Akka.Configuration;
using Google.Protobuf;
using KvCluster.Client.Protocol;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace KvCluster.Client;

/// <summary>
/// The AkkaKv client library over Akka.NET's ClusterClient: the client is not a cluster member; it runs a small actor
/// system of its own (remote provider, port 0 on <see cref="KvClientOptions.LocalHost"/>) and sends every request as
/// <c>ClusterClient.Send("/user/kv-router", request, localAffinity: true)</c> to a node's receptionist. Scenarios:
/// <list type="number">
/// <item><see cref="ConnectAsync"/> starts one ClusterClient per contact point (a lane) and asks all of them at once
/// for the cluster's contacts (<see cref="GetContacts"/>); the first answer ends it. It learns every node's endpoint
/// and the leader's.</item>
/// <item>Leader following: a write or a linearizable read goes through the lane that reached the leader when one did;
/// otherwise through any ready lane, and that node's router forwards it to the leader. Serializable reads spread over
/// every ready lane.</item>
/// <item>Fast failover: the client watches its remoting connections. When a node's connection fails or closes (a
/// killed node), its lanes are lost at once: requests in flight there end at once (a write as indeterminate, a read
/// retried elsewhere), and new requests go through other lanes without waiting on the dead node. A node that leaves
/// requests unanswered for <see cref="KvClientOptions.AttemptTimeout"/> (paused, cut off) is avoided the same way
/// until a probe proves it answers. Lanes that are not ready are probed in parallel, never one after the other.</item>
/// <item>Retried (exponential backoff with jitter, until the request's deadline): answers that prove nothing took
/// effect (not leader, unavailable before proposing, busy), requests that could not be sent, and any read. Never
/// retried: a write whose outcome is unknown (no answer, a connection lost while it was in flight, or an
/// indeterminate answer), reported as <see cref="KvTimeoutException"/> or an indeterminate
/// <see cref="KvUnavailableException"/>; a bad request.</item>
/// <item>No call waits longer than its deadline (<see cref="KvClientOptions.ConnectTimeout"/> for connecting, the
/// request's timeout for a request).</item>
/// <item><see cref="DisposeAsync"/> shuts the actor system down through CoordinatedShutdown, so the nodes see the
/// client leave (a remoting shutdown), not fail.</item>
/// </list>
/// Thread-safe: any number of concurrent requests share the lanes.
/// </summary>
public sealed partial class KvClient : IAsyncDisposable
{
    /// <summary>Most lanes a client opens (contacts and learned endpoints).</summary>
    private const int MaxLanes = 16;

    /// <summary>Validated settings.</summary>
    private readonly KvClientOptions _options;

    /// <summary>The client's own actor system (remoting only).</summary>
    private readonly ActorSystem _system;

    /// <summary>Sends every request and receives its answer (see <see cref="ReplyInbox"/>).</summary>
    private readonly ReplyInbox _inbox;

    /// <summary>The ClusterClient settings every lane starts from.</summary>
    private readonly ClusterClientSettings _laneSettings;

    /// <summary>Retries of attempts that proved nothing took effect.</summary>
    private readonly ResiliencePipeline _retry;

    /// <summary>The lanes, one per known endpoint (copy-on-write; appended under <see cref="_lanesGate"/>).</summary>
    private ContactLane[] _lanes = [];

    private readonly object _lanesGate = new();

    /// <summary>Rotates over the lanes when the leader is not reachable directly.</summary>
    private int _cursor;

    /// <summary>Spreads serializable reads over every lane.</summary>
    private int _spread;

    /// <summary>The endpoint believed to lead, boxed for atomic swaps; null when unknown.</summary>
    private EndpointBox? _leader;

    /// <summary>Set once disposal began.</summary>
    private int _disposed;

    private KvClient(KvClientOptions options, ActorSystem system)
    {
        _options = options;
        _system = system;
        _inbox = new ReplyInbox(system, "kv-replies");
        _laneSettings = ClusterClientSettings.Create(system);
        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RetryableAttemptException>(),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
            })
            .Build();
        foreach (var endpoint in options.Endpoints.Distinct())
        {
            AddLane(endpoint);
        }
    }

    /// <summary>The endpoints the client knows (contact points and those learned from the cluster).</summary>
    public IReadOnlyList<KvEndpoint> Endpoints => Volatile.Read(ref _lanes).Select(l => l.Endpoint).ToArray();

    /// <summary>The endpoint believed to lead, or null.</summary>
    public KvEndpoint? Leader => Volatile.Read(ref _leader)?.Endpoint;

    /// <summary>
    /// Starts the client's actor system and finds a node that answers: every contact point is asked at once, the
    /// first answer ends it. Call once; dispose the client when done.
    /// </summary>
    /// <param name="options">Settings (validated).</param>
    /// <param name="loggerFactory">Receives the warnings of the client's actor system; null for none.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <exception cref="ArgumentException">A setting is invalid; the parameter name names it.</exception>
    /// <exception cref="KvUnavailableException">No contact point answered within <see cref="KvClientOptions.ConnectTimeout"/>
    /// (or every one refused the connection before).</exception>
    public static async Task<KvClient> ConnectAsync(KvClientOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var started = Stopwatch.GetTimestamp();
        var system = await StartSystemAsync(options, loggerFactory, cancellationToken).ConfigureAwait(false);
        KvClient? client = null;
        try
        {
            client = new KvClient(options, system);
            system.ActorOf(Props.Create(() => new ConnectionWatcher(client.OnConnectionFailed)), "kv-connection-watcher");
            var left = options.ConnectTimeout - Stopwatch.GetElapsedTime(started);
            await client.DiscoverAsync(left, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await system.Terminate().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>The client actor system's configuration: remote provider, quiet lifecycle, ClusterClient tuning.</summary>
    internal static Config ClientConfig(KvClientOptions options, bool logging)
    {
        var host = options.LocalHost.Replace("\"", string.Empty, StringComparison.Ordinal);
        var level = logging ? "WARNING" : "OFF";
        var hocon = $$"""
            akka {
              loglevel = {{level}}
              stdout-loglevel = OFF
              loggers = ["{{typeof(KvClientLogger).FullName}}, {{typeof(KvClientLogger).Assembly.GetName().Name}}"]
              log-dead-letters = off
              log-dead-letters-during-shutdown = off
              log-config-on-start = off
              actor.provider = remote
              remote {
                # A client that connects, fails or leaves is routine: say nothing of it.
                log-remote-lifecycle-events = off
                dot-netty.tcp {
                  hostname = "{{host}}"
                  port = 0
                  # A request carries a value of up to the node's limit (1 MiB by default, 3 MiB at most): the client's
                  # frames and buffers match the node's (Akka.Remote's default frame is 128 KB).
                  maximum-frame-size = 4MiB
                  send-buffer-size = 4MiB
                  receive-buffer-size = 4MiB
                  {{(options.FaultInjection ? "applied-adapters = [trttl]" : string.Empty)}}
                }
                # A node that refused a connection (not started yet, restarting) is tried again soon.
                retry-gate-closed-for = 200ms
                # Under the throttler a dropped connection shows only when this detector gives up (120 s by default).
                {{(options.FaultInjection ? "transport-failure-detector { heartbeat-interval = 1s, acceptable-heartbeat-pause = 3s }" : string.Empty)}}
              }
              cluster.client {
                # The lanes decide where requests go; ClusterClient's own detector only re-routes a lane whose node
                # went silent without closing its connection.
                heartbeat-interval = 1s
                acceptable-heartbeat-pause = 5s
                establishing-get-contacts-interval = 250ms
                reconnect-timeout = off
                use-legacy-serialization = off
              }
              coordinated-shutdown.run-by-clr-shutdown-hook = on
            }
            """;
        var config = ConfigurationFactory.ParseString(hocon)
            .WithFallback(Serialization.KvProtocolSerializer.Config)
            .WithFallback(ClusterClientReceptionist.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig());
        return string.IsNullOrWhiteSpace(options.AkkaConfig) ? config : ConfigurationFactory.ParseString(options.AkkaConfig).WithFallback(config);
    }

    /// <summary>
    /// Starts the client's actor system within <see cref="KvClientOptions.ConnectTimeout"/> (starting Akka takes a
    /// good part of a second on a small machine); one that starts too late is terminated when it is up.
    /// </summary>
    private static async Task<ActorSystem> StartSystemAsync(KvClientOptions options, ILoggerFactory? loggerFactory, CancellationToken cancellationToken)
    {
        var starting = Task.Run(() => CreateSystem(options, loggerFactory), CancellationToken.None);
        try
        {
            return await starting.WaitAsync(options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            _ = starting.ContinueWith(t => t.Result.Terminate(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            if (e is OperationCanceledException)
            {
                throw;
            }

            throw new KvUnavailableException($"No AkkaKv node answered within {options.ConnectTimeout.TotalMilliseconds:0} ms ({string.Join(", ", options.Endpoints)}): the client's actor system did not even start in that time.");
        }
    }

    private static ActorSystem CreateSystem(KvClientOptions options, ILoggerFactory? loggerFactory)
    {
        var bootstrap = BootstrapSetup.Create().WithConfig(ClientConfig(options, loggerFactory is not null));
        var setup = loggerFactory is null ? ActorSystemSetup.Create(bootstrap) : bootstrap.And(new KvClientLoggerSetup(loggerFactory));
        return ActorSystem.Create("kvclient", setup);
    }

    /// <summary>
    /// Sends one command and returns its result. The result's own status tells NOT_FOUND, VERSION_MISMATCH and
    /// the like; everything else is an exception.
    /// </summary>
    /// <param name="command">The command (put, get, delete, delete_range or range).</param>
    /// <param name="consistency">For reads: linearizable (default) or serializable.</param>
    /// <param name="timeout">The deadline, retries included; null for <see cref="KvClientOptions.RequestTimeout"/>.</param>
    /// <param name="cancellationToken">Abandons the wait (a write may still take effect).</param>
    /// <exception cref="KvBadRequestException">The command is malformed or over a limit.</exception>
    /// <exception cref="KvNotLeaderException">No leader could be reached before the deadline.</exception>
    /// <exception cref="KvUnavailableException">No node could serve it (see its <c>Indeterminate</c>).</exception>
    /// <exception cref="KvTimeoutException">The deadline passed; a write may or may not have been committed.</exception>
    public async Task<KvResult> ExecuteAsync(KvCommand command, ReadConsistency consistency = ReadConsistency.Linearizable, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var isWrite = command.OpCase is KvCommand.OpOneofCase.Put or KvCommand.OpOneofCase.Delete or KvCommand.OpOneofCase.DeleteRange;
        var budget = timeout ?? _options.RequestTimeout;
        var deadline = DateTime.UtcNow + budget;
        var state = new AttemptState(command, consistency, isWrite, deadline);

        try
        {
            // The first attempt runs outside the retry pipeline: its Ask is bounded by the deadline already, so the
            // common case (answered at once) pays for neither the pipeline nor a linked token source and its timer.
            try
            {
                return await AttemptAsync(state, cancellationToken).ConfigureAwait(false);
            }
            catch (RetryableAttemptException first)
            {
                if (first.Kind != AttemptFailure.NotLeader)
                {
                    // The pipeline's own first try is immediate: keep the backoff a failed first attempt would have had.
                    await Task.Delay(_options.RetryDelay, cancellationToken).ConfigureAwait(false);
                }
            }

            var left = deadline - DateTime.UtcNow;
            using var expiry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            expiry.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            return await _retry.ExecuteAsync(static (s, token) => s.Client.AttemptAsync(s.State, token), (Client: this, State: state), expiry.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            if (state.WriteSent)
            {
                throw new KvTimeoutException($"No answer within {budget.TotalMilliseconds:0} ms; the write may or may not have been committed.");
            }

            throw state.LastFailure?.ToPublic() ?? new KvTimeoutException($"No node could take the request within {budget.TotalMilliseconds:0} ms" + (isWrite ? "; the write was not sent." : "."));
        }
        catch (RetryableAttemptException failure)
        {
            throw failure.ToPublic();
        }
    }

    /// <summary>Writes <paramref name="value"/> under <paramref name="key"/>; with <paramref name="expectedVersion"/> a compare-and-set (0 = must not exist).</summary>
    /// <returns>The result; its status is VERSION_MISMATCH when the compare failed.</returns>
    public Task<KvResult> PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, long? expectedVersion = null, CancellationToken cancellationToken = default)
    {
        var put = new PutRequest { Key = ByteString.CopyFrom(key.Span), Value = ByteString.CopyFrom(value.Span) };
        if (expectedVersion is { } version)
        {
            put.ExpectedVersion = version;
        }

        return ExecuteAsync(new KvCommand { Put = put }, cancellationToken: cancellationToken);
    }

    /// <summary>Reads one key; null when it does not exist.</summary>
    public async Task<KeyValue?> GetAsync(ReadOnlyMemory<byte> key, ReadConsistency consistency = ReadConsistency.Linearizable, CancellationToken cancellationToken = default)
    {
        var result = await ExecuteAsync(new KvCommand { Get = new GetRequest { Key = ByteString.CopyFrom(key.Span) } }, consistency, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Status == KvStatus.Ok ? result.Get.Kv : null;
    }

    /// <summary>Deletes one key; with <paramref name="expectedVersion"/> only if its version matches.</summary>
    /// <returns>The result: OK with the deleted pair, NOT_FOUND, or VERSION_MISMATCH.</returns>
    public Task<KvResult> DeleteAsync(ReadOnlyMemory<byte> key, long? expectedVersion = null, CancellationToken cancellationToken = default)
    {
        var delete = new DeleteRequest { Key = ByteString.CopyFrom(key.Span) };
        if (expectedVersion is { } version)
        {
            delete.ExpectedVersion = version;
        }

        return ExecuteAsync(new KvCommand { Delete = delete }, cancellationToken: cancellationToken);
    }

    /// <summary>Deletes every key starting with <paramref name="prefix"/>; returns how many.</summary>
    public async Task<long> DeletePrefixAsync(ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken = default)
    {
        var result = await ExecuteAsync(new KvCommand { DeleteRange = new DeleteRangeRequest { Prefix = ByteString.CopyFrom(prefix.Span) } }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.DeleteRange?.Deleted ?? 0;
    }

    /// <summary>Scans keys by prefix or interval (see <see cref="RangeRequest"/>).</summary>
    public async Task<RangeResult> RangeAsync(RangeRequest request, ReadConsistency consistency = ReadConsistency.Linearizable, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var result = await ExecuteAsync(new KvCommand { Range = request }, consistency, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Range ?? new RangeResult();
    }

    /// <summary>
    /// Leaves: stops every lane (requests in flight end at once) and shuts the actor system down through
    /// CoordinatedShutdown, so the nodes see a remoting shutdown, not a failure.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _system.WhenTerminated.ConfigureAwait(false);
            return;
        }

        foreach (var lane in Volatile.Read(ref _lanes))
        {
            lane.Close();
        }

        await CoordinatedShutdown.Get(_system).Run(ClientClosedReason.Instance).ConfigureAwait(false);
        await _system.WhenTerminated.ConfigureAwait(false);
    }
}

/// <summary>Why a client's actor system shuts down: its owner disposed the <see cref="KvClient"/>.</summary>
internal sealed class ClientClosedReason : CoordinatedShutdown.Reason
{
    /// <summary>The one instance.</summary>
    public static ClientClosedReason Instance { get; } = new();

    /// <inheritdoc />
    public override int ExitCode => 0;
}
