using System.Collections.Concurrent;
using KvCluster.Client.Bench;

namespace KvCluster.Tests.Client;

/// <summary>
/// An in-memory bench target for runner and CLI tests: a dictionary store that can be told to
/// fail connects or every n-th request with a given kind. The real target (etcd) is exercised by
/// <see cref="EtcdBenchTargetIntegrationTests"/>.
/// </summary>
internal sealed class FakeBenchTarget : IBenchTarget
{
    private readonly ConcurrentDictionary<string, byte[]> _store = new();
    private long _requests;

    public string Name => "fake";

    public BenchSettings? ConnectedWith { get; private set; }

    public BenchErrorKind? FailConnectWith { get; init; }

    /// <summary>When set, every request fails with this kind.</summary>
    public BenchErrorKind? FailRequestsWith { get; init; }

    public ConcurrentDictionary<int, int> ConnectionOfClient { get; } = new();

    /// <summary>Every key written, in order (meaningful with one client).</summary>
    public ConcurrentQueue<string> PutKeys { get; } = new();

    public long Puts;

    public long Gets;

    public bool Disposed { get; private set; }

    public Task ConnectAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        if (FailConnectWith is { } kind)
        {
            throw new BenchTargetException(kind, "fake: connect refused");
        }

        ConnectedWith = settings;
        return Task.CompletedTask;
    }

    public IBenchClient CreateClient(int clientIndex, int connection)
    {
        ConnectionOfClient[clientIndex] = connection;
        return new Client(this);
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }

    private sealed class Client(FakeBenchTarget target) : IBenchClient
    {
        public async ValueTask PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
        {
            await Task.Yield();
            target.MaybeFail();
            var text = System.Text.Encoding.ASCII.GetString(key.Span);
            target._store[text] = value.ToArray();
            target.PutKeys.Enqueue(text);
            Interlocked.Increment(ref target.Puts);
        }

        public async ValueTask<bool> GetAsync(ReadOnlyMemory<byte> key, ReadConsistency consistency, CancellationToken cancellationToken)
        {
            await Task.Yield();
            target.MaybeFail();
            Interlocked.Increment(ref target.Gets);
            return target._store.ContainsKey(System.Text.Encoding.ASCII.GetString(key.Span));
        }
    }

    private void MaybeFail()
    {
        Interlocked.Increment(ref _requests);
        if (FailRequestsWith is { } kind)
        {
            throw new BenchTargetException(kind, $"fake: request failed ({kind})");
        }
    }
}
