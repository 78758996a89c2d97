namespace KvCluster.Node.Kv;

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
