using Google.Protobuf;
using KvCluster.Actors;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Actors.Remote.Transport;
using KvCluster.Client.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace KvCluster.Client;

/// <summary>
/// The AkkaKv client library, in the style of Akka's ClusterClient: it is not a cluster member; it runs a small
/// actor system of its own and talks to any node's receptionist over remoting. Scenarios:
/// <list type="number">
/// <item><see cref="ConnectAsync"/> probes the contact points in order until one answers <see cref="GetContacts"/>,
/// and learns every node's endpoint and the leader's from it.</item>
/// <item>Each request goes to the leader when one is known (saving the follower's forwarding hop), else to the next
/// contact. An endpoint that is not connected is probed first, so a dead node costs one probe, never a lost write.</item>
/// <item>Retried (exponential backoff with jitter, until the request's deadline): answers that prove nothing took
/// effect (not leader, unavailable before proposing, busy) and any read. Never retried: a write whose outcome is
/// unknown (no answer, or an indeterminate answer), which is reported as <see cref="KvTimeoutException"/> or an
/// indeterminate <see cref="KvUnavailableException"/>; a bad request.</item>
/// </list>
/// Thread-safe: any number of concurrent requests share the connections.
/// </summary>
public sealed partial class KvClient : IAsyncDisposable
{
    /// <summary>Validated settings.</summary>
    private readonly KvClientOptions _options;

    /// <summary>The client's own actor system (remoting only).</summary>
    private readonly ActorSystem _system;

    /// <summary>Its transport, to see whether an endpoint is connected.</summary>
    private readonly RemoteTransport _transport;

    /// <summary>Retries of attempts that proved nothing took effect.</summary>
    private readonly ResiliencePipeline _retry;

    /// <summary>Receptionist refs by endpoint (guarded by itself).</summary>
    private readonly Dictionary<KvEndpoint, IActorRef> _receptionists = new();

    /// <summary>Known endpoints: the contact points, then what the nodes told (copy-on-write).</summary>
    private KvEndpoint[] _endpoints;

    /// <summary>Rotates over <see cref="_endpoints"/> on failures.</summary>
    private int _cursor;

    /// <summary>Spreads serializable reads over every endpoint.</summary>
    private int _spread;

    /// <summary>The endpoint believed to lead, boxed for atomic swaps; null when unknown.</summary>
    private EndpointBox? _leader;

    private KvClient(KvClientOptions options, ActorSystem system, RemoteTransport transport)
    {
        _options = options;
        _system = system;
        _transport = transport;
        _endpoints = options.Endpoints.Distinct().ToArray();
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
    }

    /// <summary>The endpoints the client knows (contact points and those learned from the cluster).</summary>
    public IReadOnlyList<KvEndpoint> Endpoints => Volatile.Read(ref _endpoints);

    /// <summary>The endpoint believed to lead, or null.</summary>
    public KvEndpoint? Leader => Volatile.Read(ref _leader)?.Endpoint;

    /// <summary>
    /// Starts the client's actor system and finds a node that answers. Call once; dispose the client when done.
    /// </summary>
    /// <param name="options">Settings (validated).</param>
    /// <param name="loggerFactory">Logs of the client's runtime; null for none.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <exception cref="ArgumentException">A setting is invalid; the parameter name names it.</exception>
    /// <exception cref="KvUnavailableException">No contact point answered within <see cref="KvClientOptions.ConnectTimeout"/>.</exception>
    public static async Task<KvClient> ConnectAsync(KvClientOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var registry = new MessageSerializerRegistry();
        KvWireTypes.Register(registry);
        var settings = new RemoteSettings
        {
            SystemName = "kvclient",
            Host = options.LocalHost,
            Port = 0,
            ClusterName = options.ClusterName,
            HandshakeTimeout = options.ConnectTimeout,
            ReconnectBackoffMin = TimeSpan.FromMilliseconds(50),
            ReconnectBackoffMax = TimeSpan.FromSeconds(1),
        };
        var setup = ActorSystemSetup.Default with { LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance, DefaultAskTimeout = options.RequestTimeout };
        var system = await RemoteActorSystem.CreateAsync(settings, setup, registry, cancellationToken).ConfigureAwait(false);
        var client = new KvClient(options, system, system.GetExtension<RemoteExtension>()!.Transport);
        try
        {
            await client.DiscoverAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
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
            throw state.LastFailure?.ToPublic() ?? new KvTimeoutException($"No answer within {budget.TotalMilliseconds:0} ms" + (isWrite ? "; the write may or may not have been committed." : "."));
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

    /// <summary>Stops the client's actor system and closes its connections.</summary>
    public async ValueTask DisposeAsync() => await RemoteActorSystem.TerminateAsync(_system).ConfigureAwait(false);

    /// <summary>Finds the first contact point that answers and learns the cluster's endpoints.</summary>
    private async Task DiscoverAsync(CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (var endpoint in Endpoints)
        {
            if (await ProbeAsync(endpoint, cancellationToken).ConfigureAwait(false) is { } failure)
            {
                failures.Add(failure);
                continue;
            }

            return;
        }

        throw new KvUnavailableException($"No AkkaKv node answered: {string.Join("; ", failures)}. Is a node running there (dotnet run --project KvCluster.Node)?");
    }

    /// <summary>Asks <paramref name="endpoint"/> for the cluster's contacts; null on success, else why it failed.</summary>
    private async Task<string?> ProbeAsync(KvEndpoint endpoint, CancellationToken cancellationToken)
    {
        try
        {
            var contacts = await ReceptionistOf(endpoint).Ask<Contacts>(new GetContacts(), _options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
            Learn(contacts);
            return null;
        }
        catch (AskTimeoutException)
        {
            return $"{endpoint} did not answer within {_options.ConnectTimeout.TotalMilliseconds:0} ms";
        }
    }

    /// <summary>Adds the endpoints a receptionist told and remembers its leader hint.</summary>
    private void Learn(Contacts contacts)
    {
        var known = Volatile.Read(ref _endpoints);
        var learned = contacts.Endpoints.Select(TryParse).OfType<KvEndpoint>().Where(e => !known.Contains(e)).ToArray();
        if (learned.Length > 0)
        {
            Volatile.Write(ref _endpoints, [.. known, .. learned]);
        }

        NoteLeader(contacts.LeaderEndpoint);
    }

    private void NoteLeader(string? hint)
    {
        var endpoint = string.IsNullOrEmpty(hint) ? null : TryParse(hint);
        var current = Volatile.Read(ref _leader);
        if (current?.Endpoint != endpoint)
        {
            Volatile.Write(ref _leader, endpoint is { } e ? new EndpointBox(e) : null);
        }
    }

    private static KvEndpoint? TryParse(string text)
    {
        try
        {
            return KvEndpoint.Parse(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private IActorRef ReceptionistOf(KvEndpoint endpoint)
    {
        lock (_receptionists)
        {
            if (!_receptionists.TryGetValue(endpoint, out var receptionist))
            {
                receptionist = _system.Provider.ResolveActorRef($"{RemoteAddressOf(endpoint)}{KvWireTypes.ReceptionistPath}");
                _receptionists[endpoint] = receptionist;
            }

            return receptionist;
        }
    }

    private RemoteAddress RemoteAddressOf(KvEndpoint endpoint) => new(_options.SystemName, endpoint.Host, endpoint.Port);

    /// <summary>
    /// The endpoint for the next attempt: the leader when known (writes and linearizable reads end there anyway),
    /// else, and always for serializable reads (any node serves them from its own copy), the next contact in rotation.
    /// </summary>
    private KvEndpoint PickEndpoint(bool preferLeader)
    {
        if (preferLeader && Volatile.Read(ref _leader) is { } leader)
        {
            return leader.Endpoint;
        }

        var endpoints = Volatile.Read(ref _endpoints);
        var cursor = preferLeader ? Volatile.Read(ref _cursor) : Interlocked.Increment(ref _spread);
        return endpoints[(int)((uint)cursor % (uint)endpoints.Length)];
    }

    /// <summary>The endpoint failed: forget it as leader and move the rotation on.</summary>
    private void Demote(KvEndpoint endpoint)
    {
        if (Volatile.Read(ref _leader) is { } leader && leader.Endpoint == endpoint)
        {
            Interlocked.CompareExchange(ref _leader, null, leader);
        }

        Interlocked.Increment(ref _cursor);
    }
}
