using System.Collections.Concurrent;
using System.Collections.Immutable;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Authpb;
using KvCluster.Client.Protocol;
using DeleteRangeRequest = KvCluster.Client.Etcd.DeleteRangeRequest;
using PutRequest = KvCluster.Client.Etcd.PutRequest;

namespace KvCluster.Node.Kv;

/// <summary>
/// etcd's auth store as one immutable value: the enabled flag, the auth revision (moved by every change), the key tokens
/// are signed with, the users (with their password hashes and roles) and the roles (with their key permissions). The
/// state machine replaces it on every auth command it applies and publishes the new value, so the gRPC layer of the node
/// reads it without a hop (a token check, an admin check) while the state machine checks each KV command against the
/// value current at apply time, on every replica alike.
/// <para>The rules are etcd's (server/auth/store.go, v3.4): the same refusals with the same messages (see
/// <see cref="AuthErrors"/>); the user <c>root</c> with the role <c>root</c> may do everything; a permission covers one key,
/// a range, or every key from its key on (range end <c>"\0"</c>); a request's range must lie wholly inside the union of
/// the ranges the user's roles grant for its kind of access.</para>
/// </summary>
public sealed partial class KvAuthState
{
    /// <summary>The user etcd requires before authentication can be enabled, and the role that grants everything.</summary>
    public const string Root = "root";

    private static readonly ImmutableSortedDictionary<string, User> s_noUsers = ImmutableSortedDictionary.Create<string, User>(StringComparer.Ordinal);
    private static readonly ImmutableSortedDictionary<string, Role> s_noRoles = ImmutableSortedDictionary.Create<string, Role>(StringComparer.Ordinal);

    /// <summary>Each user's permissions merged from its roles, computed on first use (the value never changes).</summary>
    private readonly ConcurrentDictionary<string, UserRanges> _ranges = new(StringComparer.Ordinal);

    private KvAuthState(bool enabled, ulong revision, ByteString tokenKey, ImmutableSortedDictionary<string, User> users, ImmutableSortedDictionary<string, Role> roles)
    {
        Enabled = enabled;
        Revision = revision;
        TokenKey = tokenKey;
        Users = users;
        Roles = roles;
    }

    /// <summary>A new store's: disabled, revision 1 (as etcd starts it), no users, no roles.</summary>
    public static KvAuthState Initial { get; } = new(false, 1, ByteString.Empty, s_noUsers, s_noRoles);

    /// <summary>True while every request must name a user.</summary>
    public bool Enabled { get; }

    /// <summary>etcd's auth revision: moved by every applied change of users, roles, permissions or the enabled flag.</summary>
    public ulong Revision { get; }

    /// <summary>The secret tokens are signed with (drawn when authentication was enabled; empty before).</summary>
    public ByteString TokenKey { get; }

    /// <summary>The users by name.</summary>
    public ImmutableSortedDictionary<string, User> Users { get; }

    /// <summary>The roles by name.</summary>
    public ImmutableSortedDictionary<string, Role> Roles { get; }

    /// <summary>True for a store nothing was ever done to (a snapshot leaves its section out).</summary>
    public bool IsInitial => !Enabled && Revision == 1 && Users.IsEmpty && Roles.IsEmpty;

    /// <summary>True when <paramref name="command"/> only reads the store (status, user and role gets and lists).</summary>
    public static bool IsRead(AuthCommand command) => command.OpCase is AuthCommand.OpOneofCase.Status
        or AuthCommand.OpOneofCase.UserGet or AuthCommand.OpOneofCase.UserList
        or AuthCommand.OpOneofCase.RoleGet or AuthCommand.OpOneofCase.RoleList;

    /// <summary>True when <paramref name="user"/> exists and has the root role.</summary>
    public bool IsAdmin(string user) => Users.TryGetValue(user, out var u) && u.Roles.Contains(Root);

    /// <summary>
    /// Null when a request checked at <paramref name="revision"/> for <paramref name="user"/> may go on (always while
    /// disabled); else etcd's refusal: no user (revision 0), an auth revision older than this store's, an unknown user.
    /// </summary>
    public string? CheckIdentity(string user, ulong revision)
    {
        if (!Enabled)
        {
            return null;
        }

        if (revision == 0)
        {
            return AuthErrors.UserEmpty;
        }

        if (revision < Revision)
        {
            return AuthErrors.OldRevision;
        }

        return Users.ContainsKey(user) ? null : AuthErrors.PermissionDenied;
    }

    /// <summary>Null when <paramref name="user"/> may do what only root may (always while disabled); else the refusal.</summary>
    public string? CheckAdmin(string user, ulong revision) =>
        CheckIdentity(user, revision) ?? (!Enabled || IsAdmin(user) ? null : AuthErrors.PermissionDenied);

    /// <summary>
    /// Null when <paramref name="user"/> may access <paramref name="key"/> (with <paramref name="rangeEnd"/>: the range,
    /// etcd's forms) for <paramref name="access"/> (READ or WRITE); always null while disabled.
    /// </summary>
    public string? CheckRange(string user, ulong revision, ByteString key, ByteString rangeEnd, Permission.Types.Type access)
    {
        if (!Enabled)
        {
            return null;
        }

        if (revision == 0 || revision < Revision)
        {
            return revision == 0 ? AuthErrors.UserEmpty : AuthErrors.OldRevision;
        }

        var ranges = _ranges.GetOrAdd(user, static (name, state) => UserRanges.Of(state, name), this);
        return !ranges.Exists ? AuthErrors.PermissionDenied
            : ranges.IsAdmin || ranges.Covers(key.Span, rangeEnd.Span, access) ? null
            : AuthErrors.PermissionDenied;
    }

    /// <summary>
    /// Null when the etcd command's user may run it (always while disabled, for what the nodes propose themselves,
    /// <see cref="KvCommand.EtcdClient"/> false, and for the commands etcd does not check:
    /// lease grants, keep-alives and lists); else the refusal. Ranges, compares and prev_kv need READ, puts and deletes
    /// WRITE, a txn every operation of both branches, a lease revoke WRITE on every key attached to the lease
    /// (<paramref name="leaseKeys"/>), compaction and HashKV an authenticated user, the auth store's changes root.
    /// </summary>
    public string? Check(KvCommand command, Func<long, IReadOnlyList<ByteString>> leaseKeys)
    {
        if (!Enabled || !command.EtcdClient)
        {
            return null;
        }

        var user = command.AuthUser;
        var revision = command.AuthRevision;
        return command.OpCase switch
        {
            KvCommand.OpOneofCase.EtcdRange => CheckRange(user, revision, command.EtcdRange.Key, command.EtcdRange.RangeEnd, Permission.Types.Type.Read),
            KvCommand.OpOneofCase.EtcdPut => CheckPut(user, revision, command.EtcdPut),
            KvCommand.OpOneofCase.EtcdDeleteRange => CheckDelete(user, revision, command.EtcdDeleteRange),
            KvCommand.OpOneofCase.EtcdTxn => CheckTxn(user, revision, command.EtcdTxn),
            KvCommand.OpOneofCase.EtcdCompact or KvCommand.OpOneofCase.EtcdHashKv => CheckIdentity(user, revision),
            KvCommand.OpOneofCase.LeaseRevoke => CheckLeaseKeys(user, revision, leaseKeys(command.LeaseRevoke.ID)),
            KvCommand.OpOneofCase.Auth => CheckAuthCommand(user, revision, command.Auth),
            _ => null,
        };
    }

    /// <summary>WRITE on every key attached to a lease (in its own method: a capturing lambda in <see cref="Check"/>
    /// would allocate its closure on every command).</summary>
    private string? CheckLeaseKeys(string user, ulong revision, IReadOnlyList<ByteString> keys)
    {
        foreach (var key in keys)
        {
            if (CheckRange(user, revision, key, ByteString.Empty, Permission.Types.Type.Write) is { } refused)
            {
                return refused;
            }
        }

        return null;
    }

    private string? CheckAuthCommand(string user, ulong revision, AuthCommand command) => command.OpCase switch
    {
        AuthCommand.OpOneofCase.Status => null,
        AuthCommand.OpOneofCase.UserGet when CheckIdentity(user, revision) is null && command.UserGet.Name == user => null,
        AuthCommand.OpOneofCase.RoleGet when CheckIdentity(user, revision) is null
            && Users.TryGetValue(user, out var u) && u.Roles.Contains(command.RoleGet.Role) => null,
        _ => CheckAdmin(user, revision),
    };

    private string? CheckPut(string user, ulong revision, PutRequest put) =>
        CheckRange(user, revision, put.Key, ByteString.Empty, Permission.Types.Type.Write)
        ?? (put.PrevKv ? CheckRange(user, revision, put.Key, ByteString.Empty, Permission.Types.Type.Read) : null);

    private string? CheckDelete(string user, ulong revision, DeleteRangeRequest delete) =>
        CheckRange(user, revision, delete.Key, delete.RangeEnd, Permission.Types.Type.Write)
        ?? (delete.PrevKv ? CheckRange(user, revision, delete.Key, delete.RangeEnd, Permission.Types.Type.Read) : null);

    private string? CheckTxn(string user, ulong revision, TxnRequest txn)
    {
        foreach (var compare in txn.Compare)
        {
            if (CheckRange(user, revision, compare.Key, compare.RangeEnd, Permission.Types.Type.Read) is { } refused)
            {
                return refused;
            }
        }

        foreach (var op in txn.Success.Concat(txn.Failure))
        {
            var refused = op.RequestCase switch
            {
                RequestOp.RequestOneofCase.RequestRange => CheckRange(user, revision, op.RequestRange.Key, op.RequestRange.RangeEnd, Permission.Types.Type.Read),
                RequestOp.RequestOneofCase.RequestPut => CheckPut(user, revision, op.RequestPut),
                RequestOp.RequestOneofCase.RequestDeleteRange => CheckDelete(user, revision, op.RequestDeleteRange),
                RequestOp.RequestOneofCase.RequestTxn => CheckTxn(user, revision, op.RequestTxn),
                _ => null,
            };
            if (refused is not null)
            {
                return refused;
            }
        }

        return null;
    }

    /// <summary>Serves an auth read (status, user get or list, role get or list); null for a change.</summary>
    public AuthResult? Query(AuthCommand command, out string? error)
    {
        error = null;
        switch (command.OpCase)
        {
            case AuthCommand.OpOneofCase.Status:
                return new AuthResult { Status = new AuthStatusResponse { Enabled = Enabled, AuthRevision = Revision } };
            case AuthCommand.OpOneofCase.UserList:
                return new AuthResult { UserList = new AuthUserListResponse { Users = { Users.Keys } } };
            case AuthCommand.OpOneofCase.RoleList:
                return new AuthResult { RoleList = new AuthRoleListResponse { Roles = { Roles.Keys } } };
            case AuthCommand.OpOneofCase.UserGet:
                if (!Users.TryGetValue(command.UserGet.Name, out var user))
                {
                    error = AuthErrors.UserNotFound;
                    return new AuthResult();
                }

                return new AuthResult { UserGet = new AuthUserGetResponse { Roles = { user.Roles } } };
            case AuthCommand.OpOneofCase.RoleGet:
                if (!Roles.TryGetValue(command.RoleGet.Role, out var role))
                {
                    error = AuthErrors.RoleNotFound;
                    return new AuthResult();
                }

                // The role's own permissions, also for root (etcd 3.4 lists none for it; 3.5 lists everything).
                var response = new AuthRoleGetResponse();
                response.Perm.Add(role.KeyPermission.Select(p => p.Clone()));
                return new AuthResult { RoleGet = response };
            default:
                return null;
        }
    }

    /// <summary>The store as a snapshot section's message.</summary>
    public AuthImage ToImage()
    {
        var image = new AuthImage { Enabled = Enabled, Revision = Revision, TokenKey = TokenKey };
        image.Users.Add(Users.Values);
        image.Roles.Add(Roles.Values);
        return image;
    }

    /// <summary>The store a snapshot section describes.</summary>
    /// <exception cref="InvalidDataException">The image is impossible (revision 0, a repeated or empty name, enabled without a root user).</exception>
    public static KvAuthState FromImage(AuthImage image)
    {
        var users = s_noUsers.ToBuilder();
        foreach (var user in image.Users)
        {
            var name = user.Name.ToStringUtf8();
            if (name.Length == 0 || !users.TryAdd(name, user))
            {
                throw new InvalidDataException($"The auth section names the user '{name}' twice, or a user without a name.");
            }
        }

        var roles = s_noRoles.ToBuilder();
        foreach (var role in image.Roles)
        {
            var name = role.Name.ToStringUtf8();
            if (name.Length == 0 || !roles.TryAdd(name, role))
            {
                throw new InvalidDataException($"The auth section names the role '{name}' twice, or a role without a name.");
            }
        }

        if (image.Revision == 0 || (image.Enabled && (!users.TryGetValue(Root, out var root) || !root.Roles.Contains(Root))))
        {
            throw new InvalidDataException($"The auth section is impossible: revision {image.Revision}, enabled {image.Enabled} with {(users.ContainsKey(Root) ? "a root user" : "no root user")}.");
        }

        return new KvAuthState(image.Enabled, image.Revision, image.TokenKey, users.ToImmutable(), roles.ToImmutable());
    }

    /// <summary>Orders byte strings as unsigned bytes (etcd's key order).</summary>
    private sealed class ByteStringOrder : IComparer<ByteString>
    {
        public static ByteStringOrder Instance { get; } = new();

        public int Compare(ByteString? x, ByteString? y) => (x is null ? default : x.Span).SequenceCompareTo(y is null ? default : y.Span);
    }
}
