using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Client.Bench.AkkaKv;

/// <summary>
/// The AkkaKv target: one <see cref="KvClient"/> per requested connection (each with its own actor system and
/// therefore its own remoting connections), clients spread over them as client <c>i</c> → client library
/// <c>i % connections</c>. Client library <c>j</c> is given the endpoints rotated to start at endpoint
/// <c>j % E</c>, so its first contact differs from its neighbours'; after discovery each library sends to the node
/// it believes leads, as <see cref="KvClient"/> always does.
/// </summary>
internal sealed class AkkaKvBenchTarget : IBenchTarget
{
    /// <summary>The key the connection probe reads; it need not exist.</summary>
    internal static readonly ReadOnlyMemory<byte> ProbeKey = "kv-bench-probe"u8.ToArray();

    /// <summary>
    /// Most client actor systems one bench process opens. Between two Akka systems every message travels over one
    /// Akka.Remote association (one TCP connection per node), so <c>--conns</c> maps onto client systems, and each costs a
    /// whole actor system (scheduler, remoting, a ClusterClient per node): 100 of them did not even start within the
    /// connect timeout on 2 cores. Connection j uses system j mod this.
    /// </summary>
    internal const int MaxClientSystems = 8;

    private KvClient[] _clients = [];
    private TimeSpan _requestTimeout = TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public string Name => BenchTargets.AkkaKv;

    /// <summary>The client libraries opened by <see cref="ConnectAsync"/>, in connection-index order.</summary>
    internal IReadOnlyList<KvClient> Clients => _clients;

    /// <inheritdoc />
    public async Task ConnectAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (_clients.Length != 0)
        {
            throw new InvalidOperationException("The target is already connected.");
        }

        _requestTimeout = settings.RequestTimeout;
        var endpoints = settings.Endpoints.Select(e => new KvEndpoint(e.Host, e.Port)).ToArray();
        var connecting = new Task<KvClient>[Math.Min(settings.Connections, MaxClientSystems)];
        for (var j = 0; j < connecting.Length; j++)
        {
            var rotated = endpoints.Skip(j % endpoints.Length).Concat(endpoints.Take(j % endpoints.Length)).ToArray();
            var options = new KvClientOptions
            {
                Endpoints = rotated,
                RequestTimeout = settings.RequestTimeout,
                ConnectTimeout = TimeSpan.FromSeconds(Math.Max(30, settings.RequestTimeout.TotalSeconds)),
            };
            connecting[j] = ConnectOneAsync(options, cancellationToken);
        }

        try
        {
            await Task.WhenAll(connecting).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            await DisposeAllAsync(connecting).ConfigureAwait(false);
            var failure = connecting.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null);
            throw failure switch
            {
                BenchTargetException e => new BenchTargetException(e.Kind, $"AkkaKv is not reachable: {e.Message}", e),
                KvClientException e => new BenchTargetException(AkkaKvBenchClient.KindOf(e), $"AkkaKv is not reachable: {e.Message}", e),
                _ => failure ?? new BenchTargetException(BenchErrorKind.Unavailable, "AkkaKv is not reachable."),
            };
        }
        catch (OperationCanceledException)
        {
            await DisposeAllAsync(connecting).ConfigureAwait(false);
            throw;
        }

        _clients = connecting.Select(t => t.Result).ToArray();
    }

    /// <inheritdoc />
    public IBenchClient CreateClient(int clientIndex, int connection) => new AkkaKvBenchClient(_clients[connection % _clients.Length], _requestTimeout);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        var clients = _clients;
        _clients = [];
        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask())).ConfigureAwait(false);
    }

    /// <summary>Connects one client library and proves it with a serializable read of <see cref="ProbeKey"/>.</summary>
    private static async Task<KvClient> ConnectOneAsync(KvClientOptions options, CancellationToken cancellationToken)
    {
        var client = await KvClient.ConnectAsync(options, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            await new AkkaKvBenchClient(client, options.RequestTimeout)
                .GetAsync(ProbeKey, Bench.ReadConsistency.Serializable, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task DisposeAllAsync(Task<KvClient>[] connecting)
    {
        foreach (var task in connecting)
        {
            try
            {
                await (await task.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // This one failed to connect: there is nothing to dispose.
            }
        }
    }
}

/// <summary>
/// One closed-loop AkkaKv client over a shared <see cref="KvClient"/>. The key and value are copied into the command
/// (the runner's buffers are borrowed), which is the client library's own cost per request.
/// </summary>
internal sealed class AkkaKvBenchClient : IBenchClient
{
    private readonly KvClient _client;
    private readonly TimeSpan _timeout;

    /// <summary>Creates a client issuing its requests through <paramref name="client"/> with deadline <paramref name="timeout"/>.</summary>
    public AkkaKvBenchClient(KvClient client, TimeSpan timeout)
    {
        _client = client;
        _timeout = timeout;
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        var command = new KvCommand { Put = new PutRequest { Key = ByteString.CopyFrom(key.Span), Value = ByteString.CopyFrom(value.Span) } };
        var result = await CallAsync(command, Protocol.ReadConsistency.Linearizable, cancellationToken).ConfigureAwait(false);
        if (result.Status != KvStatus.Ok)
        {
            throw new BenchTargetException(BenchErrorKind.Rejected, $"AkkaKv answered the put with {result.Status}.");
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> GetAsync(ReadOnlyMemory<byte> key, Bench.ReadConsistency consistency, CancellationToken cancellationToken)
    {
        var command = new KvCommand { Get = new GetRequest { Key = ByteString.CopyFrom(key.Span) } };
        var wire = consistency == Bench.ReadConsistency.Serializable ? Protocol.ReadConsistency.Serializable : Protocol.ReadConsistency.Linearizable;
        var result = await CallAsync(command, wire, cancellationToken).ConfigureAwait(false);
        return result.Status switch
        {
            KvStatus.Ok => true,
            KvStatus.NotFound => false,
            _ => throw new BenchTargetException(BenchErrorKind.Rejected, $"AkkaKv answered the get with {result.Status}."),
        };
    }

    /// <summary>The bench error kind of a client library error.</summary>
    internal static BenchErrorKind KindOf(KvClientException error) => error switch
    {
        KvBadRequestException => BenchErrorKind.Rejected,
        KvTimeoutException => BenchErrorKind.Timeout,
        _ => BenchErrorKind.Unavailable,
    };

    private async ValueTask<KvResult> CallAsync(KvCommand command, Protocol.ReadConsistency consistency, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.ExecuteAsync(command, consistency, _timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (KvClientException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BenchTargetException(KindOf(e), e.Message, e);
        }
        catch (KvClientException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }
}
