using Google.Protobuf;
using Grpc.Core;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Bench.Etcd;

/// <summary>
/// The etcd v3 target: <c>etcdserverpb.KV/Put</c>, <c>KV/Range</c> (with <c>serializable</c> off or on) and
/// <c>KV/Txn</c> through Grpc.Net.Client, one <see cref="EtcdChannel"/> (one HTTP/2 connection) per requested
/// connection, connections assigned to endpoints round-robin, as etcd's own <c>benchmark</c> tool does. It drives
/// any etcd-API endpoint: etcd itself, or AkkaKv's client port.
/// </summary>
internal sealed class EtcdBenchTarget : IBenchTarget
{
    /// <summary>The key the connection probe reads; it need not exist.</summary>
    internal static readonly ByteString ProbeKey = ByteString.CopyFromUtf8("kv-bench-probe");

    private EtcdChannel[] _channels = [];
    private TimeSpan _requestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The auth token's metadata (<c>--user</c>), or null.</summary>
    private Metadata? _headers;

    /// <inheritdoc />
    public string Name => "etcd";

    /// <summary>The channels opened by <see cref="ConnectAsync"/>, in connection-index order.</summary>
    internal IReadOnlyList<EtcdChannel> Connections => _channels;

    /// <inheritdoc />
    public async Task ConnectAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        if (_channels.Length != 0)
        {
            throw new InvalidOperationException("The target is already connected.");
        }

        _requestTimeout = settings.RequestTimeout;
        _channels = new EtcdChannel[settings.Connections];
        for (var i = 0; i < _channels.Length; i++)
        {
            _channels[i] = new EtcdChannel(settings.Endpoints[i % settings.Endpoints.Count], settings.RequestTimeout);
        }

        if (settings.User is not null)
        {
            // etcd's auth: one token for every client, as a clientv3 client authenticates once and reuses it.
            try
            {
                var auth = await _channels[0].Auth.AuthenticateAsync(
                    new AuthenticateRequest { Name = settings.User, Password = settings.Password ?? string.Empty },
                    deadline: DateTime.UtcNow + _requestTimeout,
                    cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false);
                _headers = new Metadata { { "token", auth.Token } };
            }
            catch (RpcException e)
            {
                throw new BenchTargetException(EtcdErrors.ToErrorKind(e.StatusCode), $"authenticate as {settings.User}: {e.Status.Detail}", e);
            }
        }

        // One serializable range per connection opens its TCP connection and proves the member answers.
        var probes = new Task[_channels.Length];
        for (var i = 0; i < _channels.Length; i++)
        {
            var client = new EtcdBenchClient(_channels[i], _requestTimeout, _headers);
            probes[i] = client.GetAsync(ProbeKey.Memory, ReadConsistency.Serializable, cancellationToken).AsTask();
        }

        try
        {
            await Task.WhenAll(probes).ConfigureAwait(false);
        }
        catch (BenchTargetException e)
        {
            throw new BenchTargetException(e.Kind, $"etcd is not reachable: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public IBenchClient CreateClient(int clientIndex, int connection) =>
        new EtcdBenchClient(_channels[connection], _requestTimeout, _headers);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>One closed-loop etcd client: one call in flight on its shared channel, each with its own deadline.</summary>
internal sealed class EtcdBenchClient : IBenchClient
{
    private readonly EtcdChannel _channel;
    private readonly TimeSpan _timeout;
    private readonly Metadata? _headers;

    /// <summary>Creates a client issuing its calls on <paramref name="channel"/>, with <paramref name="headers"/> (an auth token) if any.</summary>
    public EtcdBenchClient(EtcdChannel channel, TimeSpan timeout, Metadata? headers = null)
    {
        _channel = channel;
        _timeout = timeout;
        _headers = headers;
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        // Copies: the runner rewrites its key buffer while a timed-out call may still be serialising.
        var put = new PutRequest { Key = ByteString.CopyFrom(key.Span), Value = ByteString.CopyFrom(value.Span) };
        await CallAsync(c => _channel.Kv.PutAsync(put, c), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> GetAsync(ReadOnlyMemory<byte> key, ReadConsistency consistency, CancellationToken cancellationToken)
    {
        var range = new RangeRequest { Key = ByteString.CopyFrom(key.Span), Serializable = consistency == ReadConsistency.Serializable };
        var response = await CallAsync(c => _channel.Kv.RangeAsync(range, c), cancellationToken).ConfigureAwait(false);
        return response.Count > 0;
    }

    /// <inheritdoc />
    public async ValueTask TxnPutAsync(IReadOnlyList<ReadOnlyMemory<byte>> keys, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        // A guarded multi-key write: "if the first key's version >= 0 (always), put every key". One revision.
        var txn = new TxnRequest();
        var shared = ByteString.CopyFrom(value.Span);
        for (var i = 0; i < keys.Count; i++)
        {
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFrom(keys[i].Span), Value = shared } });
        }

        txn.Compare.Add(new Compare
        {
            Key = txn.Success[0].RequestPut.Key,
            Target = Compare.Types.CompareTarget.Version,
            Result = Compare.Types.CompareResult.Greater,
            Version = -1,
        });
        var response = await CallAsync(c => _channel.Kv.TxnAsync(txn, c), cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            throw new BenchTargetException(BenchErrorKind.Rejected, $"{_channel.Endpoint}: txn compare failed unexpectedly");
        }
    }

    private async ValueTask<T> CallAsync<T>(Func<CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(new CallOptions(_headers, DateTime.UtcNow + _timeout, cancellationToken)).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (RpcException e)
        {
            throw EtcdErrors.ToBenchException(e, _channel.Endpoint);
        }
    }
}
