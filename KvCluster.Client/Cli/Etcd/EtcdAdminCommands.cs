using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using KvCluster.Client.Bench;
using KvCluster.Client.Bench.Etcd;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// The etcd-API administration commands, as etcdctl has them: <c>kv compact</c>, <c>kv member
/// list|add|remove|promote</c>, <c>kv endpoint status|health|hashkv</c>, <c>kv move-leader</c>, <c>kv defrag</c>,
/// <c>kv alarm list|disarm</c>.
/// </summary>
internal static class EtcdAdminCommands
{
    /// <summary>Adds the commands to <paramref name="root"/>.</summary>
    public static void AddTo(Command root, GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        root.Subcommands.Add(Compact(globals, options, console));
        root.Subcommands.Add(Member(globals, options, console));
        root.Subcommands.Add(Endpoint(globals, options, console));
        root.Subcommands.Add(MoveLeader(globals, options, console));
        root.Subcommands.Add(Defrag(globals, options, console));
        root.Subcommands.Add(Alarm(globals, options, console));
    }

    private static Command Defrag(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var clusterOption = new Option<bool>("--cluster") { Description = "Defragment every member's client URL from member list instead of --endpoints." };
        var command = new Command("defrag", "Defragment the storage of each endpoint (Maintenance.Defragment), one at a time, as etcdctl defrag.") { clusterOption };
        command.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var failed = 0;
            foreach (var (endpoint, channel) in await TargetsAsync(session, parse.GetValue(clusterOption), token).ConfigureAwait(false))
            {
                try
                {
                    await channel.Maintenance.DefragmentAsync(new DefragmentRequest(), session.Options(token)).ResponseAsync.ConfigureAwait(false);
                    console.Out.WriteLine($"Finished defragmenting etcd member[{endpoint}]");
                }
                catch (RpcException e)
                {
                    failed++;
                    console.Error.WriteLine($"Failed to defragment etcd member[{endpoint}] ({e.Status.Detail}, {EtcdErrors.Name(e.StatusCode)})");
                }
            }

            return failed == 0 ? ExitCodes.Success : ExitCodes.Unavailable;
        }, token));
        return command;
    }

    private static Command Alarm(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var command = new Command("alarm", "Alarms (etcd's NOSPACE, CORRUPT): list, disarm. AkkaKv raises none.");
        var list = new Command("list", "List every alarm of the cluster: one 'memberID:<id> alarm:<type>' line each, nothing when there is none.");
        list.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            new EtcdPrinter(console.Out, session.Format).Alarms(await ListAlarmsAsync(session, token).ConfigureAwait(false));
            return ExitCodes.Success;
        }, token));
        var disarm = new Command("disarm", "Deactivate every alarm listed, and print the ones deactivated.");
        disarm.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var listed = await ListAlarmsAsync(session, token).ConfigureAwait(false);
            var disarmed = new AlarmResponse { Header = listed.Header };
            foreach (var alarm in listed.Alarms)
            {
                var request = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, MemberID = alarm.MemberID, Alarm = alarm.Alarm };
                var response = await session.CallAsync((c, o) => c.Maintenance.AlarmAsync(request, o), token).ConfigureAwait(false);
                disarmed.Header = response.Header;
                disarmed.Alarms.Add(alarm);
            }

            new EtcdPrinter(console.Out, session.Format).Alarms(disarmed);
            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(list);
        command.Subcommands.Add(disarm);
        return command;
    }

    /// <summary>The cluster's alarms (Maintenance.Alarm GET).</summary>
    private static Task<AlarmResponse> ListAlarmsAsync(EtcdSession session, CancellationToken token) =>
        session.CallAsync((c, o) => c.Maintenance.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Get }, o), token);

    private static Command Compact(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var revision = new Argument<long>("revision") { Description = "Drop the history below this store revision." };
        var physical = new Option<bool>("--physical") { Description = "Return once the compaction is physically applied." };
        var command = new Command("compact", "Compact the key history: reads below the revision then fail (exit 5, etcd's compacted error).") { revision, physical };
        command.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var request = new CompactionRequest { Revision = parse.GetValue(revision), Physical = parse.GetValue(physical) };
            var response = await session.CallAsync((c, o) => c.Kv.CompactAsync(request, o), token).ConfigureAwait(false);
            new EtcdPrinter(console.Out, session.Format).Compact(response, request.Revision);
            return ExitCodes.Success;
        }, token));
        return command;
    }

    private static Command Member(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var command = new Command("member", "Cluster membership: list, add, remove, promote.");

        var list = new Command("list", "List the members: ID, status, name, peer URLs, client URLs, is learner.");
        list.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var response = await session.CallAsync((c, o) => c.Cluster.MemberListAsync(new MemberListRequest { Linearizable = true }, o), token).ConfigureAwait(false);
            new EtcdPrinter(console.Out, session.Format).Members(response, response.Header, response.Members);
            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(list);

        var name = new Argument<string>("name") { Description = "The new member's name." };
        var peerUrls = new Option<string>("--peer-urls") { Description = "The new member's peer URLs, comma-separated.", Required = true, HelpName = "urls" };
        var learner = new Option<bool>("--learner") { Description = "Add it as a learner (a non-voting member, promoted later)." };
        var add = new Command("add", "Add a member (as a learner with --learner).") { name, peerUrls, learner };
        add.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var request = new MemberAddRequest { IsLearner = parse.GetValue(learner) };
            request.PeerURLs.AddRange(parse.GetValue(peerUrls)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            var response = await session.CallAsync((c, o) => c.Cluster.MemberAddAsync(request, o), token).ConfigureAwait(false);
            var printer = new EtcdPrinter(console.Out, session.Format);
            if (session.Format is "json" or "fields")
            {
                printer.Members(response, response.Header, response.Members);
                return ExitCodes.Success;
            }

            var cluster = response.Header?.ClusterId ?? 0;
            console.Out.WriteLine($"Member {Hex16(response.Member.ID)} added to cluster {Hex16(cluster)}");
            console.Out.WriteLine();
            var initial = response.Members.SelectMany(m => m.PeerURLs.Select(u => $"{(m.ID == response.Member.ID ? parse.GetValue(name) : m.Name)}={u}"));
            console.Out.WriteLine($"ETCD_NAME=\"{parse.GetValue(name)}\"");
            console.Out.WriteLine($"ETCD_INITIAL_CLUSTER=\"{string.Join(",", initial)}\"");
            console.Out.WriteLine($"ETCD_INITIAL_ADVERTISE_PEER_URLS=\"{string.Join(",", response.Member.PeerURLs)}\"");
            console.Out.WriteLine("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(add);

        command.Subcommands.Add(MemberById("remove", "Remove a member.", "removed from", globals, options, console,
            (c, id, o) => c.Cluster.MemberRemoveAsync(new MemberRemoveRequest { ID = id }, o), r => (r.Header, r.Members)));
        command.Subcommands.Add(MemberById("promote", "Promote a learner to a voting member.", "promoted in", globals, options, console,
            (c, id, o) => c.Cluster.MemberPromoteAsync(new MemberPromoteRequest { ID = id }, o), r => (r.Header, r.Members)));
        return command;
    }

    private static Command MemberById<T>(string verb, string description, string done, GlobalOptions globals, EtcdOptions options, KvConsole console,
        Func<EtcdChannel, ulong, CallOptions, AsyncUnaryCall<T>> call, Func<T, (ResponseHeader? Header, IEnumerable<KvCluster.Client.Etcd.Member> Members)> members)
        where T : Google.Protobuf.IMessage
    {
        var id = new Argument<string>("id") { Description = "The member ID in hexadecimal, as member list prints it." };
        var command = new Command(verb, description) { id };
        command.SetAction((parse, token) =>
        {
            if (!ulong.TryParse(parse.GetValue(id), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var memberId))
            {
                return Task.FromResult(KvCli.UsageError(parse, $"'{parse.GetValue(id)}' is not a hexadecimal member ID", console));
            }

            return EtcdSession.RunAsync(parse, globals, options, console, async session =>
            {
                var response = await session.CallAsync((c, o) => call(c, memberId, o), token).ConfigureAwait(false);
                var (header, list) = members(response);
                if (session.Format is "json" or "fields")
                {
                    new EtcdPrinter(console.Out, session.Format).Members(response, header, list);
                }
                else
                {
                    console.Out.WriteLine($"Member {Hex16(memberId)} {done} cluster {Hex16(header?.ClusterId ?? 0)}");
                }

                return ExitCodes.Success;
            }, token);
        });
        return command;
    }

    private static Command Endpoint(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var command = new Command("endpoint", "Per-endpoint checks: status, health, hashkv.");
        var clusterOption = new Option<bool>("--cluster") { Description = "Use every member's client URLs from member list instead of --endpoints.", Recursive = true };
        command.Options.Add(clusterOption);

        var status = new Command("status", "Each endpoint's status: ID, version, DB size, leader, Raft term and indexes.");
        status.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var statuses = new List<(string, StatusResponse)>();
            var failed = 0;
            foreach (var (endpoint, channel) in await TargetsAsync(session, parse.GetValue(clusterOption), token).ConfigureAwait(false))
            {
                try
                {
                    statuses.Add((endpoint.ToString(), await channel.Maintenance.StatusAsync(new StatusRequest(), session.Options(token)).ResponseAsync.ConfigureAwait(false)));
                }
                catch (RpcException e)
                {
                    failed++;
                    console.Error.WriteLine($"kv: unavailable: failed to get the status of endpoint {endpoint}: {e.Status.Detail} ({EtcdErrors.Name(e.StatusCode)})");
                }
            }

            new EtcdPrinter(console.Out, session.Format).Statuses(statuses);
            return failed == 0 ? ExitCodes.Success : ExitCodes.Unavailable;
        }, token));
        command.Subcommands.Add(status);

        var health = new Command("health", "Each endpoint's health: a linearizable read through the gRPC API must commit.");
        health.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var results = new List<string>();
            var unhealthy = 0;
            foreach (var (endpoint, channel) in await TargetsAsync(session, parse.GetValue(clusterOption), token).ConfigureAwait(false))
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await channel.Kv.RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("health") }, session.Options(token)).ResponseAsync.ConfigureAwait(false);
                    var took = Stopwatch.GetElapsedTime(started);
                    results.Add(session.Format == "json"
                        ? $"{{\"endpoint\":\"{endpoint}\",\"health\":true,\"took\":\"{Took(took)}\"}}"
                        : $"{endpoint} is healthy: successfully committed proposal: took = {Took(took)}");
                }
                catch (RpcException e)
                {
                    unhealthy++;
                    var error = $"{e.Status.Detail} ({EtcdErrors.Name(e.StatusCode)})";
                    if (session.Format == "json")
                    {
                        results.Add($"{{\"endpoint\":\"{endpoint}\",\"health\":false,\"took\":\"{Took(Stopwatch.GetElapsedTime(started))}\",\"error\":{System.Text.Json.JsonSerializer.Serialize(error)}}}");
                    }
                    else
                    {
                        console.Error.WriteLine($"{endpoint} is unhealthy: failed to commit proposal: {error}");
                    }
                }
            }

            if (session.Format == "json")
            {
                console.Out.WriteLine("[" + string.Join(",", results) + "]");
            }
            else
            {
                results.ForEach(console.Out.WriteLine);
            }

            if (unhealthy > 0)
            {
                console.Error.WriteLine("kv: unavailable: unhealthy cluster");
                return ExitCodes.Unavailable;
            }

            return ExitCodes.Success;
        }, token));
        command.Subcommands.Add(health);

        var revision = new Option<long>("--rev") { Description = "Highest revision to hash (0: the newest). Replicas that agree give the same hash." };
        var hashKv = new Command("hashkv", "Each endpoint's hash of its KV history up to a revision (Maintenance.HashKV), to compare replicas.") { revision };
        hashKv.SetAction((parse, token) =>
        {
            if (parse.GetValue(revision) < 0)
            {
                return Task.FromResult(KvCli.UsageError(parse, $"--rev must be 0 (the newest) or a revision, was {parse.GetValue(revision)}", console));
            }

            return EtcdSession.RunAsync(parse, globals, options, console, async session =>
            {
                var hashes = new List<(string, HashKVResponse)>();
                var failed = 0;
                foreach (var (endpoint, channel) in await TargetsAsync(session, parse.GetValue(clusterOption), token).ConfigureAwait(false))
                {
                    try
                    {
                        var request = new HashKVRequest { Revision = parse.GetValue(revision) };
                        hashes.Add((endpoint.ToString(), await channel.Maintenance.HashKVAsync(request, session.Options(token)).ResponseAsync.ConfigureAwait(false)));
                    }
                    catch (RpcException e)
                    {
                        failed++;
                        console.Error.WriteLine($"kv: unavailable: failed to get the hash of endpoint {endpoint}: {e.Status.Detail} ({EtcdErrors.Name(e.StatusCode)})");
                    }
                }

                new EtcdPrinter(console.Out, session.Format).HashKvs(hashes);
                return failed == 0 ? ExitCodes.Success : ExitCodes.Unavailable;
            }, token);
        });
        command.Subcommands.Add(hashKv);
        return command;
    }

    private static Command MoveLeader(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var id = new Argument<string>("transferee-id") { Description = "The member ID (hexadecimal) to hand the leadership to." };
        var command = new Command("move-leader", "Transfer the Raft leadership to another member (asked of the current leader, found by status).") { id };
        command.SetAction((parse, token) =>
        {
            if (!ulong.TryParse(parse.GetValue(id), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var target))
            {
                return Task.FromResult(KvCli.UsageError(parse, $"'{parse.GetValue(id)}' is not a hexadecimal member ID", console));
            }

            return EtcdSession.RunAsync(parse, globals, options, console, async session =>
            {
                EtcdChannel? leaderChannel = null;
                ulong leader = 0;
                foreach (var (_, channel) in await TargetsAsync(session, cluster: true, token).ConfigureAwait(false))
                {
                    try
                    {
                        var status = await channel.Maintenance.StatusAsync(new StatusRequest(), session.Options(token)).ResponseAsync.ConfigureAwait(false);
                        if (status.Header is { } header && header.MemberId == status.Leader && status.Leader != 0)
                        {
                            leaderChannel = channel;
                            leader = status.Leader;
                            break;
                        }
                    }
                    catch (RpcException e) when (EtcdSession.IsConnectFailure(e))
                    {
                        // A member that cannot be reached is not the leader we can ask.
                    }
                }

                if (leaderChannel is null)
                {
                    return CliSession.Fail(console, "unavailable", $"no leader endpoint found among {string.Join(",", session.Endpoints)} and the members' client URLs", ExitCodes.Unavailable);
                }

                await leaderChannel.Maintenance.MoveLeaderAsync(new MoveLeaderRequest { TargetID = target }, session.Options(token)).ResponseAsync.ConfigureAwait(false);
                console.Out.WriteLine($"Leadership transferred from {leader:x} to {target:x}");
                return ExitCodes.Success;
            }, token);
        });
        return command;
    }

    /// <summary>
    /// The endpoints to check: <c>--endpoints</c>, or with <paramref name="cluster"/> every member's client URLs
    /// (from member list, asked of the first endpoint that answers; --endpoints follow when a URL is not host:port).
    /// </summary>
    private static async Task<List<(BenchEndpoint Endpoint, EtcdChannel Channel)>> TargetsAsync(EtcdSession session, bool cluster, CancellationToken token)
    {
        var targets = new List<(BenchEndpoint, EtcdChannel)>();
        if (cluster)
        {
            var members = await session.CallAsync((c, o) => c.Cluster.MemberListAsync(new MemberListRequest(), o), token).ConfigureAwait(false);
            foreach (var url in members.Members.SelectMany(m => m.ClientURLs).Distinct(StringComparer.Ordinal))
            {
                if (BenchEndpoint.TryParseList(url, out _) is [var endpoint])
                {
                    targets.Add((endpoint, session.ChannelTo(endpoint)));
                }
            }
        }

        for (var i = 0; i < session.Endpoints.Count; i++)
        {
            if (!targets.Any(t => t.Item1 == session.Endpoints[i]))
            {
                targets.Add((session.Endpoints[i], session.Channel(i)));
            }
        }

        return targets;
    }

    private static string Hex16(ulong id) => id.ToString("x", CultureInfo.InvariantCulture).PadLeft(16);

    private static string Took(TimeSpan took) => took.TotalMilliseconds >= 1000
        ? (took.TotalSeconds).ToString("0.######", CultureInfo.InvariantCulture) + "s"
        : took.TotalMilliseconds.ToString("0.######", CultureInfo.InvariantCulture) + "ms";
}
