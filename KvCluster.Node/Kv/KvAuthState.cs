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
public sealed class KvAuthState
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

    /// <summary>
    /// Applies an auth change: the new store, or this one and etcd's refusal. A change that changes nothing etcd
    /// accepts without a new revision (enable while enabled, disable while disabled, a role granted twice).
    /// </summary>
    public KvAuthState Apply(AuthCommand command, out string? error)
    {
        error = null;
        switch (command.OpCase)
        {
            case AuthCommand.OpOneofCase.Enable:
                if (Enabled)
                {
                    return this;
                }

                if (!Users.TryGetValue(Root, out var root))
                {
                    error = AuthErrors.RootUserNotExist;
                    return this;
                }

                if (!root.Roles.Contains(Root))
                {
                    error = AuthErrors.RootRoleNotExist;
                    return this;
                }

                return new KvAuthState(true, Revision, command.TokenKey, Users, Roles);
            case AuthCommand.OpOneofCase.Disable:
                return Enabled ? new KvAuthState(false, Revision + 1, TokenKey, Users, Roles) : this;
            case AuthCommand.OpOneofCase.UserAdd:
                return UserAdd(command, out error);
            case AuthCommand.OpOneofCase.UserDelete:
                return UserDelete(command.UserDelete.Name, out error);
            case AuthCommand.OpOneofCase.UserChangePassword:
                return WithUser(command.UserChangePassword.Name, out error, u =>
                {
                    var changed = u.Clone();
                    changed.Password = u.Options is { NoPassword: true } ? ByteString.Empty : command.PasswordHash;
                    return changed;
                });
            case AuthCommand.OpOneofCase.UserGrantRole:
                return UserGrantRole(command.UserGrantRole, out error);
            case AuthCommand.OpOneofCase.UserRevokeRole:
                return UserRevokeRole(command.UserRevokeRole, out error);
            case AuthCommand.OpOneofCase.RoleAdd:
                return RoleAdd(command.RoleAdd.Name, out error);
            case AuthCommand.OpOneofCase.RoleDelete:
                return RoleDelete(command.RoleDelete.Role, out error);
            case AuthCommand.OpOneofCase.RoleGrantPermission:
                return RoleGrantPermission(command.RoleGrantPermission, out error);
            case AuthCommand.OpOneofCase.RoleRevokePermission:
                return RoleRevokePermission(command.RoleRevokePermission, out error);
            default:
                error = $"etcdserver: the auth command {command.OpCase} changes nothing";
                return this;
        }
    }

    private KvAuthState Changed(ImmutableSortedDictionary<string, User>? users = null, ImmutableSortedDictionary<string, Role>? roles = null) =>
        new(Enabled, Revision + 1, TokenKey, users ?? Users, roles ?? Roles);

    private KvAuthState UserAdd(AuthCommand command, out string? error)
    {
        var add = command.UserAdd;
        error = add.Name.Length == 0 ? AuthErrors.UserEmpty
            : Users.ContainsKey(add.Name) ? AuthErrors.UserAlreadyExist
            : add.Options is not { NoPassword: true } && command.PasswordHash.IsEmpty ? AuthErrors.NoPasswordUser
            : null;
        if (error is not null)
        {
            return this;
        }

        var user = new User
        {
            Name = ByteString.CopyFromUtf8(add.Name),
            Password = add.Options is { NoPassword: true } ? ByteString.Empty : command.PasswordHash,
            Options = add.Options?.Clone() ?? new UserAddOptions(),
        };
        return Changed(users: Users.Add(add.Name, user));
    }

    private KvAuthState UserDelete(string name, out string? error)
    {
        error = Enabled && name == Root ? AuthErrors.InvalidAuthManagement : !Users.ContainsKey(name) ? AuthErrors.UserNotFound : null;
        return error is null ? Changed(users: Users.Remove(name)) : this;
    }

    private KvAuthState WithUser(string name, out string? error, Func<User, User> change)
    {
        if (!Users.TryGetValue(name, out var user))
        {
            error = AuthErrors.UserNotFound;
            return this;
        }

        error = null;
        return Changed(users: Users.SetItem(name, change(user)));
    }

    private KvAuthState UserGrantRole(AuthUserGrantRoleRequest grant, out string? error)
    {
        if (!Users.TryGetValue(grant.User, out var user))
        {
            error = AuthErrors.UserNotFound;
            return this;
        }

        error = grant.Role != Root && !Roles.ContainsKey(grant.Role) ? AuthErrors.RoleNotFound : null;
        if (error is not null || user.Roles.Contains(grant.Role))
        {
            return this;
        }

        return WithUser(grant.User, out error, u =>
        {
            var changed = u.Clone();
            changed.Roles.Clear();
            changed.Roles.Add(u.Roles.Append(grant.Role).Order(StringComparer.Ordinal));
            return changed;
        });
    }

    private KvAuthState UserRevokeRole(AuthUserRevokeRoleRequest revoke, out string? error)
    {
        if (Enabled && revoke.Name == Root && revoke.Role == Root)
        {
            error = AuthErrors.InvalidAuthManagement;
            return this;
        }

        if (!Users.TryGetValue(revoke.Name, out var user))
        {
            error = AuthErrors.UserNotFound;
            return this;
        }

        if (!user.Roles.Contains(revoke.Role))
        {
            error = AuthErrors.RoleNotGranted;
            return this;
        }

        return WithUser(revoke.Name, out error, u => WithoutRole(u, revoke.Role));
    }

    private static User WithoutRole(User user, string role)
    {
        var changed = user.Clone();
        changed.Roles.Clear();
        changed.Roles.Add(user.Roles.Where(r => r != role));
        return changed;
    }

    private KvAuthState RoleAdd(string name, out string? error)
    {
        error = name.Length == 0 ? AuthErrors.RoleEmpty : Roles.ContainsKey(name) ? AuthErrors.RoleAlreadyExist : null;
        return error is null ? Changed(roles: Roles.Add(name, new Role { Name = ByteString.CopyFromUtf8(name) })) : this;
    }

    private KvAuthState RoleDelete(string name, out string? error)
    {
        error = Enabled && name == Root ? AuthErrors.InvalidAuthManagement : !Roles.ContainsKey(name) ? AuthErrors.RoleNotFound : null;
        if (error is not null)
        {
            return this;
        }

        var users = Users;
        foreach (var (userName, user) in Users.Where(u => u.Value.Roles.Contains(name)))
        {
            users = users.SetItem(userName, WithoutRole(user, name));
        }

        return Changed(users, Roles.Remove(name));
    }

    private KvAuthState RoleGrantPermission(AuthRoleGrantPermissionRequest grant, out string? error)
    {
        var perm = grant.Perm;
        error = perm is null ? AuthErrors.PermissionNotGiven
            : !IsValidRange(perm.Key, perm.RangeEnd) ? AuthErrors.InvalidAuthManagement
            : !Roles.ContainsKey(grant.Name) ? AuthErrors.RoleNotFound
            : null;
        if (error is not null)
        {
            return this;
        }

        var role = Roles[grant.Name].Clone();
        var existing = role.KeyPermission.FirstOrDefault(p => p.Key.Equals(perm!.Key) && p.RangeEnd.Equals(perm.RangeEnd));
        if (existing is not null)
        {
            existing.PermType = perm!.PermType;
        }
        else
        {
            var all = role.KeyPermission.Append(new Permission { PermType = perm!.PermType, Key = perm.Key, RangeEnd = perm.RangeEnd })
                .OrderBy(p => p.Key, ByteStringOrder.Instance).ThenBy(p => p.RangeEnd, ByteStringOrder.Instance).ToList();
            role.KeyPermission.Clear();
            role.KeyPermission.Add(all);
        }

        return Changed(roles: Roles.SetItem(grant.Name, role));
    }

    private KvAuthState RoleRevokePermission(AuthRoleRevokePermissionRequest revoke, out string? error)
    {
        if (!Roles.TryGetValue(revoke.Role, out var role))
        {
            error = AuthErrors.RoleNotFound;
            return this;
        }

        var kept = role.KeyPermission.Where(p => !p.Key.Equals(revoke.Key) || !p.RangeEnd.Equals(revoke.RangeEnd)).ToList();
        if (kept.Count == role.KeyPermission.Count)
        {
            error = AuthErrors.PermissionNotGranted;
            return this;
        }

        error = null;
        var changed = new Role { Name = role.Name };
        changed.KeyPermission.Add(kept);
        return Changed(roles: Roles.SetItem(revoke.Role, changed));
    }

    /// <summary>etcd's rule for a permission's range: one key, every key from key on, or a non-empty [key, range_end).</summary>
    private static bool IsValidRange(ByteString key, ByteString rangeEnd) =>
        rangeEnd.IsEmpty || IsOpenEnded(rangeEnd.Span) || key.Span.SequenceCompareTo(rangeEnd.Span) < 0;

    private static bool IsOpenEnded(ReadOnlySpan<byte> rangeEnd) => rangeEnd.Length == 1 && rangeEnd[0] == 0;

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

    /// <summary>
    /// A user's READ and WRITE ranges, merged from its roles into disjoint half-open [start, end) intervals sorted by
    /// start (overlapping and adjacent ones joined; a null end means "every key from start on"), so a request is allowed
    /// when one interval holds it: found by binary search, without allocation. Also whether the user exists and is root.
    /// </summary>
    private sealed class UserRanges
    {
        private static readonly UserRanges s_unknown = new(false, false, [], []);

        private readonly (byte[] Start, byte[]? End)[] _read;
        private readonly (byte[] Start, byte[]? End)[] _write;

        private UserRanges(bool exists, bool isAdmin, (byte[], byte[]?)[] read, (byte[], byte[]?)[] write)
        {
            Exists = exists;
            IsAdmin = isAdmin;
            _read = read;
            _write = write;
        }

        /// <summary>False for a user the store does not have.</summary>
        public bool Exists { get; }

        /// <summary>True for a user with the root role.</summary>
        public bool IsAdmin { get; }

        public static UserRanges Of(KvAuthState state, string user)
        {
            if (!state.Users.TryGetValue(user, out var u))
            {
                return s_unknown;
            }

            var read = new List<(byte[], byte[]?)>();
            var write = new List<(byte[], byte[]?)>();
            foreach (var roleName in u.Roles)
            {
                if (!state.Roles.TryGetValue(roleName, out var role))
                {
                    continue;
                }

                foreach (var perm in role.KeyPermission)
                {
                    var interval = Interval(perm.Key.Span, perm.RangeEnd.Span);
                    if (perm.PermType is Permission.Types.Type.Read or Permission.Types.Type.Readwrite)
                    {
                        read.Add(interval);
                    }

                    if (perm.PermType is Permission.Types.Type.Write or Permission.Types.Type.Readwrite)
                    {
                        write.Add(interval);
                    }
                }
            }

            return new UserRanges(true, u.Roles.Contains(Root), Merged(read), Merged(write));
        }

        /// <summary>The union of <paramref name="intervals"/> as disjoint, non-adjacent intervals in order.</summary>
        private static (byte[], byte[]?)[] Merged(List<(byte[] Start, byte[]? End)> intervals)
        {
            var merged = new List<(byte[] Start, byte[]? End)>();
            foreach (var (start, end) in intervals.OrderBy(i => i.Start, Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b))))
            {
                if (merged.Count > 0 && (merged[^1].End is null || start.AsSpan().SequenceCompareTo(merged[^1].End) <= 0))
                {
                    var last = merged[^1];
                    if (last.End is not null && (end is null || end.AsSpan().SequenceCompareTo(last.End) > 0))
                    {
                        merged[^1] = (last.Start, end);
                    }

                    continue;
                }

                merged.Add((start, end));
            }

            return [.. merged];
        }

        /// <summary>etcd's forms as an interval: one key is [key, key + "\0"), an end of "\0" is open.</summary>
        private static (byte[] Start, byte[]? End) Interval(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd) =>
            rangeEnd.IsEmpty ? (key.ToArray(), [.. key, 0]) : IsOpenEnded(rangeEnd) ? (key.ToArray(), null) : (key.ToArray(), rangeEnd.ToArray());

        /// <summary>True when one interval for <paramref name="access"/> holds the request's key or range.</summary>
        public bool Covers(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, Permission.Types.Type access)
        {
            var intervals = access == Permission.Types.Type.Read ? _read : _write;

            // The last interval starting at or before the key: the only one that can hold it (they are disjoint).
            int lo = 0, hi = intervals.Length - 1, found = -1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                if (intervals[mid].Start.AsSpan().SequenceCompareTo(key) <= 0)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            if (found < 0)
            {
                return false;
            }

            var end = intervals[found].End;
            if (end is null)
            {
                return true;
            }

            return rangeEnd.IsEmpty
                ? key.SequenceCompareTo(end) < 0
                : !IsOpenEnded(rangeEnd) && rangeEnd.SequenceCompareTo(end) <= 0 && key.SequenceCompareTo(end) < 0;
        }
    }
}

/// <summary>etcd's auth refusals, with its exact messages (api/v3rpc/rpctypes); the node maps them onto gRPC codes.</summary>
public static class AuthErrors
{
    /// <summary>Enable without a root user.</summary>
    public const string RootUserNotExist = "etcdserver: root user does not exist";

    /// <summary>Enable while root lacks the root role.</summary>
    public const string RootRoleNotExist = "etcdserver: root user does not have root role";

    /// <summary>A user added twice.</summary>
    public const string UserAlreadyExist = "etcdserver: user name already exists";

    /// <summary>A user without a name, or a request without a user while authentication is enabled.</summary>
    public const string UserEmpty = "etcdserver: user name is empty";

    /// <summary>An unknown user.</summary>
    public const string UserNotFound = "etcdserver: user name not found";

    /// <summary>A role added twice.</summary>
    public const string RoleAlreadyExist = "etcdserver: role name already exists";

    /// <summary>An unknown role.</summary>
    public const string RoleNotFound = "etcdserver: role name not found";

    /// <summary>A role without a name.</summary>
    public const string RoleEmpty = "etcdserver: role name is empty";

    /// <summary>Wrong user or password.</summary>
    public const string AuthFailed = "etcdserver: authentication failed, invalid user ID or password";

    /// <summary>A grant without a permission.</summary>
    public const string PermissionNotGiven = "etcdserver: permission not given";

    /// <summary>The user may not do this.</summary>
    public const string PermissionDenied = "etcdserver: permission denied";

    /// <summary>Revoking a role the user does not have.</summary>
    public const string RoleNotGranted = "etcdserver: role is not granted to the user";

    /// <summary>Revoking a permission the role does not have.</summary>
    public const string PermissionNotGranted = "etcdserver: permission is not granted to the role";

    /// <summary>Authenticate while authentication is disabled.</summary>
    public const string AuthNotEnabled = "etcdserver: authentication is not enabled";

    /// <summary>A token that is malformed, forged, expired or names a user who changed password or is gone.</summary>
    public const string InvalidAuthToken = "etcdserver: invalid auth token";

    /// <summary>Deleting root or its role while enabled; a permission with an empty range.</summary>
    public const string InvalidAuthManagement = "etcdserver: invalid auth management";

    /// <summary>A request checked at an auth revision older than the store's at apply time: authenticate again.</summary>
    public const string OldRevision = "etcdserver: revision of auth store is old";

    /// <summary>A user added without a password and without no_password.</summary>
    public const string NoPasswordUser = "etcdserver: authentication failed, password was given for no password user";

    /// <summary>True when <paramref name="message"/> is one of these refusals.</summary>
    public static bool IsAuthError(string message) => message.StartsWith("etcdserver: ", StringComparison.Ordinal) && s_all.Contains(message);

    private static readonly HashSet<string> s_all =
    [
        RootUserNotExist, RootRoleNotExist, UserAlreadyExist, UserEmpty, UserNotFound, RoleAlreadyExist, RoleNotFound, RoleEmpty,
        AuthFailed, PermissionNotGiven, PermissionDenied, RoleNotGranted, PermissionNotGranted, AuthNotEnabled, InvalidAuthToken,
        InvalidAuthManagement, OldRevision, NoPasswordUser,
    ];
}
