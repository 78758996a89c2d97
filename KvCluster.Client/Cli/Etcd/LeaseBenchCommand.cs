using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using KvCluster.Client.Bench;
using KvCluster.Client.Bench.Etcd;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// <c>kv lease bench</c>: lease churn against any etcd-API endpoints (AkkaKv or etcd, the same driver for both). Each of
/// <c>--clients</c> closed-loop clients repeats: grant a lease (TTL 60), renew it <c>--keepalives</c> times on one
/// LeaseKeepAlive stream (each renewal waits for its answer), revoke it. Clients share <c>--conns</c> HTTP/2
/// connections spread over the endpoints. Prints grants/s, keep-alives/s, revokes/s and the latency quantiles of grants
/// and keep-alives over <c>--duration</c> (after <c>--warmup</c>, discarded); <c>-w json</c> prints one JSON object.
/// </summary>
internal static class LeaseBenchCommand
{
    /// <summary>The command.</summary>
    public static Command Create(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var clients = new Option<int>("--clients") { Description = "Concurrent closed-loop clients.", DefaultValueFactory = _ => 100 };
        var conns = new Option<int>("--conns") { Description = "HTTP/2 connections, spread over the endpoints.", DefaultValueFactory = _ => 10 };
        var keepAlives = new Option<int>("--keepalives") { Description = "Keep-alives per lease before its revoke.", DefaultValueFactory = _ => 10 };
        var duration = new Option<TimeSpan>("--duration") { Description = "Measured time.", DefaultValueFactory = _ => TimeSpan.FromSeconds(10), CustomParser = r => BenchCommand.ParseDurationArgument(r) ?? TimeSpan.Zero };
        var warmup = new Option<TimeSpan>("--warmup") { Description = "Load before the measurement, discarded.", DefaultValueFactory = _ => TimeSpan.FromSeconds(2), CustomParser = r => BenchCommand.ParseDurationArgument(r) ?? TimeSpan.Zero };
        var command = new Command("bench", "Lease churn: grant, keep-alive N times, revoke, in closed loops; prints grants/s and keep-alives/s.") { clients, conns, keepAlives, duration, warmup };
        command.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            if (parse.GetValue(clients) < 1 || parse.GetValue(conns) < 1 || parse.GetValue(keepAlives) < 0 || parse.GetValue(duration) <= TimeSpan.Zero)
            {
                return KvCli.UsageError(parse, "--clients and --conns must be at least 1, --keepalives not negative, --duration positive", console);
            }

            var channels = Enumerable.Range(0, parse.GetValue(conns))
                .Select(i => new EtcdChannel(session.Endpoints[i % session.Endpoints.Count], TimeSpan.FromSeconds(2)))
                .ToArray();
            try
            {
                var run = new Run(channels, parse.GetValue(keepAlives));
                var result = await run.ExecuteAsync(parse.GetValue(clients), parse.GetValue(warmup), parse.GetValue(duration), token).ConfigureAwait(false);
                console.Out.WriteLine(session.Format == "json" ? result.Json() : result.Text());
                return result.Errors > 0 && result.Grants == 0 ? ExitCodes.Unavailable : ExitCodes.Success;
            }
            finally
            {
                foreach (var channel in channels)
                {
                    channel.Dispose();
                }
            }
        }, token));
        return command;
    }

    private sealed class Run(EtcdChannel[] channels, int keepAlives)
    {
        private readonly object _gate = new();
        private readonly LatencyHistogram _grantLatency = new();
        private readonly LatencyHistogram _keepAliveLatency = new();
        private long _grants;
        private long _renewals;
        private long _revokes;
        private long _errors;
        private volatile bool _measuring;

        public async Task<Result> ExecuteAsync(int clients, TimeSpan warmup, TimeSpan duration, CancellationToken token)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
            var workers = Enumerable.Range(0, clients).Select(i => Task.Run(() => WorkAsync(channels[i % channels.Length], stop.Token), CancellationToken.None)).ToArray();
            await Task.Delay(warmup, token).ConfigureAwait(false);
            lock (_gate)
            {
                _grantLatency.Reset();
                _keepAliveLatency.Reset();
                _grants = _renewals = _revokes = _errors = 0;
                _measuring = true;
            }

            var started = Stopwatch.GetTimestamp();
            await Task.Delay(duration, token).ConfigureAwait(false);
            Result result;
            lock (_gate)
            {
                _measuring = false;
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                result = new Result(clients, channels.Length, keepAlives, seconds, _grants, _renewals, _revokes, _errors,
                    Ms(_grantLatency, 0.5), Ms(_grantLatency, 0.99), Ms(_keepAliveLatency, 0.5), Ms(_keepAliveLatency, 0.99));
            }

            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(workers).ConfigureAwait(false);
            return result;
        }

        private async Task WorkAsync(EtcdChannel channel, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var start = Stopwatch.GetTimestamp();
                    var grant = await channel.Lease.LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 }, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stop).ConfigureAwait(false);
                    Count(ref _grants, _grantLatency, start);
                    if (keepAlives > 0)
                    {
                        using var call = channel.Lease.LeaseKeepAlive(cancellationToken: stop);
                        for (var i = 0; i < keepAlives; i++)
                        {
                            start = Stopwatch.GetTimestamp();
                            await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = grant.ID }, stop).ConfigureAwait(false);
                            if (!await call.ResponseStream.MoveNext(stop).ConfigureAwait(false))
                            {
                                break;
                            }

                            Count(ref _renewals, _keepAliveLatency, start);
                        }

                        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                    }

                    await channel.Lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = grant.ID }, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stop).ConfigureAwait(false);
                    Count(ref _revokes, null, 0);
                }
                catch (Exception e) when (e is RpcException or IOException or HttpRequestException && !stop.IsCancellationRequested)
                {
                    if (_measuring)
                    {
                        Interlocked.Increment(ref _errors);
                    }
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }

        private void Count(ref long counter, LatencyHistogram? histogram, long start)
        {
            if (!_measuring)
            {
                return;
            }

            var end = Stopwatch.GetTimestamp();
            lock (_gate)
            {
                counter++;
                histogram?.RecordElapsed(start, end, Stopwatch.Frequency);
            }
        }

        private static double Ms(LatencyHistogram histogram, double quantile) => histogram.Count == 0 ? 0 : histogram.ValueAtQuantile(quantile) / 1e6;
    }

    private sealed record Result(int Clients, int Conns, int KeepAlives, double Seconds, long Grants, long Renewals, long Revokes, long Errors,
        double GrantP50, double GrantP99, double KeepAliveP50, double KeepAliveP99)
    {
        public string Text() => string.Create(CultureInfo.InvariantCulture,
            $"lease churn: {Grants / Seconds:F0} grants/s, {Renewals / Seconds:F0} keep-alives/s, {Revokes / Seconds:F0} revokes/s " +
            $"({Clients} clients, {Conns} conns, {KeepAlives} keep-alives per lease, {Seconds:F1} s); grant p50 {GrantP50:F2} ms p99 {GrantP99:F2} ms; " +
            $"keep-alive p50 {KeepAliveP50:F2} ms p99 {KeepAliveP99:F2} ms; errors {Errors}");

        public string Json() => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["clients"] = Clients, ["conns"] = Conns, ["keepalives_per_lease"] = KeepAlives, ["seconds"] = Math.Round(Seconds, 2),
            ["grants_per_s"] = Math.Round(Grants / Seconds), ["keepalives_per_s"] = Math.Round(Renewals / Seconds), ["revokes_per_s"] = Math.Round(Revokes / Seconds),
            ["grant_p50_ms"] = GrantP50, ["grant_p99_ms"] = GrantP99, ["keepalive_p50_ms"] = KeepAliveP50, ["keepalive_p99_ms"] = KeepAliveP99, ["errors"] = Errors,
        });
    }
}
