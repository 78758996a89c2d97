using System.CommandLine;
using System.Text;
using KvCluster.Client.Protocol;

namespace KvCluster.Client.Cli;

/// <summary>
/// The data commands of <c>kv</c>: <c>put</c>, <c>get</c>, <c>del</c>, <c>scan</c>, <c>cas</c>. Keys and values are
/// UTF-8 text on the command line. Exit codes: 0 done, 1 key not found, 5 rejected (version mismatch, over a limit),
/// 3 unavailable, 4 timeout, 2 usage (see <see cref="ExitCodes"/>).
/// </summary>
internal static class DataCommands
{
    /// <summary>Adds the data commands to <paramref name="root"/>.</summary>
    public static void AddTo(Command root, GlobalOptions globals, KvConsole console, CliSession session)
    {
        var timeout = new Option<TimeSpan>("--timeout")
        {
            Description = "Deadline of the request, retries included (500ms, 5s, 1m).",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(5),
            CustomParser = r => BenchCommand.ParseDurationArgument(r) ?? TimeSpan.Zero,
            HelpName = "duration",
            Recursive = true,
        };
        root.Options.Add(timeout);
        session.TimeoutOption = timeout;
        root.Subcommands.Add(Put(globals, console, session, timeout));
        root.Subcommands.Add(Get(globals, console, session, timeout));
        root.Subcommands.Add(Delete(globals, console, session, timeout));
        root.Subcommands.Add(Scan(globals, console, session, timeout));
        root.Subcommands.Add(Cas(globals, console, session, timeout));
    }

    private static Command Put(GlobalOptions globals, KvConsole console, CliSession session, Option<TimeSpan> timeout)
    {
        var key = new Argument<string>("key") { Description = "The key (UTF-8)." };
        var value = new Argument<string>("value") { Description = "The value (UTF-8)." };
        var command = new Command("put", "Write a value under a key (replicated, durable on a majority before it returns).") { key, value };
        command.SetAction((parse, token) => session.RunAsync(parse, globals, console, async (client, left) =>
        {
            var put = new PutRequest { Key = Utf8(parse.GetValue(key)), Value = Utf8(parse.GetValue(value)) };
            var result = await client.ExecuteAsync(new KvCommand { Put = put }, timeout: left, cancellationToken: token).ConfigureAwait(false);
            return CliOutput.Write(console, Json(parse, globals), result, "put");
        }, token));
        return command;
    }

    private static Command Get(GlobalOptions globals, KvConsole console, CliSession session, Option<TimeSpan> timeout)
    {
        var key = new Argument<string>("key") { Description = "The key (UTF-8)." };
        var consistency = ConsistencyOption();
        var command = new Command("get", "Read a key. Exit code 1 when it does not exist.") { key, consistency };
        command.SetAction((parse, token) => session.RunAsync(parse, globals, console, async (client, left) =>
        {
            var get = new GetRequest { Key = Utf8(parse.GetValue(key)) };
            var result = await client.ExecuteAsync(new KvCommand { Get = get }, ConsistencyOf(parse, consistency), left, token).ConfigureAwait(false);
            return CliOutput.Write(console, Json(parse, globals), result, "get");
        }, token));
        return command;
    }

    private static Command Delete(GlobalOptions globals, KvConsole console, CliSession session, Option<TimeSpan> timeout)
    {
        var key = new Argument<string>("key") { Description = "The key, or with --prefix the prefix (\"\" deletes every key)." };
        var prefix = new Option<bool>("--prefix") { Description = "Delete every key that starts with the argument." };
        var expected = new Option<long?>("--expected-version") { Description = "Delete only if the key's version (mod index) is this.", HelpName = "version" };
        var command = new Command("del", "Delete a key, or every key under a prefix. Exit code 1 when the key does not exist.") { key, prefix, expected };
        command.SetAction((parse, token) =>
        {
            if (parse.GetValue(prefix) && parse.GetValue(expected) is not null)
            {
                return Task.FromResult(KvCli.UsageError(parse, "--expected-version cannot be combined with --prefix", console));
            }

            return session.RunAsync(parse, globals, console, async (client, left) =>
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
                return CliOutput.Write(console, Json(parse, globals), result, "del");
            }, token);
        });
        return command;
    }

    private static Command Scan(GlobalOptions globals, KvConsole console, CliSession session, Option<TimeSpan> timeout)
    {
        var prefix = new Argument<string?>("prefix") { Description = "Keys starting with this (omit for every key, or use --from/--to).", Arity = ArgumentArity.ZeroOrOne };
        var from = new Option<string?>("--from") { Description = "First key of the range [from, to).", HelpName = "key" };
        var to = new Option<string?>("--to") { Description = "End of the range, exclusive (omit for no end).", HelpName = "key" };
        var limit = new Option<long>("--limit") { Description = "At most this many pairs (0 = all).", DefaultValueFactory = _ => 0 };
        var keysOnly = new Option<bool>("--keys-only") { Description = "Print keys without values." };
        var consistency = ConsistencyOption();
        var command = new Command("scan", "List keys in byte order, by prefix or by range, with a limit.") { prefix, from, to, limit, keysOnly, consistency };
        command.SetAction((parse, token) =>
        {
            var prefixText = parse.GetValue(prefix);
            var fromText = parse.GetValue(from);
            var toText = parse.GetValue(to);
            if (prefixText is not null && (fromText is not null || toText is not null))
            {
                return Task.FromResult(KvCli.UsageError(parse, "give a prefix or --from/--to, not both", console));
            }

            if (parse.GetValue(limit) < 0)
            {
                return Task.FromResult(KvCli.UsageError(parse, "--limit must not be negative", console));
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

            return session.RunAsync(parse, globals, console, async (client, left) =>
            {
                var result = await client.ExecuteAsync(new KvCommand { Range = range }, ConsistencyOf(parse, consistency), left, token).ConfigureAwait(false);
                return CliOutput.Write(console, Json(parse, globals), result, "scan");
            }, token);
        });
        return command;
    }

    private static Command Cas(GlobalOptions globals, KvConsole console, CliSession session, Option<TimeSpan> timeout)
    {
        var key = new Argument<string>("key") { Description = "The key (UTF-8)." };
        var value = new Argument<string>("value") { Description = "The new value (UTF-8)." };
        var expected = new Option<long>("--expected-version")
        {
            Description = "Write only if the key's version (mod index, from get) is this; 0 = only if the key does not exist.",
            HelpName = "version",
            Required = true,
        };
        var command = new Command("cas", "Compare-and-set: write only if the key's version matches. Exit code 5 on a mismatch.") { key, value, expected };
        command.SetAction((parse, token) => session.RunAsync(parse, globals, console, async (client, left) =>
        {
            var put = new PutRequest { Key = Utf8(parse.GetValue(key)), Value = Utf8(parse.GetValue(value)), ExpectedVersion = parse.GetValue(expected) };
            var result = await client.ExecuteAsync(new KvCommand { Put = put }, timeout: left, cancellationToken: token).ConfigureAwait(false);
            return CliOutput.Write(console, Json(parse, globals), result, "cas");
        }, token));
        return command;
    }

    private static Option<string> ConsistencyOption()
    {
        var option = new Option<string>("--consistency")
        {
            Description = "linearizable (l, default: confirmed by a quorum) or serializable (s: this node's copy, may be stale).",
            DefaultValueFactory = _ => "linearizable",
        };
        option.AcceptOnlyFromAmong("linearizable", "serializable", "l", "s");
        return option;
    }

    private static ReadConsistency ConsistencyOf(ParseResult parse, Option<string> option) =>
        parse.GetValue(option) is "serializable" or "s" ? ReadConsistency.Serializable : ReadConsistency.Linearizable;

    private static bool Json(ParseResult parse, GlobalOptions globals) => parse.GetValue(globals.Output) == "json";

    private static Google.Protobuf.ByteString Utf8(string? text) => Google.Protobuf.ByteString.CopyFrom(Encoding.UTF8.GetBytes(text ?? string.Empty));
}
