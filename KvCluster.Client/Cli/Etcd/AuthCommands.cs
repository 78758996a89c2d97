using System.CommandLine;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Authpb;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// etcd's auth commands, as etcdctl 3.4 has them and with its output: <c>kv auth enable|disable|status</c>, <c>kv user
/// add|get|list|delete|passwd|grant-role|revoke-role</c>, <c>kv role add|get|list|delete|grant-permission|
/// revoke-permission</c>. <c>-w json</c> prints the response as etcdctl does. A password not given on the command line
/// is read as one line of standard input (etcdctl's <c>--interactive=false</c>; kv never prompts).
/// </summary>
internal static class AuthCommands
{
    /// <summary>Adds the commands to <paramref name="root"/>.</summary>
    public static void AddTo(Command root, GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        root.Subcommands.Add(Auth(globals, options, console));
        root.Subcommands.Add(User(globals, options, console));
        root.Subcommands.Add(Role(globals, options, console));
    }

    /// <summary>A command that makes one call and prints <paramref name="simple"/>'s lines (or the JSON response).</summary>
    private static void Call<T>(Command command, GlobalOptions globals, EtcdOptions options, KvConsole console, Func<ParseResult, KvCluster.Client.Bench.Etcd.EtcdChannel, Grpc.Core.CallOptions, Grpc.Core.AsyncUnaryCall<T>> call, Func<ParseResult, T, string> simple)
        where T : IMessage
    {
        command.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var response = await session.CallAsync((c, o) => call(parse, c, o), token).ConfigureAwait(false);
            console.Out.Write(session.Format == "json" ? EtcdJson.Format(response) + "\n" : simple(parse, response));
            return ExitCodes.Success;
        }, token));
    }

    private static Command Auth(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var command = new Command("auth", "Enable or disable authentication (etcd's users and roles), or show its status.");
        var enable = new Command("enable", "Enable authentication: needs a user 'root' with the role 'root'.");
        Call(enable, globals, options, console, (_, c, o) => c.Auth.AuthEnableAsync(new AuthEnableRequest(), o), (_, _) => "Authentication Enabled\n");
        var disable = new Command("disable", "Disable authentication (as root while it is enabled).");
        Call(disable, globals, options, console, (_, c, o) => c.Auth.AuthDisableAsync(new AuthDisableRequest(), o), (_, _) => "Authentication Disabled\n");
        var status = new Command("status", "Whether authentication is enabled, and the auth store's revision.");
        Call(status, globals, options, console, (_, c, o) => c.Auth.AuthStatusAsync(new AuthStatusRequest(), o),
            (_, r) => $"Authentication Status: {(r.Enabled ? "true" : "false")}\nAuthRevision: {r.AuthRevision}\n");
        command.Subcommands.Add(enable);
        command.Subcommands.Add(disable);
        command.Subcommands.Add(status);
        return command;
    }

    private static Command User(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var command = new Command("user", "Users: add, get, list, delete, passwd, grant-role, revoke-role.");

        var nameAndPassword = new Argument<string>("name[:password]") { Description = "The user, with its password after a colon (else --new-user-password, else one line of standard input)." };
        var newPassword = new Option<string?>("--new-user-password") { Description = "The new user's password." };
        var noPassword = new Option<bool>("--no-password") { Description = "A user without a password (it cannot authenticate with one)." };
        var add = new Command("add", "Add a user.") { nameAndPassword, newPassword, noPassword };
        add.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var text = parse.GetValue(nameAndPassword)!;
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            var name = colon >= 0 ? text[..colon] : text;
            if (name.Length == 0)
            {
                return CliSession.Fail(console, "rejected", "empty user name is not allowed", ExitCodes.Usage);
            }

            var request = new AuthUserAddRequest { Name = name };
            if (parse.GetValue(noPassword))
            {
                request.Options = new UserAddOptions { NoPassword = true };
            }
            else
            {
                request.Password = colon >= 0 ? text[(colon + 1)..] : parse.GetValue(newPassword) ?? await ReadPasswordAsync(console).ConfigureAwait(false);
            }

            var response = await session.CallAsync((c, o) => c.Auth.UserAddAsync(request, o), token).ConfigureAwait(false);
            console.Out.Write(session.Format == "json" ? EtcdJson.Format(response) + "\n" : $"User {name} created\n");
            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(add);

        var name = new Argument<string>("name") { Description = "The user." };
        var detail = new Option<bool>("--detail") { Description = "Also print each role's permissions." };
        var get = new Command("get", "The roles of a user.") { name, detail };
        get.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var user = parse.GetValue(name)!;
            var response = await session.CallAsync((c, o) => c.Auth.UserGetAsync(new AuthUserGetRequest { Name = user }, o), token).ConfigureAwait(false);
            if (session.Format == "json")
            {
                console.Out.WriteLine(EtcdJson.Format(response));
                return ExitCodes.Success;
            }

            console.Out.WriteLine($"User: {user}");
            if (!parse.GetValue(detail))
            {
                console.Out.WriteLine($"Roles: {string.Join(' ', response.Roles)}");
                return ExitCodes.Success;
            }

            foreach (var role in response.Roles)
            {
                var permissions = await session.CallAsync((c, o) => c.Auth.RoleGetAsync(new AuthRoleGetRequest { Role = role }, o), token).ConfigureAwait(false);
                console.Out.Write($"\n{RoleText(role, permissions)}");
            }

            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(get);

        var list = new Command("list", "Every user, one per line.");
        Call(list, globals, options, console, (_, c, o) => c.Auth.UserListAsync(new AuthUserListRequest(), o), (_, r) => Lines(r.Users));
        command.Subcommands.Add(list);

        var delete = new Command("delete", "Delete a user.") { name };
        Call(delete, globals, options, console, (p, c, o) => c.Auth.UserDeleteAsync(new AuthUserDeleteRequest { Name = p.GetValue(name) }, o), (p, _) => $"User {p.GetValue(name)} deleted\n");
        command.Subcommands.Add(delete);

        var interactive = new Option<bool>("--interactive") { Description = "Accepted for etcdctl's scripts (kv reads the password from standard input either way).", DefaultValueFactory = _ => true };
        var passwd = new Command("passwd", "Change a user's password (read as one line of standard input).") { name, interactive };
        passwd.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var request = new AuthUserChangePasswordRequest { Name = parse.GetValue(name), Password = await ReadPasswordAsync(console).ConfigureAwait(false) };
            var response = await session.CallAsync((c, o) => c.Auth.UserChangePasswordAsync(request, o), token).ConfigureAwait(false);
            console.Out.Write(session.Format == "json" ? EtcdJson.Format(response) + "\n" : "Password updated\n");
            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(passwd);

        var role = new Argument<string>("role") { Description = "The role." };
        var grant = new Command("grant-role", "Grant a role to a user.") { name, role };
        Call(grant, globals, options, console, (p, c, o) => c.Auth.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = p.GetValue(name), Role = p.GetValue(role) }, o),
            (p, _) => $"Role {p.GetValue(role)} is granted to user {p.GetValue(name)}\n");
        command.Subcommands.Add(grant);

        var revoke = new Command("revoke-role", "Revoke a role from a user.") { name, role };
        Call(revoke, globals, options, console, (p, c, o) => c.Auth.UserRevokeRoleAsync(new AuthUserRevokeRoleRequest { Name = p.GetValue(name), Role = p.GetValue(role) }, o),
            (p, _) => $"Role {p.GetValue(role)} is revoked from user {p.GetValue(name)}\n");
        command.Subcommands.Add(revoke);
        return command;
    }

    private static Command Role(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var command = new Command("role", "Roles: add, get, list, delete, grant-permission, revoke-permission.");
        var name = new Argument<string>("role") { Description = "The role." };

        var add = new Command("add", "Add a role.") { name };
        Call(add, globals, options, console, (p, c, o) => c.Auth.RoleAddAsync(new AuthRoleAddRequest { Name = p.GetValue(name) }, o), (p, _) => $"Role {p.GetValue(name)} created\n");
        command.Subcommands.Add(add);

        var get = new Command("get", "The key permissions of a role.") { name };
        Call(get, globals, options, console, (p, c, o) => c.Auth.RoleGetAsync(new AuthRoleGetRequest { Role = p.GetValue(name) }, o), (p, r) => RoleText(p.GetValue(name)!, r));
        command.Subcommands.Add(get);

        var list = new Command("list", "Every role, one per line.");
        Call(list, globals, options, console, (_, c, o) => c.Auth.RoleListAsync(new AuthRoleListRequest(), o), (_, r) => Lines(r.Roles));
        command.Subcommands.Add(list);

        var delete = new Command("delete", "Delete a role (and take it from every user).") { name };
        Call(delete, globals, options, console, (p, c, o) => c.Auth.RoleDeleteAsync(new AuthRoleDeleteRequest { Role = p.GetValue(name) }, o), (p, _) => $"Role {p.GetValue(name)} deleted\n");
        command.Subcommands.Add(delete);

        var type = new Argument<string>("read|write|readwrite") { Description = "The access granted." };
        type.AcceptOnlyFromAmong("read", "write", "readwrite");
        var key = new Argument<string>("key") { Description = "The key (or the start of the range)." };
        var rangeEnd = new Argument<string?>("range_end") { Description = "The end of the range (exclusive).", Arity = ArgumentArity.ZeroOrOne };
        var prefix = new Option<bool>("--prefix") { Description = "Every key with the key as prefix." };
        var fromKey = new Option<bool>("--from-key") { Description = "Every key from the key on." };

        var grant = new Command("grant-permission", "Grant a role access to a key, a range, a prefix or every key from a key on.") { name, type, key, rangeEnd, prefix, fromKey };
        grant.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            if (EtcdKeys.Resolve(parse.GetValue(key)!, parse.GetValue(rangeEnd), parse.GetValue(prefix), parse.GetValue(fromKey), out var error) is not { } range)
            {
                return CliSession.Fail(console, "rejected", error!, ExitCodes.Usage);
            }

            var access = parse.GetValue(type) switch
            {
                "read" => Permission.Types.Type.Read,
                "write" => Permission.Types.Type.Write,
                _ => Permission.Types.Type.Readwrite,
            };
            var request = new AuthRoleGrantPermissionRequest { Name = parse.GetValue(name), Perm = new Permission { PermType = access, Key = range.Key, RangeEnd = range.RangeEnd } };
            var response = await session.CallAsync((c, o) => c.Auth.RoleGrantPermissionAsync(request, o), token).ConfigureAwait(false);
            console.Out.Write(session.Format == "json" ? EtcdJson.Format(response) + "\n" : $"Role {request.Name} updated\n");
            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(grant);

        var revoke = new Command("revoke-permission", "Revoke a permission from a role (the same key or range it was granted on).") { name, key, rangeEnd, prefix, fromKey };
        revoke.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            if (EtcdKeys.Resolve(parse.GetValue(key)!, parse.GetValue(rangeEnd), parse.GetValue(prefix), parse.GetValue(fromKey), out var error) is not { } range)
            {
                return CliSession.Fail(console, "rejected", error!, ExitCodes.Usage);
            }

            var request = new AuthRoleRevokePermissionRequest { Role = parse.GetValue(name), Key = range.Key, RangeEnd = range.RangeEnd };
            var response = await session.CallAsync((c, o) => c.Auth.RoleRevokePermissionAsync(request, o), token).ConfigureAwait(false);
            console.Out.Write(session.Format == "json"
                ? EtcdJson.Format(response) + "\n"
                : $"Permission of {(range.RangeEnd.IsEmpty ? $"key {EtcdPrinter.Text(range.Key)}" : $"range {RangeText(range.Key, range.RangeEnd)}")} is revoked from role {request.Role}\n");
            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(revoke);
        return command;
    }

    /// <summary>One line per name.</summary>
    private static string Lines(IEnumerable<string> names) => string.Concat(names.Select(n => n + "\n"));

    /// <summary>A role's permissions as etcdctl prints them: reads, then writes, each one key or a range.</summary>
    private static string RoleText(string role, AuthRoleGetResponse response)
    {
        var text = new System.Text.StringBuilder($"Role {role}\nKV Read:\n");
        foreach (var perm in response.Perm.Where(p => p.PermType is Permission.Types.Type.Read or Permission.Types.Type.Readwrite))
        {
            text.Append('\t').Append(PermissionText(perm)).Append('\n');
        }

        text.Append("KV Write:\n");
        foreach (var perm in response.Perm.Where(p => p.PermType is Permission.Types.Type.Write or Permission.Types.Type.Readwrite))
        {
            text.Append('\t').Append(PermissionText(perm)).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>One key, or <c>[key, end)</c> (with <c>(prefix key)</c> when end is the key's prefix end), or <c>[key, &lt;open ended&gt;</c>.</summary>
    private static string PermissionText(Permission perm)
    {
        if (perm.RangeEnd.IsEmpty)
        {
            return EtcdPrinter.Text(perm.Key);
        }

        var range = RangeText(perm.Key, perm.RangeEnd);
        return !perm.Key.IsEmpty && perm.RangeEnd.Equals(EtcdKeys.PrefixEnd(perm.Key)) ? $"{range} (prefix {EtcdPrinter.Text(perm.Key)})" : range;
    }

    private static string RangeText(ByteString key, ByteString rangeEnd) =>
        rangeEnd.Length == 1 && rangeEnd[0] == 0 ? $"[{EtcdPrinter.Text(key)}, <open ended>" : $"[{EtcdPrinter.Text(key)}, {EtcdPrinter.Text(rangeEnd)})";

    /// <summary>A password as one line of standard input.</summary>
    private static async Task<string> ReadPasswordAsync(KvConsole console) =>
        await console.In.ReadLineAsync().ConfigureAwait(false) ?? string.Empty;
}
