using System.CommandLine;
using System.Globalization;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// <c>kv lease grant|revoke|keep-alive|timetolive|list</c> with etcdctl 3.4's output (hexadecimal ids, <c>-w json</c>
/// prints the response), and <c>kv lock</c> / <c>kv elect</c> (<see cref="CoordinationCommands"/>).
/// </summary>
internal static class LeaseCommands
{
    /// <summary>Adds <c>lease</c>, <c>lock</c> and <c>elect</c> to <paramref name="root"/>.</summary>
    public static void AddTo(Command root, GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var lease = new Command("lease", "Leases: grant, revoke, keep-alive, timetolive, list (keys put with --lease die with their lease).");
        lease.Subcommands.Add(Grant(globals, options, console));
        lease.Subcommands.Add(Revoke(globals, options, console));
        lease.Subcommands.Add(KeepAlive(globals, options, console));
        lease.Subcommands.Add(TimeToLive(globals, options, console));
        lease.Subcommands.Add(List(globals, options, console));
        root.Subcommands.Add(lease);
        root.Subcommands.Add(CoordinationCommands.Lock(globals, options, console));
        root.Subcommands.Add(CoordinationCommands.Elect(globals, options, console));
    }

    /// <summary>A lease id as etcdctl prints it: 16 hexadecimal digits.</summary>
    public static string Hex(long id) => id.ToString("x16", CultureInfo.InvariantCulture);

    private static Command Grant(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var ttl = new Argument<long>("ttl") { Description = "Seconds the lease lives without a keep-alive (raised to the cluster's minimum)." };
        var command = new Command("grant", "Create a lease; prints its id.") { ttl };
        command.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var response = await session.CallAsync((c, o) => c.Lease.LeaseGrantAsync(new LeaseGrantRequest { TTL = parse.GetValue(ttl) }, o), token).ConfigureAwait(false);
            Print(session, response, $"lease {Hex(response.ID)} granted with TTL({response.TTL}s)");
            return ExitCodes.Success;
        }, token));
        return command;
    }

    private static Command Revoke(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var id = IdArgument();
        var command = new Command("revoke", "Revoke a lease: every key attached to it is deleted (in one revision).") { id };
        command.SetAction((parse, token) => WithId(parse, id, console, leaseId => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var response = await session.CallAsync((c, o) => c.Lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = leaseId }, o), token).ConfigureAwait(false);
            Print(session, response, $"lease {Hex(leaseId)} revoked");
            return ExitCodes.Success;
        }, token)));
        return command;
    }

    private static Command KeepAlive(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var id = IdArgument();
        var once = new Option<bool>("--once") { Description = "Renew once and exit." };
        var command = new Command("keep-alive", "Keep a lease alive (every TTL/3) until interrupted or the lease is gone.") { id, once };
        command.SetAction((parse, token) => WithId(parse, id, console, leaseId => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var cluster = new EtcdCoordination(session, CallTimeout(session));
            if (parse.GetValue(once))
            {
                using var call = cluster.Current.Lease.LeaseKeepAlive(session.Options(token));
                await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }, token).ConfigureAwait(false);
                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                var answered = await call.ResponseStream.MoveNext(token).ConfigureAwait(false);
                if (!answered || call.ResponseStream.Current.TTL <= 0)
                {
                    return CliSession.Fail(console, "rejected", $"etcdserver: requested lease not found (lease {Hex(leaseId)})", ExitCodes.Rejected);
                }

                var response = call.ResponseStream.Current;
                Print(session, response, $"lease {Hex(response.ID)} keepalived with TTL({response.TTL})");
                return ExitCodes.Success;
            }

            await using var keeper = LeaseKeeper.Start(cluster, leaseId, ttl: 0, r => Print(session, r, $"lease {Hex(r.ID)} keepalived with TTL({r.TTL})"), token);
            try
            {
                await keeper.Lost.WaitAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return ExitCodes.Interrupted;
            }

            if (session.Format == "simple")
            {
                console.Out.WriteLine($"lease {Hex(leaseId)} expired or revoked.");
            }

            return ExitCodes.Success;
        }, token)));
        return command;
    }

    private static Command TimeToLive(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var id = IdArgument();
        var keys = new Option<bool>("--keys") { Description = "Also list the keys attached to the lease." };
        var command = new Command("timetolive", "The lease's granted TTL, remaining TTL (from the leader's lessor) and, with --keys, its keys.") { id, keys };
        command.SetAction((parse, token) => WithId(parse, id, console, leaseId => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var request = new LeaseTimeToLiveRequest { ID = leaseId, Keys = parse.GetValue(keys) };
            var response = await session.CallAsync((c, o) => c.Lease.LeaseTimeToLiveAsync(request, o), token).ConfigureAwait(false);
            string text;
            if (response.GrantedTTL == 0 && response.TTL == -1)
            {
                text = $"lease {Hex(leaseId)} already expired";
            }
            else
            {
                text = $"lease {Hex(response.ID)} granted with TTL({response.GrantedTTL}s), remaining({response.TTL}s)";
                if (response.Keys.Count > 0)
                {
                    text += $", attached keys([{string.Join(' ', response.Keys.Select(k => k.ToStringUtf8()))}])";
                }
            }

            Print(session, response, text);
            return ExitCodes.Success;
        }, token)));
        return command;
    }

    private static Command List(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var command = new Command("list", "List every lease id.");
        command.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var response = await session.CallAsync((c, o) => c.Lease.LeaseLeasesAsync(new LeaseLeasesRequest(), o), token).ConfigureAwait(false);
            var lines = new List<string> { $"found {response.Leases.Count} leases" };
            lines.AddRange(response.Leases.Select(l => Hex(l.ID)));
            Print(session, response, string.Join('\n', lines));
            return ExitCodes.Success;
        }, token));
        return command;
    }

    /// <summary>Each call's deadline in the long-running commands: the command timeout.</summary>
    internal static TimeSpan CallTimeout(EtcdSession session)
    {
        var left = session.Deadline - DateTime.UtcNow;
        return left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(5);
    }

    /// <summary>The simple line, or the response as etcdctl's JSON with <c>-w json</c>.</summary>
    internal static void Print(EtcdSession session, Google.Protobuf.IMessage response, string simple)
    {
        session.Console.Out.WriteLine(session.Format == "json" ? EtcdJson.Format(response) : simple);
    }

    private static Argument<string> IdArgument() => new("id") { Description = "The lease id in hexadecimal, as lease grant prints it." };

    private static Task<int> WithId(ParseResult parse, Argument<string> id, KvConsole console, Func<long, Task<int>> run)
    {
        var text = parse.GetValue(id);
        if (!long.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var leaseId))
        {
            return Task.FromResult(KvCli.UsageError(parse, $"'{text}' is not a hexadecimal lease id", console));
        }

        return run(leaseId);
    }
}
