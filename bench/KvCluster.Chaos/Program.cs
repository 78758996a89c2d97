using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using KvCluster.Testing.Linearizability;
using KvCluster.Client;
using KvCluster.Client.Protocol;

namespace KvCluster.Chaos;

/// <summary>
/// The chaos run: three node processes on loopback, recording clients, a nemesis, then the linearizability check.
/// Exit codes: 0 linearizable, 1 violation, 3 checker budget exceeded (unknown), 2 set-up failure or bad arguments.
/// </summary>
internal static class Program
{
    /// <summary>The run's start, the origin of the times printed (set first thing in <see cref="Main"/>).</summary>
    public static long Started { get; private set; }

    public static async Task<int> Main(string[] args)
    {
        Started = Stopwatch.GetTimestamp();
        ChaosSettings settings;
        try
        {
            settings = ChaosSettings.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"chaos: {e.Message}");
            Console.Error.WriteLine(ChaosSettings.Usage);
            return 2;
        }

        if (settings.Help)
        {
            Console.WriteLine(ChaosSettings.Usage);
            return 0;
        }

        Directory.CreateDirectory(settings.WorkDir);
        var ports = FreePorts(9);
        var peers = string.Join(",", Enumerable.Range(0, 3).Select(i => string.Create(CultureInfo.InvariantCulture, $"{i + 1}=127.0.0.1:{ports[i]}")));
        var nodes = Enumerable.Range(0, 3)
            .Select(i => new NodeProcess(i + 1, ports[i], ports[3 + i], ports[6 + i], settings.WorkDir, settings.NodeDll, peers, settings.NodeArgs))
            .ToArray();
        void KillAll()
        {
            foreach (var node in nodes)
            {
                node.Resume();
                node.Kill();
            }
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        Console.CancelKeyPress += (_, _) => KillAll();
        try
        {
            return await RunAsync(settings, nodes).ConfigureAwait(false);
        }
        finally
        {
            KillAll();
        }
    }

    private static async Task<int> RunAsync(ChaosSettings settings, NodeProcess[] nodes)
    {
        Console.WriteLine($"chaos: 3 nodes ({string.Join(", ", nodes.Select(n => n.Endpoint))}), node flags '{settings.NodeArgs}', data under {settings.WorkDir}");
        foreach (var node in nodes)
        {
            node.Start();
        }

        var endpoints = nodes.Select(n => new KvEndpoint("127.0.0.1", n.Port)).ToArray();
        var clients = new List<KvClient>();
        var connectDeadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        for (var i = 0; i < Math.Max(1, settings.Clients / 4); i++)
        {
            while (true)
            {
                try
                {
                    clients.Add(await KvClient.ConnectAsync(new KvClientOptions { Endpoints = endpoints, RequestTimeout = settings.RequestTimeout, FaultInjection = true }).ConfigureAwait(false));
                    break;
                }
                catch (KvUnavailableException) when (Stopwatch.GetTimestamp() < connectDeadline)
                {
                    await Task.Delay(200).ConfigureAwait(false);
                }
                catch (KvUnavailableException e)
                {
                    Console.Error.WriteLine($"chaos: no node answered within 30 s: {e.Message}");
                    foreach (var node in nodes)
                    {
                        Console.Error.WriteLine($"--- node {node.Id} log tail ---\n{node.Tail(10)}");
                    }

                    return 2;
                }
            }
        }

        try
        {
            if (await AwaitWritableAsync(clients[0], TimeSpan.FromSeconds(30)).ConfigureAwait(false) is not { } startup)
            {
                Console.Error.WriteLine("chaos: the cluster accepted no write within 30 s of start-up");
                return 2;
            }

            Console.WriteLine($"chaos: cluster writable after {Seconds(Started, Stopwatch.GetTimestamp()):F1} s; {settings.Clients} clients on {settings.Keys} keys, nemesis for {settings.Duration.TotalSeconds:0} s (hold {settings.Hold.TotalSeconds:0.#} s, calm {settings.Calm.TotalSeconds:0.#} s)");
            var recorder = new HistoryRecorder<KvInput, KvOutput>();
            var counters = new OutcomeCounters();
            var keys = Enumerable.Range(0, settings.Keys).Select(i => string.Create(CultureInfo.InvariantCulture, $"chaos-{i:D2}")).ToArray();
            var workers = Enumerable.Range(0, settings.Clients)
                .Select(i => new ChaosClient(i + 1, clients[i % clients.Count], recorder, counters, keys, settings.Seed * 1000 + i,
                    settings.SerializableReads ? ReadConsistency.Serializable : ReadConsistency.Linearizable))
                .ToArray();
            using var stop = new CancellationTokenSource();
            using var watchStop = new CancellationTokenSource();
            var watch = settings.Watchers > 0 ? await WatchWorkload.StartAsync(settings.Watchers, nodes.Select(n => n.ClientPort).ToArray(), settings.Seed, watchStop.Token).ConfigureAwait(false) : null;
            var running = workers.Select(w => Task.Run(() => w.RunAsync(stop.Token))).ToArray();
            var clientPorts = nodes.Select(n => n.ClientPort).ToArray();
            var lockLog = new LockLog();
            var holders = Enumerable.Range(0, settings.LockHolders)
                .Select(i => Task.Run(() => new LockHolder(i + 1, clientPorts, lockLog, (settings.Seed * 1000) + 500 + i).RunAsync(stop.Token)))
                .ToArray();

            var nemesis = new Nemesis(nodes, settings.Seed, settings.Hold, settings.Calm, Console.Out);
            await nemesis.RunAsync(settings.Duration).ConfigureAwait(false);
            await nemesis.RepairAllAsync().ConfigureAwait(false);
            var healed = Stopwatch.GetTimestamp();
            var recovered = await AwaitWritableAsync(clients[0], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            Console.WriteLine(recovered is { } r
                ? $"chaos: healed everything; cluster writable {Seconds(healed, r):F2} s later"
                : "chaos: healed everything; the cluster accepted NO write within 30 s");
            await Task.Delay(settings.Tail).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(running).WaitAsync(settings.RequestTimeout * 3).ConfigureAwait(false);
            await Task.WhenAll(holders).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);

            var history = recorder.ToHistory();
            var result = LinearizabilityChecker.Check(KvModel.Instance, history, new CheckOptions { TimeBudget = settings.CheckBudget });
            var violations = result.Partitions.Count(p => p.Verdict == LinearizabilityVerdict.NotLinearizable);
            var unknown = result.Partitions.Count(p => p.Verdict == LinearizabilityVerdict.Unknown);
            if (!result.IsLinearizable)
            {
                history.Save(settings.HistoryOut);
            }

            Report.Print(Console.Out, settings, history, counters, nemesis.Faults, workers, result, recovered is not null);
            if (!result.IsLinearizable)
            {
                Console.WriteLine($"history saved to {settings.HistoryOut}");
                Console.WriteLine(result.Explanation);
            }

            var locks = settings.LockHolders > 0 ? await LockChecker.CheckAsync(clientPorts, lockLog).ConfigureAwait(false) : null;
            if (locks is not null)
            {
                locks.Print(Console.Out);
                violations += locks.Violations.Count;
            }
            else if (settings.LockHolders > 0)
            {
                Console.WriteLine("lock check:        the guarded writes could not be read back within 30 s");
            }

            var (watchViolations, watchIncomplete) = watch is null ? (0, 0) : await watch.FinishAsync(history, watchStop, TimeSpan.FromSeconds(30), Console.Out).ConfigureAwait(false);
            violations += watchViolations;
            Console.WriteLine($"unknown (budget exceeded) keys: {unknown}");
            Console.WriteLine($"violations: {violations}");
            return violations > 0 ? 1 : unknown > 0 || recovered is null || (settings.LockHolders > 0 && locks is null) || watchIncomplete > 0 ? 3 : 0;
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Puts a probe key (outside the history) until it succeeds; the time of success, or null.</summary>
    private static async Task<long?> AwaitWritableAsync(KvClient client, TimeSpan within)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                var put = new PutRequest { Key = ByteString.CopyFromUtf8("chaos-probe"), Value = ByteString.CopyFromUtf8("probe") };
                var result = await client.ExecuteAsync(new KvCommand { Put = put }, timeout: TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                if (result.Status == KvStatus.Ok)
                {
                    return Stopwatch.GetTimestamp();
                }
            }
            catch (KvClientException)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }

        return null;
    }

    internal static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var listener in listeners)
        {
            listener.Start();
        }

        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners)
        {
            listener.Stop();
        }

        return ports;
    }
}
