using System.Collections.Immutable;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Authpb;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>The auth store's changes, with etcd's rules: each gives a new store, or this one and etcd's refusal.</summary>
public sealed partial class KvAuthState
{
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
}
