using Google.Protobuf;
using KvCluster.Client.Bench.Etcd.Protocol;

namespace KvCluster.Client.Bench.Etcd;

/// <summary>
/// The etcd v3 target: <c>etcdserverpb.KV/Put</c> and <c>etcdserverpb.KV/Range</c> (with
/// <c>serializable</c> off or on) over gRPC on HTTP/2 cleartext, one <see cref="GrpcConnection"/>
/// per requested connection, connections assigned to endpoints round-robin, as etcd's own
/// <c>benchmark</c> tool does.
/// </summary>
internal sealed class EtcdBenchTarget : IBenchTarget
{
    /// <summary>The key the connection probe reads; it need not exist.</summary>
    internal static readonly ByteString ProbeKey = ByteString.CopyFromUtf8("kv-bench-probe");

    private GrpcConnection[] _connections = [];
    private TimeSpan _requestTimeout = TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public string Name => "etcd";

    /// <summary>The connections opened by <see cref="ConnectAsync"/>, in connection-index order.</summary>
    internal IReadOnlyList<GrpcConnection> Connections => _connections;

    /// <inheritdoc />
    public async Task ConnectAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        if (_connections.Length != 0)
        {
            throw new InvalidOperationException("The target is already connected.");
        }

        _requestTimeout = settings.RequestTimeout;
        _connections = new GrpcConnection[settings.Connections];
        for (var i = 0; i < _connections.Length; i++)
        {
            _connections[i] = new GrpcConnection(settings.Endpoints[i % settings.Endpoints.Count], settings.RequestTimeout);
        }

        // One serializable range per connection opens its TCP connection and proves the member answers.
        var probes = new Task[_connections.Length];
        for (var i = 0; i < _connections.Length; i++)
        {
            var client = new EtcdBenchClient(_connections[i], _requestTimeout);
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
        new EtcdBenchClient(_connections[connection], _requestTimeout);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            connection.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// One closed-loop etcd client: reuses its request messages, receive buffer and deadline source
/// across calls, so a request allocates only what HttpClient and protobuf parsing need.
/// </summary>
internal sealed class EtcdBenchClient : IBenchClient
{
    private readonly GrpcConnection _connection;
    private readonly Uri _putMethod;
    private readonly Uri _rangeMethod;
    private readonly TimeSpan _timeout;
    private readonly PutRequest _put = new();
    private readonly RangeRequest _range = new();
    private readonly ReceiveBuffer _receive = new();
    private readonly Func<bool> _deadlinePassed;
    private CancellationTokenSource? _deadline;
    private CancellationToken _linkedTo;

    /// <summary>Creates a client issuing its calls on <paramref name="connection"/>.</summary>
    public EtcdBenchClient(GrpcConnection connection, TimeSpan timeout)
    {
        _connection = connection;
        _putMethod = new Uri(connection.BaseAddress, "etcdserverpb.KV/Put");
        _rangeMethod = new Uri(connection.BaseAddress, "etcdserverpb.KV/Range");
        _timeout = timeout;
        _deadlinePassed = () => _deadline?.IsCancellationRequested == true;
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        _put.Key = UnsafeByteOperations.UnsafeWrap(key);
        _put.Value = UnsafeByteOperations.UnsafeWrap(value);
        var frame = GrpcFraming.Encode(_put);
        _put.Key = ByteString.Empty;
        _put.Value = ByteString.Empty;
        await CallAsync(_putMethod, frame, PutResponse.Parser, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> GetAsync(ReadOnlyMemory<byte> key, ReadConsistency consistency, CancellationToken cancellationToken)
    {
        _range.Key = UnsafeByteOperations.UnsafeWrap(key);
        _range.Serializable = consistency == ReadConsistency.Serializable;
        var frame = GrpcFraming.Encode(_range);
        _range.Key = ByteString.Empty;
        var response = await CallAsync(_rangeMethod, frame, RangeResponse.Parser, cancellationToken).ConfigureAwait(false);
        return response.Count > 0;
    }

    private async ValueTask<T> CallAsync<T>(Uri method, byte[] frame, MessageParser<T> parser, CancellationToken cancellationToken)
        where T : IMessage<T>
    {
        // One deadline source per client, linked once to the caller's token and re-armed per call;
        // only a fired one (timeout or cancel) is replaced.
        if (_deadline is null || _linkedTo != cancellationToken || !_deadline.TryReset())
        {
            _deadline?.Dispose();
            _deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _linkedTo = cancellationToken;
        }

        _deadline.CancelAfter(_timeout);
        try
        {
            return await _connection.CallAsync(method, frame, parser, _receive, _deadlinePassed, _deadline.Token)
                .ConfigureAwait(false);
        }
        catch (BenchTargetException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }
}
