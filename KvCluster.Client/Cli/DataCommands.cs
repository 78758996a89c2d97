using System.CommandLine;
using System.Text;
using KvCluster.Client.Cli.Etcd;
using KvCluster.Client.Protocol;

namespace KvCluster.Client.Cli;

/// <summary>
/// The data commands of <c>kv</c>: <c>put</c>, <c>get</c>, <c>del</c>, <c>scan</c>, <c>cas</c>. They speak the etcd v3
/// gRPC API by default (etcdctl's flags and output); <c>--via akka</c> sends them through AkkaKv's ClusterClient
/// (<see cref="KvClient"/>) instead. Keys and values are UTF-8 text on the command line. Exit codes: 0 done, 1 key
/// not found, 5 rejected (version mismatch, compacted revision, invalid request), 3 unavailable, 4 timeout, 2 usage
/// (see <see cref="ExitCodes"/>).
/// </summary>
internal static class DataCommands
{
    /// <summary>Adds the data commands to <paramref name="root"/>.</summary>
    public static void AddTo(Command root, GlobalOptions globals, EtcdOptions etcd, KvConsole console, CliSession session)
    {
        var timeout = new Option<TimeSpan>("--timeout")
        {
            Description = "Deadline of the request, retries included (500ms, 5s, 1m); --via akka, and the etcd path when given.",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(5),
            CustomParser = r => BenchCommand.ParseDurationArgument(r) ?? TimeSpan.Zero,
            HelpName = "duration",
            Recursive = true,
        };
        root.Options.Add(timeout);
        session.TimeoutOption = timeout;
        var context = new Context(globals, etcd, console, session);
        root.Subcommands.Add(Put(context));
        root.Subcommands.Add(Get(context));
        root.Subcommands.Add(Delete(context));
        root.Subcommands.Add(Scan(context));
        root.Subcommands.Add(Cas(context));
    }

    private static Command Put(Context x)
    {
        var key = new Argument<string>("key") { Description = "The key (UTF-8)." };
        var value = new Argument<string?>("value") { Description = "The value (UTF-8); read from standard input when omitted (etcd API).", Arity = ArgumentArity.ZeroOrOne };
        var prevKv = new Option<bool>("--prev-kv") { Description = "Print the pair as it was before the put." };
        var ignoreValue = new Option<bool>("--ignore-value") { Description = "Keep the current value (the key must exist)." };
        var lease = new Option<string?>("--lease") { Description = "Attach the key to this lease (hexadecimal id).", HelpName = "id" };
        var command = new Command("put", "Write a value under a key (replicated, durable on a majority before it returns). Prints OK.") { key, value, prevKv, ignoreValue, lease };
        command.SetAction((parse, token) =>
        {
            if (x.Akka(parse))
            {
                if (x.EtcdOnly(parse, prevKv, ignoreValue, lease) is { } refused)
                {
                    return Task.FromResult(refused);
                }

                if (parse.GetValue(value) is null)
                {
                    return Task.FromResult(KvCli.UsageError(parse, "--via akka: give the value on the command line", x.Console));
                }

                return x.Session.RunAsync(parse, x.Globals, x.Console, async (client, left) =>
                {
                    var put = new PutRequest { Key = Utf8(parse.GetValue(key)), Value = Utf8(parse.GetValue(value)) };
                    var result = await client.ExecuteAsync(new KvCommand { Put = put }, timeout: left, cancellationToken: token).ConfigureAwait(false);
                    return CliOutput.Write(x.Console, x.Json(parse), result, "put");
                }, token);
            }

            if (!EtcdDataCommands.TryParseLease(parse.GetValue(lease), out var leaseId))
            {
                return Task.FromResult(KvCli.UsageError(parse, "--lease: not a hexadecimal lease id", x.Console));
            }

            return x.Etcd(parse, s => EtcdDataCommands.PutAsync(s, parse.GetValue(key)!, parse.GetValue(value), parse.GetValue(prevKv), parse.GetValue(ignoreValue), leaseId, token), token);
        });
        return command;
    }

    private static Command Get(Context x)
    {
        var key = new Argument<string>("key") { Description = "The key (UTF-8), or the start of the range." };
        var rangeEnd = new Argument<string?>("range_end") { Description = "End of the range [key, range_end) (etcd API).", Arity = ArgumentArity.ZeroOrOne };
        var consistency = ConsistencyOption();
        var options = new GetOptions();
        var command = new Command("get", "Read a key or a range. Exit code 1 when a single key does not exist.") { key, rangeEnd, consistency };
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, token) =>
        {
            if (x.Akka(parse))
            {
                if (x.EtcdOnly(parse, options.All) is { } refused)
                {
                    return Task.FromResult(refused);
                }

                return x.Session.RunAsync(parse, x.Globals, x.Console, async (client, left) =>
                {
                    var get = new GetRequest { Key = Utf8(parse.GetValue(key)) };
                    var result = await client.ExecuteAsync(new KvCommand { Get = get }, ConsistencyOf(parse, consistency), left, token).ConfigureAwait(false);
                    return CliOutput.Write(x.Console, x.Json(parse), result, "get");
                }, token);
            }

            var serializable = ConsistencyOf(parse, consistency) == ReadConsistency.Serializable;
            if (EtcdDataCommands.Range(parse, options, parse.GetValue(key)!, parse.GetValue(rangeEnd), serializable, out var error) is not { } request)
            {
                return Task.FromResult(KvCli.UsageError(parse, error!, x.Console));
            }

            return x.Etcd(parse, s => EtcdDataCommands.GetAsync(s, request, parse.GetValue(options.PrintValueOnly), token), token);
        });
        return command;
    }

    private static Command Delete(Context x)
    {
        var key = new Argument<string>("key") { Description = "The key, or with --prefix the prefix (\"\" deletes every key)." };
        var rangeEnd = new Argument<string?>("range_end") { Description = "End of the range [key, range_end) (etcd API).", Arity = ArgumentArity.ZeroOrOne };
        var prefix = new Option<bool>("--prefix") { Description = "Delete every key that starts with the argument." };
        var fromKey = new Option<bool>("--from-key") { Description = "Delete every key greater than or equal to the argument (etcd API)." };
        var prevKv = new Option<bool>("--prev-kv") { Description = "Print the deleted pairs (etcd API)." };
        var expected = new Option<long?>("--expected-version") { Description = "Delete only if the key's version is this (etcd API: its mod_revision).", HelpName = "version" };
        var command = new Command("del", "Delete a key, a range or every key under a prefix; prints the number deleted. Exit code 1 when a single key does not exist.") { key, rangeEnd, prefix, fromKey, prevKv, expected };
        command.SetAction((parse, token) =>
        {
            if (parse.GetValue(expected) is not null && (parse.GetValue(prefix) || parse.GetValue(fromKey) || parse.GetValue(rangeEnd) is not null))
            {
                return Task.FromResult(KvCli.UsageError(parse, "--expected-version cannot be combined with --prefix, --from-key or a range", x.Console));
            }

            if (x.Akka(parse))
            {
                var refused = x.EtcdOnly(parse, fromKey, prevKv)
                    ?? (parse.GetValue(rangeEnd) is null ? null : (int?)KvCli.UsageError(parse, "--via akka: a range end needs the etcd API", x.Console));
                if (refused is not null)
                {
                    return Task.FromResult(refused.Value);
                }

                return AkkaDeleteAsync(x, parse, key, prefix, expected, token);
            }

            if (parse.GetValue(expected) is { } version)
            {
                return x.Etcd(parse, s => EtcdDataCommands.GuardedAsync(s, parse.GetValue(key)!, version, EtcdDataCommands.DeleteOp(parse.GetValue(key)!), token), token);
            }

            if (EtcdKeys.Resolve(parse.GetValue(key)!, parse.GetValue(rangeEnd), parse.GetValue(prefix), parse.GetValue(fromKey), out var error) is not { } range)
            {
                return Task.FromResult(KvCli.UsageError(parse, error!, x.Console));
            }

            return x.Etcd(parse, s => EtcdDataCommands.DeleteAsync(s, range.Key, range.RangeEnd, parse.GetValue(prevKv), token), token);
        });
        return command;
    }

    private static Task<int> AkkaDeleteAsync(Context x, ParseResult parse, Argument<string> key, Option<bool> prefix, Option<long?> expected, CancellationToken token) =>
        x.Session.RunAsync(parse, x.Globals, x.Console, async (client, left) =>
        {
            KvCommand kv;
            if (parse.GetValue(prefix))
            {
                kv = new KvCommand { DeleteRange = new DeleteRangeRequest { Prefix = Utf8(parse.GetValue(key)) } };
            }
            else
            {
                var delete = new DeleteRequest { Key = Utf8(parse.GetValue(key)) };
                if (parse.GetValue(expected) is { } version)
                {
                    delete.ExpectedVersion = version;
                }

                kv = new KvCommand { Delete = delete };
            }

            var result = await client.ExecuteAsync(kv, timeout: left, cancellationToken: token).ConfigureAwait(false);
            return CliOutput.Write(x.Console, x.Json(parse), result, "del");
        }, token);

    private static Command Scan(Context x)
    {
        var prefix = new Argument<string?>("prefix") { Description = "Keys starting with this (omit for every key, or use --from/--to).", Arity = ArgumentArity.ZeroOrOne };
        var from = new Option<string?>("--from") { Description = "First key of the range [from, to).", HelpName = "key" };
        var to = new Option<string?>("--to") { Description = "End of the range, exclusive (omit for no end).", HelpName = "key" };
        var limit = new Option<long>("--limit") { Description = "At most this many pairs (0 = all).", DefaultValueFactory = _ => 0 };
        var keysOnly = new Option<bool>("--keys-only") { Description = "Print keys without values." };
        var consistency = ConsistencyOption();
        var command = new Command("scan", "List keys in byte order, by prefix or by range, with a limit (etcd API: like get --prefix / --from-key).") { prefix, from, to, limit, keysOnly, consistency };
        command.SetAction((parse, token) =>
        {
            var prefixText = parse.GetValue(prefix);
            var fromText = parse.GetValue(from);
            var toText = parse.GetValue(to);
            if (prefixText is not null && (fromText is not null || toText is not null))
            {
                return Task.FromResult(KvCli.UsageError(parse, "give a prefix or --from/--to, not both", x.Console));
            }

            if (parse.GetValue(limit) < 0)
            {
                return Task.FromResult(KvCli.UsageError(parse, "--limit must not be negative", x.Console));
            }

            if (!x.Akka(parse))
            {
                var bounds = fromText is not null || toText is not null
                    ? (Key: Utf8(fromText is null or "" ? "\0" : fromText), RangeEnd: Utf8(toText is null or "" ? "\0" : toText))
                    : EtcdKeys.Resolve(prefixText ?? string.Empty, null, prefix: true, fromKey: false, out _)!.Value;
                var request = new KvCluster.Client.Etcd.RangeRequest
                {
                    Key = bounds.Key,
                    RangeEnd = bounds.RangeEnd,
                    Limit = parse.GetValue(limit),
                    KeysOnly = parse.GetValue(keysOnly),
                    Serializable = ConsistencyOf(parse, consistency) == ReadConsistency.Serializable,
                };
                return x.Etcd(parse, s => EtcdDataCommands.GetAsync(s, request, valueOnly: false, token), token);
            }

            var range = new RangeRequest { Limit = parse.GetValue(limit), KeysOnly = parse.GetValue(keysOnly) };
            if (fromText is not null || toText is not null)
            {
                range.Interval = new KeyInterval { Start = Utf8(fromText ?? string.Empty), End = Utf8(toText ?? string.Empty) };
            }
            else
            {
                range.Prefix = Utf8(prefixText ?? string.Empty);
            }

            return x.Session.RunAsync(parse, x.Globals, x.Console, async (client, left) =>
            {
                var result = await client.ExecuteAsync(new KvCommand { Range = range }, ConsistencyOf(parse, consistency), left, token).ConfigureAwait(false);
                return CliOutput.Write(x.Console, x.Json(parse), result, "scan");
            }, token);
        });
        return command;
    }

    private static Command Cas(Context x)
    {
        var key = new Argument<string>("key") { Description = "The key (UTF-8)." };
        var value = new Argument<string>("value") { Description = "The new value (UTF-8)." };
        var expected = new Option<long>("--expected-version")
        {
            Description = "Write only if the key's version is this (etcd API: its mod_revision, ModRevision in get -w fields); 0 = only if the key does not exist.",
            HelpName = "version",
            Required = true,
        };
        var command = new Command("cas", "Compare-and-set: write only if the key's version matches. Exit code 5 on a mismatch.") { key, value, expected };
        command.SetAction((parse, token) =>
        {
            if (!x.Akka(parse))
            {
                return x.Etcd(parse, s => EtcdDataCommands.GuardedAsync(s, parse.GetValue(key)!, parse.GetValue(expected), EtcdDataCommands.PutOp(parse.GetValue(key)!, parse.GetValue(value)!), token), token);
            }

            return x.Session.RunAsync(parse, x.Globals, x.Console, async (client, left) =>
            {
                var put = new PutRequest { Key = Utf8(parse.GetValue(key)), Value = Utf8(parse.GetValue(value)), ExpectedVersion = parse.GetValue(expected) };
                var result = await client.ExecuteAsync(new KvCommand { Put = put }, timeout: left, cancellationToken: token).ConfigureAwait(false);
                return CliOutput.Write(x.Console, x.Json(parse), result, "cas");
            }, token);
        });
        return command;
    }

    private static Option<string> ConsistencyOption()
    {
        var option = new Option<string>("--consistency")
        {
            Description = "linearizable (l, default: confirmed by a quorum) or serializable (s: this node's copy, may be stale).",
            DefaultValueFactory = _ => "l",
        };
        option.AcceptOnlyFromAmong("linearizable", "serializable", "l", "s");
        return option;
    }

    private static ReadConsistency ConsistencyOf(ParseResult parse, Option<string> option) =>
        parse.GetValue(option) is "serializable" or "s" ? ReadConsistency.Serializable : ReadConsistency.Linearizable;

    private static Google.Protobuf.ByteString Utf8(string? text) => Google.Protobuf.ByteString.CopyFrom(Encoding.UTF8.GetBytes(text ?? string.Empty));

    /// <summary>What every data command needs: the global options, the console and the Akka session.</summary>
    internal sealed record Context(GlobalOptions Globals, EtcdOptions EtcdOptions, KvConsole Console, CliSession Session)
    {
        /// <summary>
        /// True when the command goes through the ClusterClient: <c>--via akka</c> (else <c>KV_VIA=akka</c>), or inside
        /// <c>kv shell</c>.
        /// </summary>
        public bool Akka(ParseResult parse) => Session.Shared is not null
            || (parse.GetResult(EtcdOptions.Via) is { Implicit: false } ? parse.GetValue(EtcdOptions.Via) : Console.GetEnvironmentVariable(EtcdOptions.ViaVariable)) == "akka";

        /// <summary>JSON output on the Akka path.</summary>
        public bool Json(ParseResult parse) => parse.GetValue(Globals.Output) == "json" || parse.GetValue(EtcdOptions.WriteOut) == "json";

        /// <summary>Runs an etcd-API action with a session for this command.</summary>
        public Task<int> Etcd(ParseResult parse, Func<EtcdSession, Task<int>> work, CancellationToken token) =>
            EtcdSession.RunAsync(parse, Globals, EtcdOptions, Console, work, token);

        /// <summary>A usage error when an etcd-only option was given with <c>--via akka</c>; null otherwise.</summary>
        public int? EtcdOnly(ParseResult parse, params Option[] options)
        {
            foreach (var option in options)
            {
                if (parse.GetResult(option) is { Implicit: false })
                {
                    return KvCli.UsageError(parse, $"{option.Name} needs the etcd API (drop --via akka)", Console);
                }
            }

            return null;
        }
    }
}
