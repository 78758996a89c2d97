using Grpc.Core;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// Keeps a lease alive as clientv3 does: a LeaseKeepAlive stream, one request every TTL/3, the stream reopened on the
/// next endpoint when it fails. <see cref="Lost"/> completes when the lease is gone: the cluster answered TTL 0
/// (expired or revoked), or no keep-alive succeeded for a whole TTL. Stops when its token is cancelled or it is disposed.
/// </summary>
internal sealed class LeaseKeeper : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly TaskCompletionSource _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;

    private LeaseKeeper(long id, long ttl, CancellationToken token)
    {
        Id = id;
        Ttl = ttl;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(token);
    }

    /// <summary>The lease kept alive.</summary>
    public long Id { get; }

    /// <summary>Its TTL in seconds as granted (the keep-alive answers replace it; 0 when unknown: an hour until the first answer).</summary>
    public long Ttl { get; }

    /// <summary>Completes when the lease is known to be gone.</summary>
    public Task Lost => _lost.Task;

    /// <summary>Starts keeping lease <paramref name="id"/> alive; <paramref name="onResponse"/> sees every answer.</summary>
    public static LeaseKeeper Start(EtcdCoordination cluster, long id, long ttl, Action<LeaseKeepAliveResponse>? onResponse, CancellationToken token)
    {
        var keeper = new LeaseKeeper(id, ttl, token);
        keeper._loop = keeper.RunAsync(cluster, onResponse);
        return keeper;
    }

    private async Task RunAsync(EtcdCoordination cluster, Action<LeaseKeepAliveResponse>? onResponse)
    {
        var token = _stop.Token;
        var lastSuccess = DateTime.UtcNow;
        var ttl = TimeSpan.FromSeconds(Ttl > 0 ? Ttl : 3600);
        while (!token.IsCancellationRequested)
        {
            try
            {
                // As etcdctl: a member without a leader ends the stream, and the renewals move to the next member.
                using var call = cluster.Current.Lease.LeaseKeepAlive(cluster.Headers(EtcdRequireLeader.Headers()), cancellationToken: token);
                while (!token.IsCancellationRequested)
                {
                    await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = Id }, token).ConfigureAwait(false);
                    if (!await call.ResponseStream.MoveNext(token).ConfigureAwait(false))
                    {
                        break;
                    }

                    var response = call.ResponseStream.Current;
                    if (response.TTL <= 0)
                    {
                        _lost.TrySetResult();
                        return;
                    }

                    lastSuccess = DateTime.UtcNow;
                    ttl = TimeSpan.FromSeconds(response.TTL);
                    onResponse?.Invoke(response);
                    await Task.Delay(TimeSpan.FromSeconds(Math.Max(response.TTL / 3.0, 0.5)), token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException) when (!token.IsCancellationRequested)
            {
                // The member went away or has no leader: try the next one.
            }

            if (DateTime.UtcNow - lastSuccess >= ttl)
            {
                _lost.TrySetResult();
                return;
            }

            cluster.Next();
            try
            {
                await Task.Delay(200, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
