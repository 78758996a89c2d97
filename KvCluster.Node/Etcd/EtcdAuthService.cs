using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's <c>Auth</c> service: users, roles, key permissions and the enabled flag live in the state machine's auth
/// store (<see cref="KvAuthState"/>), so every change is a command through the router into the Raft log and every read
/// (status, user and role get and list) a linearizable read of it. Passwords are hashed here (bcrypt), on the node that
/// takes the call, and never enter the log (<see cref="EtcdAuthTokens"/>); a client-made bcrypt hash is taken as etcd
/// 3.5 takes it. <c>Authenticate</c> first confirms this node's
/// applied state is current (a linearizable read), then checks the password against it and signs a token any node
/// accepts. etcd's rules and messages throughout: enabling needs a user <c>root</c> with the role <c>root</c>; once
/// enabled, only root changes users and roles.
/// </summary>
internal sealed class EtcdAuthService : Client.Etcd.Auth.AuthBase
{
    private readonly EtcdGateway _gateway;
    private readonly EtcdAuthTokens _tokens;

    /// <summary>Creates the service over the node's gateway and token issuer.</summary>
    public EtcdAuthService(EtcdGateway gateway, EtcdAuthTokens tokens)
    {
        _gateway = gateway;
        _tokens = tokens;
    }

    /// <inheritdoc />
    public override Task<AuthEnableResponse> AuthEnable(AuthEnableRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { Enable = request, TokenKey = EtcdAuthTokens.NewTokenKey() }, context, h => new AuthEnableResponse { Header = h });

    /// <inheritdoc />
    public override Task<AuthDisableResponse> AuthDisable(AuthDisableRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { Disable = request }, context, h => new AuthDisableResponse { Header = h });

    /// <inheritdoc />
    public override Task<AuthStatusResponse> AuthStatus(AuthStatusRequest request, ServerCallContext context) =>
        ReadAsync(new AuthCommand { Status = request }, context, r => r.Status, (response, header) => response.Header = header);

    /// <inheritdoc />
    public override async Task<AuthenticateResponse> Authenticate(AuthenticateRequest request, ServerCallContext context)
    {
        _gateway.CheckSize(request);

        // A linearizable read first: this node has then applied every auth change committed before the call.
        var (_, header) = await RunAsync(new AuthCommand { Status = new AuthStatusRequest() }, context).ConfigureAwait(false);
        var auth = _gateway.Node.Auth;
        if (!auth.Enabled)
        {
            throw EtcdErrors.ForAuth(AuthErrors.AuthNotEnabled)!;
        }

        if (!auth.Users.TryGetValue(request.Name, out var user) || user.Options is { NoPassword: true }
            || !EtcdAuthTokens.VerifyPassword(request.Password, user.Password))
        {
            throw EtcdErrors.ForAuth(AuthErrors.AuthFailed)!;
        }

        return new AuthenticateResponse { Header = header, Token = _tokens.Issue(auth, request.Name) };
    }

    /// <inheritdoc />
    public override Task<AuthUserAddResponse> UserAdd(AuthUserAddRequest request, ServerCallContext context)
    {
        var add = request.Clone();
        add.Password = string.Empty;
        add.HashedPassword = string.Empty;
        var hash = request.Options is { NoPassword: true } ? Google.Protobuf.ByteString.Empty : HashOf(request.Password, request.HashedPassword);
        return ChangeAsync(new AuthCommand { UserAdd = add, PasswordHash = hash }, context, h => new AuthUserAddResponse { Header = h });
    }

    /// <inheritdoc />
    public override Task<AuthUserGetResponse> UserGet(AuthUserGetRequest request, ServerCallContext context) =>
        ReadAsync(new AuthCommand { UserGet = request }, context, r => r.UserGet, (response, header) => response.Header = header);

    /// <inheritdoc />
    public override Task<AuthUserListResponse> UserList(AuthUserListRequest request, ServerCallContext context) =>
        ReadAsync(new AuthCommand { UserList = request }, context, r => r.UserList, (response, header) => response.Header = header);

    /// <inheritdoc />
    public override Task<AuthUserDeleteResponse> UserDelete(AuthUserDeleteRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { UserDelete = request }, context, h => new AuthUserDeleteResponse { Header = h });

    /// <inheritdoc />
    public override Task<AuthUserChangePasswordResponse> UserChangePassword(AuthUserChangePasswordRequest request, ServerCallContext context)
    {
        var change = request.Clone();
        change.Password = string.Empty;
        change.HashedPassword = string.Empty;
        return ChangeAsync(
            new AuthCommand { UserChangePassword = change, PasswordHash = HashOf(request.Password, request.HashedPassword) },
            context,
            h => new AuthUserChangePasswordResponse { Header = h });
    }

    /// <inheritdoc />
    public override Task<AuthUserGrantRoleResponse> UserGrantRole(AuthUserGrantRoleRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { UserGrantRole = request }, context, h => new AuthUserGrantRoleResponse { Header = h });

    /// <inheritdoc />
    public override Task<AuthUserRevokeRoleResponse> UserRevokeRole(AuthUserRevokeRoleRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { UserRevokeRole = request }, context, h => new AuthUserRevokeRoleResponse { Header = h });

    /// <inheritdoc />
    public override Task<AuthRoleAddResponse> RoleAdd(AuthRoleAddRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { RoleAdd = request }, context, h => new AuthRoleAddResponse { Header = h });

    /// <inheritdoc />
    public override Task<AuthRoleGetResponse> RoleGet(AuthRoleGetRequest request, ServerCallContext context) =>
        ReadAsync(new AuthCommand { RoleGet = request }, context, r => r.RoleGet, (response, header) => response.Header = header);

    /// <inheritdoc />
    public override Task<AuthRoleListResponse> RoleList(AuthRoleListRequest request, ServerCallContext context) =>
        ReadAsync(new AuthCommand { RoleList = request }, context, r => r.RoleList, (response, header) => response.Header = header);

    /// <inheritdoc />
    public override Task<AuthRoleDeleteResponse> RoleDelete(AuthRoleDeleteRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { RoleDelete = request }, context, h => new AuthRoleDeleteResponse { Header = h });

    /// <inheritdoc />
    public override Task<AuthRoleGrantPermissionResponse> RoleGrantPermission(AuthRoleGrantPermissionRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { RoleGrantPermission = request }, context, h => new AuthRoleGrantPermissionResponse { Header = h });

    /// <inheritdoc />
    public override Task<AuthRoleRevokePermissionResponse> RoleRevokePermission(AuthRoleRevokePermissionRequest request, ServerCallContext context) =>
        ChangeAsync(new AuthCommand { RoleRevokePermission = request }, context, h => new AuthRoleRevokePermissionResponse { Header = h });

    /// <summary>Serves an auth read and answers its response with the header.</summary>
    private async Task<TResponse> ReadAsync<TResponse>(AuthCommand command, ServerCallContext context, Func<AuthResult, TResponse?> pick, Action<TResponse, ResponseHeader> setHeader)
        where TResponse : class
    {
        var (result, header) = await RunAsync(command, context).ConfigureAwait(false);
        var response = pick(result) ?? throw Missing();
        setHeader(response, header);
        return response;
    }

    /// <summary>Proposes an auth change and answers etcd's empty response with the header.</summary>
    private async Task<TResponse> ChangeAsync<TResponse>(AuthCommand command, ServerCallContext context, Func<ResponseHeader, TResponse> response)
    {
        var (_, header) = await RunAsync(command, context).ConfigureAwait(false);
        return response(header);
    }

    /// <summary>Runs an auth command (a change through the log, a read linearizably) and fills the header.</summary>
    private async Task<(AuthResult Result, ResponseHeader Header)> RunAsync(AuthCommand command, ServerCallContext context)
    {
        var kv = new KvCommand { Auth = command };
        _gateway.CheckSize(kv);
        var result = await _gateway.ExecuteAsync(kv, serializable: false, isWrite: !KvAuthState.IsRead(command), context).ConfigureAwait(false);
        return (result.Auth ?? throw Missing(), _gateway.Fill(new ResponseHeader { Revision = result.Revision }));
    }

    /// <summary>
    /// The hash to store: the password's bcrypt hash, or the one an etcd 3.5 client made (<c>hashedPassword</c>), which
    /// must be a bcrypt hash, as etcd requires.
    /// </summary>
    private static Google.Protobuf.ByteString HashOf(string password, string hashedPassword)
    {
        if (hashedPassword.Length == 0)
        {
            return EtcdAuthTokens.HashPassword(password);
        }

        return EtcdAuthTokens.IsBcryptHash(hashedPassword)
            ? Google.Protobuf.ByteString.CopyFromUtf8(hashedPassword)
            : throw EtcdErrors.InvalidArgument("etcdserver: hashedPassword is not a bcrypt hash");
    }

    private static RpcException Missing() =>
        EtcdErrors.New(StatusCode.Unimplemented, "etcdserver: this node's state machine answered no auth response (does it apply auth commands?)");
}
