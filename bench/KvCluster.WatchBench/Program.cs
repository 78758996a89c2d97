using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;

namespace KvCluster.WatchBench;

/// <summary>
/// Watch fan-out through etcd's v3 gRPC API, the same client for every target: W watchers of one prefix (one Watch
/// stream each, spread round-robin over the endpoints and over C connections), one writer putting under the prefix
/// (closed loop, or paced at --rate), each value carrying its send time. Reports events delivered per second (all
/// watchers together, from the first put to the last event of the last put) and put-to-event latency p50/p99/max
/// (send of the put to arrival of its event at a watcher), the writer's put round trip p50/p99/max (so a slow event can be
/// told apart from a slow commit) and the second of the run the slowest event was sent in, as one text line and one JSON
/// line.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: KvCluster.WatchBench --endpoints host:port,... [--name NAME] [--watchers 1000] [--conns 30]\n" +
        "         [--duration 10] (seconds of writing) [--rate 0] (puts/s; 0: one closed-loop writer) [--value-size 256]\n" +
        "         [--writer-endpoint host:port (default: the first endpoint)] [--prefix wb/]";

    public static async Task<int> Main(string[] args)
    {
        Dictionary<string, string> flags;
        try
        {
            flags = ParseFlags(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"watch-bench: {e.Message}\n{Usage}");
            return 2;
        }

        if (!flags.TryGetValue("--endpoints", out var endpointList))
        {
            Console.Error.WriteLine($"watch-bench: --endpoints is required\n{Usage}");
            return 2;
        }

        var endpoints = endpointList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var name = flags.GetValueOrDefault("--name", "target");
        var watchers = Int(flags, "--watchers", 1000);
        var conns = Math.Max(endpoints.Length, Int(flags, "--conns", 30));
        var duration = TimeSpan.FromSeconds(Int(flags, "--duration", 10));
        var rate = Int(flags, "--rate", 0);
        var valueSize = Math.Max(8, Int(flags, "--value-size", 256));
        var prefix = flags.GetValueOrDefault("--prefix", "wb/");
        var writerEndpoint = flags.GetValueOrDefault("--writer-endpoint", endpoints[0]);

        var channels = Enumerable.Range(0, conns).Select(i => Channel(endpoints[i % endpoints.Length])).ToArray();
        using var stop = new CancellationTokenSource();
        var received = new long[watchers];
        var latencies = new List<long>[watchers];
        var lastArrival = new long[watchers];
        var slowest = new (long Latency, long SentAt)[watchers];
        var created = 0;
        var prefixBytes = ByteString.CopyFromUtf8(prefix);
        var rangeEnd = PrefixEnd(prefixBytes);
        var streams = Enumerable.Range(0, watchers).Select(w => Task.Run(async () =>
        {
            latencies[w] = [];
            using var call = new Watch.WatchClient(channels[w % channels.Length]).Watch(cancellationToken: stop.Token);
            await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = prefixBytes, RangeEnd = rangeEnd } });
            try
            {
                await foreach (var response in call.ResponseStream.ReadAllAsync(stop.Token))
                {
                    if (response.Created)
                    {
                        Interlocked.Increment(ref created);
                        continue;
                    }

                    if (response.Canceled)
                    {
                        Console.Error.WriteLine($"watch-bench: watcher {w} cancelled: {response.CancelReason}");
                        return;
                    }

                    var now = Stopwatch.GetTimestamp();
                    foreach (var e in response.Events)
                    {
                        var sentAt = BitConverter.ToInt64(e.Kv.Value.Span[..8]);
                        latencies[w].Add(now - sentAt);
                        if (now - sentAt > slowest[w].Latency)
                        {
                            slowest[w] = (now - sentAt, sentAt);
                        }

                        received[w]++;
                    }

                    lastArrival[w] = now;
                }
            }
            catch (Exception e) when (e is OperationCanceledException || (e is RpcException r && r.StatusCode == StatusCode.Cancelled))
            {
                // The end of the run.
            }
        })).ToArray();

        var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
        while (Volatile.Read(ref created) < watchers && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50);
        }

        if (Volatile.Read(ref created) < watchers)
        {
            Console.Error.WriteLine($"watch-bench: only {created} of {watchers} watchers were created within 60 s");
            await stop.CancelAsync();
            return 3;
        }

        // The writer: one client, one key per put among 100 under the prefix; the value starts with the send time.
        using var writerChannel = Channel(writerEndpoint);
        var kv = new KV.KVClient(writerChannel);
        var value = new byte[valueSize];
        long puts = 0, putErrors = 0;
        var putTimes = new List<long>();

        // Open the writer's connection (TCP, HTTP/2 settings) and run its unary-call path once before the clock starts,
        // as the watchers' streams were: the first put then measures the store, not the connection set-up.
        await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(prefix), CountOnly = true }, deadline: DateTime.UtcNow.AddSeconds(30));
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            if (rate > 0)
            {
                var due = start + (long)(puts * (double)Stopwatch.Frequency / rate);
                var wait = due - Stopwatch.GetTimestamp();
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency));
                }
            }

            var sent = Stopwatch.GetTimestamp();
            BitConverter.TryWriteBytes(value, sent);
            try
            {
                await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(prefix + (puts % 100).ToString(CultureInfo.InvariantCulture)), Value = ByteString.CopyFrom(value) }, deadline: DateTime.UtcNow.AddSeconds(5));
                putTimes.Add(Stopwatch.GetTimestamp() - sent);
                puts++;
            }
            catch (RpcException)
            {
                putErrors++;
            }
        }

        var writerDone = Stopwatch.GetTimestamp();
        var expected = puts * watchers;
        var drainDeadline = writerDone + (30 * Stopwatch.Frequency);
        while (received.Sum() < expected && Stopwatch.GetTimestamp() < drainDeadline)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await Task.WhenAll(streams).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        foreach (var channel in channels)
        {
            channel.Dispose();
        }

        var delivered = received.Sum();
        var lastEvent = lastArrival.Max();
        var seconds = (Math.Max(lastEvent, writerDone) - start) / (double)Stopwatch.Frequency;
        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        var putAll = putTimes.ToArray();
        Array.Sort(putAll);
        static double Quantile(long[] sorted, double q) =>
            sorted.Length == 0 ? double.NaN : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))] * 1000.0 / Stopwatch.Frequency, 2);
        double Ms(double q) => Quantile(all, q);
        var worst = slowest.MaxBy(s => s.Latency);
        var result = new
        {
            name,
            watchers,
            conns,
            puts,
            putErrors,
            putsPerSecond = Math.Round(puts / ((writerDone - start) / (double)Stopwatch.Frequency), 1),
            eventsExpected = expected,
            eventsDelivered = delivered,
            eventsPerSecond = Math.Round(delivered / seconds, 0),
            p50Ms = Math.Round(Ms(0.50), 2),
            p99Ms = Math.Round(Ms(0.99), 2),
            maxMs = Math.Round(all.Length == 0 ? double.NaN : all[^1] * 1000.0 / Stopwatch.Frequency, 2),
            maxSentAtSecond = all.Length == 0 ? double.NaN : Math.Round((worst.SentAt - start) / (double)Stopwatch.Frequency, 2),
            putP50Ms = Quantile(putAll, 0.50),
            putP99Ms = Quantile(putAll, 0.99),
            putMaxMs = Quantile(putAll, 1.0),
        };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {watchers} watchers, {puts} puts ({result.putsPerSecond}/s, {putErrors} errors), {delivered}/{expected} events delivered, {result.eventsPerSecond} events/s, put-to-event p50 {result.p50Ms} ms p99 {result.p99Ms} ms max {result.maxMs} ms (sent at {result.maxSentAtSecond} s), put round trip p50 {result.putP50Ms} ms p99 {result.putP99Ms} ms max {result.putMaxMs} ms"));
        Console.WriteLine(JsonSerializer.Serialize(result));
        return delivered == expected ? 0 : 1;
    }

    private static GrpcChannel Channel(string endpoint) => GrpcChannel.ForAddress($"http://{endpoint}", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(5) },
        MaxReceiveMessageSize = null,
    });

    private static ByteString PrefixEnd(ByteString prefix)
    {
        var end = prefix.ToByteArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return ByteString.CopyFrom(end, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0);
    }

    private static Dictionary<string, string> ParseFlags(string[] args)
    {
        var flags = new Dictionary<string, string>();
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --flag value, got '{args[i]}'");
            }

            flags[args[i]] = args[i + 1];
        }

        return flags;
    }

    private static int Int(Dictionary<string, string> flags, string flag, int fallback) =>
        !flags.TryGetValue(flag, out var text) ? fallback
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
        : throw new ArgumentException($"{flag} must be a whole number, not '{text}'");
}
