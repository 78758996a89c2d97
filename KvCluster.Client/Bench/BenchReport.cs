using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace KvCluster.Client.Bench;

/// <summary>Renders a <see cref="BenchResult"/> as a table for people or one JSON object for scripts.</summary>
internal static class BenchReport
{
    /// <summary>The quantiles every report shows, with their labels.</summary>
    private static readonly (string Label, string JsonName, double Quantile)[] s_quantiles =
    [
        ("p50", "p50", 0.50), ("p90", "p90", 0.90), ("p99", "p99", 0.99), ("p99.9", "p999", 0.999),
    ];

    /// <summary>Writes the human-readable report to <paramref name="console"/>.</summary>
    public static void WriteTable(BenchResult result, IAnsiConsole console)
    {
        var s = result.Settings;
        var length = s.Total is { } total ? $"{total} requests" : $"{s.Duration!.Value.TotalSeconds:0.###} s";
        console.MarkupLine(Markup.Escape(
            $"target {result.TargetName} @ {string.Join(",", s.Endpoints)}: {s.Clients} clients over {s.Connections} connections, " +
            $"{length}, key {s.KeySize} B of {s.KeySpace} keys, value {s.ValueSize} B, read ratio {s.ReadRatio:0.##}, " +
            $"consistency {(s.Consistency == ReadConsistency.Linearizable ? "l" : "s")}" +
            (s.TxnOps > 1 ? $", writes are txns of {s.TxnOps} puts" : string.Empty)));

        var table = new Table().AddColumn("op").AddColumn(new TableColumn("ok").RightAligned())
            .AddColumn(new TableColumn("req/s").RightAligned());
        foreach (var q in s_quantiles)
        {
            table.AddColumn(new TableColumn(q.Label + " ms").RightAligned());
        }

        table.AddColumn(new TableColumn("max ms").RightAligned());
        if (result.Writes.Count > 0 || result.Reads.Count == 0)
        {
            AddRow(table, "put", result.Writes, result);
        }

        if (result.Reads.Count > 0)
        {
            AddRow(table, "get", result.Reads, result);
        }
        if (result.Reads.Count > 0 && result.Writes.Count > 0)
        {
            AddRow(table, "all", result.All, result);
        }

        console.Write(table);
        console.MarkupLine(Markup.Escape(
            string.Create(CultureInfo.InvariantCulture, $"elapsed {result.Elapsed.TotalSeconds:0.00} s, {result.All.Count} ok, {result.ErrorCount} failed") +
            (result.Reads.Count > 0 ? $", {result.ReadHits} of {result.Reads.Count} gets found their key" : string.Empty)));
        console.MarkupLine(Markup.Escape(string.Create(
            CultureInfo.InvariantCulture,
            $"load generator CPU {result.ClientCpu.TotalSeconds:0.00} s ({result.ClientCpuMicrosPerRequest:0} µs per request, {result.ClientCpu / result.Elapsed:0.00} cores)")));
        if (result.ErrorCount > 0)
        {
            console.MarkupLine(Markup.Escape(
                $"errors: {result.Errors[(int)BenchErrorKind.Unavailable]} unavailable, {result.Errors[(int)BenchErrorKind.Timeout]} timeout, " +
                $"{result.Errors[(int)BenchErrorKind.Rejected]} rejected; first: {result.FirstError}"));
        }
    }

    /// <summary>Writes the report as one JSON object on one line to <paramref name="output"/>.</summary>
    public static void WriteJson(BenchResult result, TextWriter output)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            var s = result.Settings;
            json.WriteStartObject();
            json.WriteString("target", result.TargetName);
            json.WriteStartArray("endpoints");
            foreach (var e in s.Endpoints)
            {
                json.WriteStringValue(e.ToString());
            }

            json.WriteEndArray();
            json.WriteNumber("clients", s.Clients);
            json.WriteNumber("conns", s.Connections);
            if (s.Total is { } total)
            {
                json.WriteNumber("total", total);
            }
            else
            {
                json.WriteNumber("durationSeconds", s.Duration!.Value.TotalSeconds);
            }

            json.WriteNumber("keySpace", s.KeySpace);
            json.WriteNumber("keySize", s.KeySize);
            json.WriteNumber("valueSize", s.ValueSize);
            json.WriteNumber("readRatio", s.ReadRatio);
            json.WriteNumber("txnOps", s.TxnOps);
            json.WriteString("consistency", s.Consistency == ReadConsistency.Linearizable ? "l" : "s");
            json.WriteNumber("elapsedSeconds", Math.Round(result.Elapsed.TotalSeconds, 3));
            json.WriteNumber("requests", result.All.Count);
            json.WriteNumber("errors", result.ErrorCount);
            json.WriteNumber("throughput", Math.Round(result.Throughput(result.All), 1));
            WriteLatency(json, "latencyMs", result.All);
            json.WriteNumber("clientCpuSeconds", Math.Round(result.ClientCpu.TotalSeconds, 3));
            json.WriteNumber("clientCpuMicrosPerRequest", Math.Round(result.ClientCpuMicrosPerRequest, 1));
            json.WriteStartObject("puts");
            json.WriteNumber("requests", result.Writes.Count);
            json.WriteNumber("throughput", Math.Round(result.Throughput(result.Writes), 1));
            WriteLatency(json, "latencyMs", result.Writes);
            json.WriteEndObject();
            json.WriteStartObject("gets");
            json.WriteNumber("requests", result.Reads.Count);
            json.WriteNumber("found", result.ReadHits);
            json.WriteNumber("throughput", Math.Round(result.Throughput(result.Reads), 1));
            WriteLatency(json, "latencyMs", result.Reads);
            json.WriteEndObject();
            json.WriteStartObject("errorsByKind");
            foreach (var kind in Enum.GetValues<BenchErrorKind>())
            {
                json.WriteNumber(kind.ToString().ToLowerInvariant(), result.Errors[(int)kind]);
            }

            json.WriteEndObject();
            if (result.FirstError is { } first)
            {
                json.WriteString("firstError", first);
            }

            json.WriteNumber("exitCode", result.ExitCode);
            json.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    private static void WriteLatency(Utf8JsonWriter json, string name, LatencyHistogram histogram)
    {
        json.WriteStartObject(name);
        foreach (var q in s_quantiles)
        {
            json.WriteNumber(q.JsonName, Millis(histogram.ValueAtQuantile(q.Quantile)));
        }

        json.WriteNumber("max", Millis(histogram.Max));
        json.WriteNumber("mean", Math.Round(histogram.Mean / 1e6, 4));
        json.WriteEndObject();
    }

    private static void AddRow(Table table, string op, LatencyHistogram histogram, BenchResult result)
    {
        var cells = new List<string>
        {
            op,
            histogram.Count.ToString(CultureInfo.InvariantCulture),
            result.Throughput(histogram).ToString("0.0", CultureInfo.InvariantCulture),
        };
        foreach (var q in s_quantiles)
        {
            cells.Add(FormatMillis(histogram.ValueAtQuantile(q.Quantile)));
        }

        cells.Add(FormatMillis(histogram.Max));
        table.AddRow(cells.Select(Markup.Escape).ToArray());
    }

    private static double Millis(long nanoseconds) => Math.Round(nanoseconds / 1e6, 4);

    private static string FormatMillis(long nanoseconds) =>
        (nanoseconds / 1e6).ToString(nanoseconds < 10_000_000 ? "0.000" : "0.0", CultureInfo.InvariantCulture);
}
