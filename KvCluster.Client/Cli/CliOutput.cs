using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Client.Cli;

/// <summary>
/// Prints a command's <see cref="KvResult"/> as a table for people or one JSON object for scripts, and returns the
/// exit code its status means (0 ok, 1 not found, 5 rejected). Problems go to standard error on one line.
/// </summary>
internal static class CliOutput
{
    /// <summary>Prints <paramref name="result"/> of command <paramref name="op"/>; returns the exit code.</summary>
    public static int Write(KvConsole console, bool json, KvResult result, string op)
    {
        var code = result.Status switch
        {
            KvStatus.Ok => ExitCodes.Success,
            KvStatus.NotFound => ExitCodes.NotFound,
            _ => ExitCodes.Rejected,
        };
        if (json)
        {
            console.Out.WriteLine(ToJson(result, op));
        }
        else if (code == ExitCodes.Success)
        {
            WriteTable(console.Out, result, op);
        }

        if (code != ExitCodes.Success)
        {
            var problem = result.Status switch
            {
                KvStatus.NotFound => "not found: the key does not exist",
                KvStatus.VersionMismatch => $"rejected: version mismatch: the key's version is {result.ActualVersion}" + (result.ActualVersion == 0 ? " (it does not exist)" : string.Empty),
                _ => $"rejected: {result.Error}",
            };
            console.Error.WriteLine($"kv: {problem}");
        }

        return code;
    }

    private static void WriteTable(TextWriter output, KvResult result, string op)
    {
        switch (result.BodyCase)
        {
            case KvResult.BodyOneofCase.Put:
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"OK (version {result.Put.Current.ModIndex}, revision {result.Revision})"));
                break;
            case KvResult.BodyOneofCase.Get:
                WriteRows(output, [result.Get.Kv], keysOnly: false);
                break;
            case KvResult.BodyOneofCase.Delete:
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"deleted 1 key (revision {result.Revision})"));
                break;
            case KvResult.BodyOneofCase.DeleteRange:
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"deleted {result.DeleteRange.Deleted} key(s) (revision {result.Revision})"));
                break;
            case KvResult.BodyOneofCase.Range:
                var keysOnly = result.Range.Kvs.All(kv => kv.Value.IsEmpty);
                WriteRows(output, result.Range.Kvs, keysOnly);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.Range.Kvs.Count} of {result.Range.Count} key(s){(result.Range.More ? " (limit reached: more match)" : string.Empty)}"));
                break;
            default:
                output.WriteLine($"OK ({op})");
                break;
        }
    }

    private static void WriteRows(TextWriter output, IReadOnlyList<KeyValue> rows, bool keysOnly)
    {
        var header = keysOnly ? new[] { "KEY", "VERSION" } : ["KEY", "VALUE", "VERSION"];
        var cells = rows.Select(kv => keysOnly
            ? new[] { Text(kv.Key), kv.ModIndex.ToString(CultureInfo.InvariantCulture) }
            : [Text(kv.Key), Text(kv.Value), kv.ModIndex.ToString(CultureInfo.InvariantCulture)]).ToList();
        var widths = header.Select((h, i) => Math.Min(60, Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length)))).ToArray();
        output.WriteLine(Row(header, widths));
        foreach (var row in cells)
        {
            output.WriteLine(Row(row, widths));
        }
    }

    private static string Row(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();

    /// <summary>UTF-8 text, or <c>base64:...</c> for bytes that are not valid UTF-8.</summary>
    private static string Text(ByteString bytes)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.Span);
        }
        catch (DecoderFallbackException)
        {
            return "base64:" + bytes.ToBase64();
        }
    }

    private static string ToJson(KvResult result, string op)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("op", op);
            json.WriteString("status", result.Status switch
            {
                KvStatus.Ok => "ok",
                KvStatus.NotFound => "not_found",
                KvStatus.VersionMismatch => "version_mismatch",
                _ => "rejected",
            });
            json.WriteNumber("revision", result.Revision);
            if (result.Status == KvStatus.VersionMismatch)
            {
                json.WriteNumber("actual_version", result.ActualVersion);
            }

            if (result.Error.Length > 0)
            {
                json.WriteString("error", result.Error);
            }

            switch (result.BodyCase)
            {
                case KvResult.BodyOneofCase.Put:
                    json.WriteNumber("version", result.Put.Current.ModIndex);
                    break;
                case KvResult.BodyOneofCase.Get:
                    json.WritePropertyName("kv");
                    WritePair(json, result.Get.Kv);
                    break;
                case KvResult.BodyOneofCase.Delete:
                    json.WriteNumber("deleted", 1);
                    break;
                case KvResult.BodyOneofCase.DeleteRange:
                    json.WriteNumber("deleted", result.DeleteRange.Deleted);
                    break;
                case KvResult.BodyOneofCase.Range:
                    json.WriteStartArray("kvs");
                    foreach (var kv in result.Range.Kvs)
                    {
                        WritePair(json, kv);
                    }

                    json.WriteEndArray();
                    json.WriteNumber("count", result.Range.Count);
                    json.WriteBoolean("more", result.Range.More);
                    break;
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WritePair(Utf8JsonWriter json, KeyValue kv)
    {
        json.WriteStartObject();
        json.WriteString("key", Text(kv.Key));
        json.WriteString("value", Text(kv.Value));
        json.WriteNumber("version", kv.ModIndex);
        json.WriteNumber("create_index", kv.CreateIndex);
        json.WriteNumber("changes", kv.Version);
        json.WriteEndObject();
    }
}
