using Akka.Actor;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's require-leader contract for calls whose metadata carries <c>hasleader=true</c> (clientv3's
/// <c>WithRequireLeader</c>; etcdctl 3.4 sends it on <c>watch</c> and on every lease keep-alive stream):
/// <list type="number">
/// <item>A call that arrives while the node knows no leader is refused with "etcdserver: no leader" (Unavailable),
/// unary or stream, before the service sees it.</item>
/// <item>A stream that was accepted is registered with the node's <see cref="EtcdLeaderMonitor"/>; when the node has
/// then been without a leader for three election timeouts, the stream's token (<see cref="CancellationOf"/>, which the
/// Watch and LeaseKeepAlive services wait on) fires, the service gives up
/// (a watch drops its watchers, a keep-alive stream stops) and the call ends with "etcdserver: no leader", so the
/// client fails over to a node that has one (clientv3 resumes a watch from its last revision + 1).</item>
/// </list>
/// Calls without the metadata are served as before, leader or not: etcd cancels only the streams that asked.
/// </summary>
internal sealed class EtcdRequireLeaderInterceptor : Interceptor
{
    /// <summary>clientv3's metadata key (rpctypes.MetadataRequireLeaderKey).</summary>
    public const string MetadataKey = KvCluster.Client.EtcdRequireLeader.MetadataKey;

    /// <summary>clientv3's value (rpctypes.MetadataHasLeader).</summary>
    public const string MetadataValue = KvCluster.Client.EtcdRequireLeader.MetadataValue;

    /// <summary>The key of the leader-bound token source in the call's user state.</summary>
    private static readonly object BoundKey = new();

    private readonly EtcdGateway _gateway;

    /// <summary>Creates the interceptor over the node's gateway (its Raft status and leader monitor).</summary>
    public EtcdRequireLeaderInterceptor(EtcdGateway gateway)
    {
        _gateway = gateway;
    }

    /// <inheritdoc />
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        RequiresLeader(context) ? UnaryWithLeaderAsync(request, context, continuation) : continuation(request, context);

    /// <summary>A unary call that asked for a leader: refused without one, else served as any other.</summary>
    private async Task<TResponse> UnaryWithLeaderAsync<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        where TRequest : class
        where TResponse : class
    {
        await RefuseWithoutLeaderAsync(context).ConfigureAwait(false);
        return await continuation(request, context).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        RequiresLeader(context) ? StreamAsync(context, bound => continuation(request, responseStream, bound)) : continuation(request, responseStream, context);

    /// <inheritdoc />
    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (!RequiresLeader(context))
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }

        TResponse response = default!;
        await StreamAsync(context, async bound => response = await continuation(requestStream, bound).ConfigureAwait(false)).ConfigureAwait(false);
        return response;
    }

    /// <inheritdoc />
    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        RequiresLeader(context) ? StreamAsync(context, bound => continuation(requestStream, responseStream, bound)) : continuation(requestStream, responseStream, context);

    /// <summary>
    /// The token a long-lived stream's service waits on: the call's own, or, for a call that asked for a leader, one
    /// that also fires when the node has been without a leader too long. (Grpc.AspNetCore activates the service from
    /// the call's own context, so the interceptor cannot hand it another; it leaves the token in the user state.)
    /// </summary>
    public static CancellationToken CancellationOf(ServerCallContext context) =>
        context.UserState.TryGetValue(BoundKey, out var bound) && bound is CancellationTokenSource source ? source.Token : context.CancellationToken;

    /// <summary>True when the client sent <c>hasleader=true</c>.</summary>
    internal static bool RequiresLeader(ServerCallContext context)
    {
        if (HttpContextOf(context) is { } http)
        {
            // The request's own headers: no Metadata copy on the unary hot path.
            return http.Request.Headers.TryGetValue(MetadataKey, out var value) && value.Count > 0 && value[0] == MetadataValue;
        }

        foreach (var entry in context.RequestHeaders)
        {
            if (!entry.IsBinary && entry.Key == MetadataKey)
            {
                return entry.Value == MetadataValue;
            }
        }

        return false;
    }

    /// <summary>The call's HTTP request when served by Grpc.AspNetCore (always, but for tests' own contexts).</summary>
    private static Microsoft.AspNetCore.Http.HttpContext? HttpContextOf(ServerCallContext context)
    {
        try
        {
            return context.GetHttpContext();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Throws etcd's "no leader" when the node knows none (asking Raft afresh when the last view has none).</summary>
    private async Task RefuseWithoutLeaderAsync(ServerCallContext context)
    {
        if (EtcdLeaderMonitor.HasLeader(_gateway.LastStatus))
        {
            return;
        }

        try
        {
            if (EtcdLeaderMonitor.HasLeader(await _gateway.RaftStatusAsync(context.CancellationToken).ConfigureAwait(false)))
            {
                return;
            }
        }
        catch (AskTimeoutException)
        {
            // The Raft node does not answer: it cannot vouch for a leader.
        }

        throw EtcdErrors.NoLeader();
    }

    /// <summary>Runs a stream bound to the leader monitor; its cancellation by the monitor ends the call with "no leader".</summary>
    private async Task StreamAsync(ServerCallContext context, Func<ServerCallContext, Task> call)
    {
        await RefuseWithoutLeaderAsync(context).ConfigureAwait(false);
        var monitor = _gateway.LeaderMonitor;
        var bound = monitor.Register(context.CancellationToken);
        context.UserState[BoundKey] = bound;
        try
        {
            await call(context).ConfigureAwait(false);
        }
        catch (Exception) when (LostLeader(bound, context))
        {
            throw EtcdErrors.NoLeader();
        }
        finally
        {
            monitor.Unregister(bound);
        }

        if (LostLeader(bound, context))
        {
            // The service ended quietly on the cancellation (a watch does): the client still learns why.
            throw EtcdErrors.NoLeader();
        }
    }

    /// <summary>True when the monitor, not the client, cancelled the call.</summary>
    private static bool LostLeader(CancellationTokenSource bound, ServerCallContext context) =>
        bound.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested;
}
