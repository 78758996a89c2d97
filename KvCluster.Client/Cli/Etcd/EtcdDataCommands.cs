using System.CommandLine;
using System.Globalization;
using Google.Protobuf;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>The options of <c>kv get</c> that only the etcd API has.</summary>
internal sealed class GetOptions
{
    /// <summary>Creates the options.</summary>
    public GetOptions()
    {
        SortBy.AcceptOnlyFromAmong("CREATE", "KEY", "MODIFY", "VALUE", "VERSION", "create", "key", "modify", "value", "version");
        Order.AcceptOnlyFromAmong("ASCEND", "DESCEND", "ascend", "descend");
    }

    /// <summary><c>--prefix</c>.</summary>
    public Option<bool> Prefix { get; } = new("--prefix") { Description = "Every key that starts with the argument (\"\" for every key)." };

    /// <summary><c>--from-key</c>.</summary>
    public Option<bool> FromKey { get; } = new("--from-key") { Description = "Every key greater than or equal to the argument (byte order)." };

    /// <summary><c>--rev</c>.</summary>
    public Option<long> Rev { get; } = new("--rev") { Description = "Read at this past store revision (0: the newest).", HelpName = "revision" };

    /// <summary><c>--keys-only</c>.</summary>
    public Option<bool> KeysOnly { get; } = new("--keys-only") { Description = "Keys without values." };

    /// <summary><c>--count-only</c>.</summary>
    public Option<bool> CountOnly { get; } = new("--count-only") { Description = "Only the number of keys in the range." };

    /// <summary><c>--limit</c>.</summary>
    public Option<long> Limit { get; } = new("--limit") { Description = "At most this many pairs (0: all)." };

    /// <summary><c>--sort-by</c>.</summary>
    public Option<string?> SortBy { get; } = new("--sort-by") { Description = "Sort by CREATE, KEY, MODIFY, VALUE or VERSION.", HelpName = "target" };

    /// <summary><c>--order</c>.</summary>
    public Option<string?> Order { get; } = new("--order") { Description = "ASCEND or DESCEND (with --sort-by; default ASCEND).", HelpName = "order" };

    /// <summary><c>--print-value-only</c>.</summary>
    public Option<bool> PrintValueOnly { get; } = new("--print-value-only") { Description = "Only values (simple output)." };

    /// <summary>Every option, in help order.</summary>
    public Option[] All => [Prefix, FromKey, Rev, KeysOnly, CountOnly, Limit, SortBy, Order, PrintValueOnly];
}

/// <summary>The etcd-API actions of the data commands (<c>put</c>, <c>get</c>, <c>del</c>, <c>scan</c>, <c>cas</c>).</summary>
internal static class EtcdDataCommands
{
    /// <summary><c>put key [value]</c>: the value from standard input when it is not given. Prints OK.</summary>
    public static async Task<int> PutAsync(EtcdSession session, string key, string? value, bool prevKv, bool ignoreValue, long lease, CancellationToken token)
    {
        if (value is null && !ignoreValue)
        {
            value = (await session.Console.In.ReadToEndAsync(token).ConfigureAwait(false)).TrimEnd('\n');
        }

        var request = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value ?? string.Empty), PrevKv = prevKv, IgnoreValue = ignoreValue, Lease = lease };
        var response = await session.CallAsync((c, o) => c.Kv.PutAsync(request, o), token).ConfigureAwait(false);
        new EtcdPrinter(session.Console.Out, session.Format).Put(response);
        return ExitCodes.Success;
    }

    /// <summary>Builds the range request of <c>kv get</c>, or returns null with the usage problem.</summary>
    public static RangeRequest? Range(ParseResult parse, GetOptions options, string key, string? rangeEnd, bool serializable, out string? error)
    {
        var range = EtcdKeys.Resolve(key, rangeEnd, parse.GetValue(options.Prefix), parse.GetValue(options.FromKey), out error);
        if (range is null)
        {
            return null;
        }

        if (parse.GetValue(options.Limit) < 0 || parse.GetValue(options.Rev) < 0)
        {
            error = "--limit and --rev must not be negative";
            return null;
        }

        var request = new RangeRequest
        {
            Key = range.Value.Key,
            RangeEnd = range.Value.RangeEnd,
            Revision = parse.GetValue(options.Rev),
            Limit = parse.GetValue(options.Limit),
            KeysOnly = parse.GetValue(options.KeysOnly),
            CountOnly = parse.GetValue(options.CountOnly),
            Serializable = serializable,
        };
        var sortBy = parse.GetValue(options.SortBy)?.ToUpperInvariant();
        var order = parse.GetValue(options.Order)?.ToUpperInvariant();
        if (sortBy is not null || order is not null)
        {
            request.SortTarget = sortBy switch
            {
                "CREATE" => RangeRequest.Types.SortTarget.Create,
                "MODIFY" => RangeRequest.Types.SortTarget.Mod,
                "VALUE" => RangeRequest.Types.SortTarget.Value,
                "VERSION" => RangeRequest.Types.SortTarget.Version,
                _ => RangeRequest.Types.SortTarget.Key,
            };
            request.SortOrder = order == "DESCEND" ? RangeRequest.Types.SortOrder.Descend : RangeRequest.Types.SortOrder.Ascend;
        }

        return request;
    }

    /// <summary>
    /// <c>get</c>: prints the pairs; exit code 1 (and a line on standard error) when a single key was asked for and
    /// does not exist.
    /// </summary>
    public static async Task<int> GetAsync(EtcdSession session, RangeRequest request, bool valueOnly, CancellationToken token)
    {
        var response = await session.CallAsync((c, o) => c.Kv.RangeAsync(request, o), token).ConfigureAwait(false);
        new EtcdPrinter(session.Console.Out, session.Format).Range(response, valueOnly, request.CountOnly);
        if (request.RangeEnd.IsEmpty && !request.CountOnly && response.Count == 0)
        {
            session.Console.Error.WriteLine("kv: not found: the key does not exist");
            return ExitCodes.NotFound;
        }

        return ExitCodes.Success;
    }

    /// <summary><c>del</c>: prints the number deleted; exit code 1 when a single key was asked for and did not exist.</summary>
    public static async Task<int> DeleteAsync(EtcdSession session, ByteString key, ByteString rangeEnd, bool prevKv, CancellationToken token)
    {
        var request = new DeleteRangeRequest { Key = key, RangeEnd = rangeEnd, PrevKv = prevKv };
        var response = await session.CallAsync((c, o) => c.Kv.DeleteRangeAsync(request, o), token).ConfigureAwait(false);
        new EtcdPrinter(session.Console.Out, session.Format).Delete(response);
        if (rangeEnd.IsEmpty && response.Deleted == 0)
        {
            session.Console.Error.WriteLine("kv: not found: the key does not exist");
            return ExitCodes.NotFound;
        }

        return ExitCodes.Success;
    }

    /// <summary>
    /// A write guarded by the key's <c>mod_revision</c> (the version <c>kv get -w fields</c> shows as ModRevision;
    /// 0: the key must not exist), as one txn: <paramref name="write"/> when it matches, else a read of the key.
    /// Exit code 5 with the actual mod_revision on a mismatch; 1 when deleting a key that does not exist.
    /// </summary>
    public static async Task<int> GuardedAsync(EtcdSession session, string key, long expected, RequestOp write, CancellationToken token)
    {
        var keyBytes = ByteString.CopyFromUtf8(key);
        var txn = new TxnRequest
        {
            Compare = { new Compare { Key = keyBytes, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = expected } },
            Success = { write },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = keyBytes } } },
        };
        var response = await session.CallAsync((c, o) => c.Kv.TxnAsync(txn, o), token).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            if (session.Format == "json")
            {
                session.Console.Out.WriteLine(EtcdJson.Format(response));
            }

            var actual = response.Responses.Count == 1 && response.Responses[0].ResponseRange is { } range && range.Kvs.Count == 1 ? range.Kvs[0].ModRevision : 0;
            if (write.RequestCase == RequestOp.RequestOneofCase.RequestDeleteRange && actual == 0)
            {
                session.Console.Error.WriteLine("kv: not found: the key does not exist");
                return ExitCodes.NotFound;
            }

            session.Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kv: rejected: version mismatch: the key's mod_revision is {actual}") + (actual == 0 ? " (it does not exist)" : string.Empty));
            return ExitCodes.Rejected;
        }

        var printer = new EtcdPrinter(session.Console.Out, session.Format);
        var result = response.Responses[0];
        if (session.Format == "json")
        {
            session.Console.Out.WriteLine(EtcdJson.Format(response));
        }
        else if (result.ResponsePut is { } put)
        {
            put.Header ??= response.Header;
            printer.Put(put);
        }
        else if (result.ResponseDeleteRange is { } delete)
        {
            delete.Header ??= response.Header;
            printer.Delete(delete);
        }

        return ExitCodes.Success;
    }

    /// <summary>A put request op.</summary>
    public static RequestOp PutOp(string key, string value) =>
        new() { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) } };

    /// <summary>A single-key delete request op.</summary>
    public static RequestOp DeleteOp(string key) =>
        new() { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(key) } };

    /// <summary>Parses a lease id as etcdctl writes it (hexadecimal); 0 when absent.</summary>
    public static bool TryParseLease(string? text, out long lease)
    {
        lease = 0;
        return text is null || long.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out lease);
    }
}
