using Grpc.Core;
using Grpc.Core.Interceptors;
using KvCluster.Node.Kv;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's authentication on every call while the auth store is enabled: the call's token (metadata <c>token</c>, as
/// clientv3 and etcdctl send it, or <c>authorization</c>, as etcd's HTTP gateway passes it) is checked by
/// <see cref="EtcdAuthTokens"/>, and the user it names is left in the call's user state (<see cref="IdentityOf"/>) for
/// the services: the gateway records it in every command, which the state machine checks at apply time; the Watch
/// service checks each create. A token that does not check out is refused with etcd's "invalid auth token"
/// (Unauthenticated); a call without one goes on as nobody and is refused where a user is needed ("user name is
/// empty"), unless the node requires client certificates (<c>--client-cert-auth</c>): then the certificate's common name
/// is the user, as etcd takes it. Membership and maintenance calls etcd reserves for root (member add, remove, update and promote;
/// defragment, snapshot, hash, HashKV, move-leader) are checked here. With authentication disabled nothing is checked
/// and tokens are ignored, as etcd does.
/// </summary>
internal sealed class EtcdAuthInterceptor : Interceptor
{
    /// <summary>The calls only root may make.</summary>
    private static readonly HashSet<string> s_adminMethods =
    [
        "/etcdserverpb.Cluster/MemberAdd", "/etcdserverpb.Cluster/MemberRemove", "/etcdserverpb.Cluster/MemberUpdate",
        "/etcdserverpb.Cluster/MemberPromote", "/etcdserverpb.Maintenance/Defragment", "/etcdserverpb.Maintenance/Snapshot",
        "/etcdserverpb.Maintenance/Hash", "/etcdserverpb.Maintenance/HashKV", "/etcdserverpb.Maintenance/MoveLeader",
    ];

    /// <summary>The key of the identity in the call's user state.</summary>
    private static readonly object IdentityKey = new();

    private readonly EtcdGateway _gateway;
    private readonly EtcdAuthTokens _tokens;

    /// <summary>Creates the interceptor over the node's gateway and token issuer.</summary>
    public EtcdAuthInterceptor(EtcdGateway gateway, EtcdAuthTokens tokens)
    {
        _gateway = gateway;
        _tokens = tokens;
    }

    /// <summary>The identity the call's token proved, or null when the node had authentication disabled.</summary>
    public static AuthIdentity? IdentityOf(ServerCallContext context) =>
        context.UserState.TryGetValue(IdentityKey, out var identity) ? identity as AuthIdentity : null;

    /// <inheritdoc />
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        await IdentifyAsync(context).ConfigureAwait(false);
        return await continuation(request, context).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await IdentifyAsync(context).ConfigureAwait(false);
        await continuation(request, responseStream, context).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await IdentifyAsync(context).ConfigureAwait(false);
        return await continuation(requestStream, context).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await IdentifyAsync(context).ConfigureAwait(false);
        await continuation(requestStream, responseStream, context).ConfigureAwait(false);
    }

    /// <summary>
    /// Checks the call's token and records its identity; refuses an invalid token and a non-root admin call. A token
    /// this node cannot accept from its applied state (authentication not enabled here yet, a user or key it has not
    /// applied) may come from a change another node already applied: the node then catches up with the leader (a
    /// linearizable read of the auth store, shared by the calls that wait for it and not repeated within
    /// <see cref="CatchUpReuse"/>) and checks again, so a client that enabled authentication or added a user through
    /// one node can use its token on any other at once. While authentication is disabled and stays so, a token is
    /// ignored, as etcd ignores it. Calls without a token pay one header lookup.
    /// </summary>
    private ValueTask IdentifyAsync(ServerCallContext context)
    {
        if (context.Method == "/etcdserverpb.Auth/Authenticate" || context.Method.StartsWith("/grpc.health.", StringComparison.Ordinal))
        {
            return ValueTask.CompletedTask;
        }

        var token = TokenOf(context);
        var auth = _gateway.Node.Auth;
        if (!auth.Enabled && token is null)
        {
            return ValueTask.CompletedTask;
        }

        if (token is not null && (!auth.Enabled || _tokens.Validate(token, auth) is null))
        {
            return IdentifyAfterCatchUpAsync(context, token);
        }

        Identify(context, auth, token);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// With <c>--client-cert-auth</c>, the common name of the client's certificate (which the TLS handshake checked
    /// against the trusted CA): etcd takes it as the user of a call that carries no token. Null otherwise.
    /// </summary>
    private string? CommonNameOf(ServerCallContext context) =>
        _gateway.Node.Options.ClientCertAuth
        && context.GetHttpContext().Connection.ClientCertificate?.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false) is { Length: > 0 } name
            ? name
            : null;

    /// <summary>The call's token: metadata <c>token</c>, else <c>authorization</c>; null when there is none.</summary>
    private static string? TokenOf(ServerCallContext context)
    {
        var headers = context.GetHttpContext().Request.Headers;
        var token = headers["token"];
        if (token.Count == 0)
        {
            token = headers.Authorization;
        }

        return token.Count == 0 || string.IsNullOrEmpty(token[0]) ? null : token[0];
    }

    private async ValueTask IdentifyAfterCatchUpAsync(ServerCallContext context, string token)
    {
        await CatchUpAsync(context).ConfigureAwait(false);
        var auth = _gateway.Node.Auth;
        if (auth.Enabled)
        {
            Identify(context, auth, token);
        }
    }

    /// <summary>How long a catch-up answers for the calls after it (a token that still does not check out is refused
    /// without another round to the leader).</summary>
    private static readonly TimeSpan CatchUpReuse = TimeSpan.FromSeconds(1);

    private readonly object _catchUpLock = new();
    private Task? _catchUp;
    private long _catchUpDone;

    /// <summary>Waits for a linearizable read of the auth store: the one in flight, a new one, or none when one ended
    /// within <see cref="CatchUpReuse"/>. A catch-up that fails leaves the calls to the state they find.</summary>
    private async Task CatchUpAsync(ServerCallContext context)
    {
        Task catchUp;
        lock (_catchUpLock)
        {
            if (_catchUp is { IsCompleted: true } && Environment.TickCount64 - Volatile.Read(ref _catchUpDone) < (long)CatchUpReuse.TotalMilliseconds)
            {
                return;
            }

            if (_catchUp is null or { IsCompleted: true })
            {
                _catchUp = ReadAuthStatusAsync(context);
            }

            catchUp = _catchUp;
        }

        try
        {
            await catchUp.ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // No leader, a timeout, the first caller gone: check against what this node has.
        }
    }

    private async Task ReadAuthStatusAsync(ServerCallContext context)
    {
        try
        {
            var status = new KvCluster.Client.Protocol.KvCommand { Auth = new KvCluster.Client.Protocol.AuthCommand { Status = new KvCluster.Client.Etcd.AuthStatusRequest() } };
            await _gateway.ExecuteAsync(status, serializable: false, isWrite: false, context, asClient: false).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _catchUpDone, Environment.TickCount64);
        }
    }

    private void Identify(ServerCallContext context, KvAuthState auth, string? token)
    {
        var identity = token is not null ? _tokens.Validate(token, auth) ?? throw EtcdErrors.ForAuth(AuthErrors.InvalidAuthToken)!
            : CommonNameOf(context) is { } commonName ? new AuthIdentity(commonName, auth.Revision)
            : AuthIdentity.None;
        context.UserState[IdentityKey] = identity;
        if (s_adminMethods.Contains(context.Method) && auth.CheckAdmin(identity.User, identity.Revision) is { } refused)
        {
            throw EtcdErrors.ForAuth(refused)!;
        }
    }
}
