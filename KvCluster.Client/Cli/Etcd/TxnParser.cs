using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// Reads a transaction in etcdctl's <c>txn</c> form: compares, one per line, up to a blank line; then the success
/// requests up to a blank line; then the failure requests up to a blank line or the end. A compare is
/// <c>target("key") op "value"</c> with target <c>value</c>, <c>mod</c>, <c>create</c>, <c>ver</c>/<c>version</c> or
/// <c>lease</c> and op <c>=</c>, <c>!=</c>, <c>&lt;</c>, <c>&gt;</c>; a request is <c>put key value</c>,
/// <c>get key [end] [--prefix|--from-key|--limit N|--rev N|--keys-only|--count-only|--serializable]</c> or
/// <c>del key [end] [--prefix|--from-key|--prev-kv]</c>, with double quotes around words holding spaces.
/// </summary>
internal static partial class TxnParser
{
    /// <summary>Parses the whole text; throws <see cref="FormatException"/> naming the line that is wrong.</summary>
    public static TxnRequest Parse(TextReader input, Action<string>? prompt = null)
    {
        var txn = new TxnRequest();
        prompt?.Invoke("compares:");
        foreach (var line in Section(input))
        {
            txn.Compare.Add(ParseCompare(line));
        }

        prompt?.Invoke("\nsuccess requests (get, put, del):");
        foreach (var line in Section(input))
        {
            txn.Success.Add(ParseOp(line));
        }

        prompt?.Invoke("\nfailure requests (get, put, del):");
        foreach (var line in Section(input))
        {
            txn.Failure.Add(ParseOp(line));
        }

        return txn;
    }

    /// <summary>Parses one compare line.</summary>
    public static Compare ParseCompare(string line)
    {
        var match = CompareSyntax().Match(line.Trim());
        if (!match.Success)
        {
            throw new FormatException($"bad compare '{line}': expected target(\"key\") op \"value\", e.g. mod(\"k\") > \"0\"");
        }

        var compare = new Compare
        {
            Key = ByteString.CopyFromUtf8(Unquote(match.Groups["key"].Value)),
            Result = match.Groups["op"].Value switch
            {
                "=" or "==" => Compare.Types.CompareResult.Equal,
                "!=" => Compare.Types.CompareResult.NotEqual,
                "<" => Compare.Types.CompareResult.Less,
                ">" => Compare.Types.CompareResult.Greater,
                var op => throw new FormatException($"bad compare '{line}': unknown operator '{op}' (=, !=, <, >)"),
            },
        };
        var value = Unquote(match.Groups["value"].Value.Trim());
        var target = match.Groups["target"].Value;
        if (target == "value")
        {
            compare.Target = Compare.Types.CompareTarget.Value;
            compare.Value = ByteString.CopyFromUtf8(value);
            return compare;
        }

        if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
        {
            throw new FormatException($"bad compare '{line}': {target} compares with a number, not '{value}'");
        }

        switch (target)
        {
            case "mod":
                compare.Target = Compare.Types.CompareTarget.Mod;
                compare.ModRevision = number;
                break;
            case "create":
                compare.Target = Compare.Types.CompareTarget.Create;
                compare.CreateRevision = number;
                break;
            case "lease":
                compare.Target = Compare.Types.CompareTarget.Lease;
                compare.Lease = number;
                break;
            default:
                compare.Target = Compare.Types.CompareTarget.Version;
                compare.Version = number;
                break;
        }

        return compare;
    }

    /// <summary>Parses one request line.</summary>
    public static RequestOp ParseOp(string line)
    {
        var words = Split(line);
        if (words.Count == 0)
        {
            throw new FormatException("empty request");
        }

        var flags = words.Skip(1).Where(w => w.StartsWith("--", StringComparison.Ordinal)).ToList();
        var args = new List<string>();
        for (var i = 1; i < words.Count; i++)
        {
            if (words[i] is "--limit" or "--rev" && i + 1 < words.Count)
            {
                i++;
                continue;
            }

            if (!words[i].StartsWith("--", StringComparison.Ordinal))
            {
                args.Add(words[i]);
            }
        }

        long Number(string flag)
        {
            var at = words.IndexOf(flag);
            return at >= 0 && at + 1 < words.Count && long.TryParse(words[at + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
                : at >= 0 ? throw new FormatException($"bad request '{line}': {flag} needs a number") : 0;
        }

        (ByteString Key, ByteString End) Range()
        {
            if (args.Count is < 1 or > 2)
            {
                throw new FormatException($"bad request '{line}': expected {words[0]} key [range_end]");
            }

            return EtcdKeys.Resolve(args[0], args.Count == 2 ? args[1] : null, flags.Contains("--prefix"), flags.Contains("--from-key"), out var error)
                ?? throw new FormatException($"bad request '{line}': {error}");
        }

        switch (words[0])
        {
            case "put":
                if (args.Count != 2)
                {
                    throw new FormatException($"bad request '{line}': expected put key value");
                }

                return new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(args[0]), Value = ByteString.CopyFromUtf8(args[1]), PrevKv = flags.Contains("--prev-kv") } };
            case "get":
                var (key, end) = Range();
                return new RequestOp
                {
                    RequestRange = new RangeRequest
                    {
                        Key = key,
                        RangeEnd = end,
                        Limit = Number("--limit"),
                        Revision = Number("--rev"),
                        KeysOnly = flags.Contains("--keys-only"),
                        CountOnly = flags.Contains("--count-only"),
                        Serializable = flags.Contains("--serializable"),
                    },
                };
            case "del" or "delete":
                var (from, to) = Range();
                return new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = from, RangeEnd = to, PrevKv = flags.Contains("--prev-kv") } };
            default:
                throw new FormatException($"bad request '{line}': expected get, put or del");
        }
    }

    /// <summary>Splits a line into words; double quotes group words with spaces (with \" and \\ escapes inside).</summary>
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '"')
            {
                inWord = true;
                for (i++; i < line.Length && line[i] != '"'; i++)
                {
                    if (line[i] == '\\' && i + 1 < line.Length)
                    {
                        i++;
                    }

                    word.Append(line[i]);
                }

                if (i >= line.Length)
                {
                    throw new FormatException($"unterminated quote in '{line}'");
                }
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                inWord = true;
                word.Append(c);
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static string Unquote(string text) =>
        text.Length >= 2 && text[0] == '"' && text[^1] == '"' ? Split(text).FirstOrDefault() ?? string.Empty : text;

    private static IEnumerable<string> Section(TextReader input)
    {
        while (input.ReadLine() is { } line && line.Trim().Length > 0)
        {
            yield return line;
        }
    }

    [GeneratedRegex("^(?<target>value|mod|create|ver|version|lease)\\((?<key>\"(?:[^\"\\\\]|\\\\.)*\"|[^)]*)\\)\\s*(?<op>!=|==|=|<|>)\\s*(?<value>.*)$")]
    private static partial Regex CompareSyntax();
}
