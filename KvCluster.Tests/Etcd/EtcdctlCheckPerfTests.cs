using Akka.Actor;
using System.Diagnostics;

namespace KvCluster.Tests.Etcd;

/// <summary>Runs alone: etcdctl's acceptance test measures the cluster, so no other test may share the machine.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "alone";
}

/// <summary>
/// `etcdctl check perf --load=s` (etcdctl 3.4's own acceptance test: 50 clients for 60 s, at least 150 writes/s, no
/// request over 500 ms, low deviation) against a real three-node AkkaKv.
/// </summary>
[Trait("Category", "Integration")]
[Collection(AloneCollection.Name)]
public sealed class EtcdctlCheckPerfTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task CheckPerf_SmallLoad_Passes()
    {
        // Three nodes share this test process and its thread pool (in production each has its own): give the pool
        // the threads three processes would start with, so one node's blocking journal writes do not starve the
        // others' heartbeats.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 3 * Environment.ProcessorCount * 8), io);
        try
        {
            // serialize-messages (the specs' wire check) round-trips every local message, Akka.Persistence's internal
            // ones included, and fails on some of them at every journal write: production runs without it, and so
            // does this measurement.
            var hooks = KvCluster.Tests.Node.NodeTestSupport.Hooks with { ExtraHocon = "akka.actor.serialize-messages = off" };
            // A production node's Raft timing (100 ms ticks, a 1-2 s election timeout, as etcd's defaults), not the
            // test clusters' 20 ms ticks: with 200-400 ms the GC of three nodes in one process set off an election
            // during the run (CI cc49949: term 1 -> 2, one request at 0.74 s), which check perf measures against a
            // cluster deployed as one process per node.
            var defaults = new KvCluster.Node.Hosting.NodeOptions();
            await using var cluster = await KvCluster.Tests.Node.KvTestCluster.StartAsync(3, hooks: hooks, clientPort: true,
                tune: o => o with { TickMs = defaults.TickMs, ElectionTicksMin = defaults.ElectionTicksMin, ElectionTicksMax = defaults.ElectionTicksMax });
            await cluster.AwaitLeaderAsync();
            var warmUp = await WarmUpAsync(cluster);
            var termBefore = await TermAsync(cluster);
            var jitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
            var gcBefore = GC.GetTotalPauseDuration();
            var endpoints = string.Join(',', Enumerable.Range(0, 3).Select(i => $"127.0.0.1:{cluster.Options[i].ClientPort}"));
            var info = new ProcessStartInfo("etcdctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.Environment["ETCDCTL_API"] = "3";
            foreach (var arg in new[] { "--endpoints", endpoints, "check", "perf", "--load=s" })
            {
                info.ArgumentList.Add(arg);
            }

            using var process = Process.Start(info) ?? throw new InvalidOperationException("etcdctl did not start (apt-get install etcd-client)");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(150));
            await process.WaitForExitAsync(limit.Token);
            var text = (await stdout).Replace('\r', '\n');
            var verdict = string.Join('\n', text.Split('\n').Where(l => l.StartsWith("PASS", StringComparison.Ordinal) || l.StartsWith("FAIL", StringComparison.Ordinal) || l.StartsWith("Slowest", StringComparison.Ordinal)));

            // What a failure needs to be read: an election during the run, the JIT still compiling, the GC's pauses.
            var context = $"warm-up: {warmUp}; during check perf: Raft term {termBefore} -> {await TermAsync(cluster)}, "
                + $"{System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore} methods compiled by the JIT, "
                + $"GC pauses {(GC.GetTotalPauseDuration() - gcBefore).TotalMilliseconds:F0} ms in all";
            output.WriteLine(verdict + "\n" + context);
            Assert.True(process.ExitCode == 0, verdict + "\n" + context + "\n" + await error);
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
        }
    }

    /// <summary>
    /// check perf counts its first requests, and in this test process the three nodes were just compiled by the JIT at
    /// tier 0 (a published node is ReadyToRun). While the JIT recompiles the hot paths (tier 1), its background thread
    /// takes a share of the two cores the nodes and etcdctl need: on a fresh cluster the slow requests of a check perf
    /// run (over 128 ms) all fell in its first 15 s, none after (docs/BENCHMARKS.md). So 50 writers put through every
    /// node, as check perf does, until the JIT is quiet (fewer than <see cref="QuietJitMethodsPerSecond"/> methods
    /// compiled in a second, after at least 3 s) or for at most 30 s, and the measurement starts from a cluster that
    /// has served writes, as one in service has. Returns what the warm-up did, for the failure message.
    /// </summary>
    private static async Task<string> WarmUpAsync(KvCluster.Tests.Node.KvTestCluster cluster)
    {
        var clients = Enumerable.Range(0, 3).Select(i => new dotnet_etcd.EtcdClient(cluster.Url(i))).ToArray();
        try
        {
            var started = DateTime.UtcNow;
            using var stop = new CancellationTokenSource();
            var puts = 0;
            var writers = Enumerable.Range(0, 50).Select(async w =>
            {
                var client = clients[w % clients.Length];
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    await client.PutAsync($"warm-up/{w}/{i % 10}", "x", deadline: DateTime.UtcNow.AddSeconds(20));
                    Interlocked.Increment(ref puts);
                }
            }).ToArray();

            var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            var perSecond = new List<long>();
            long lastSecond;
            do
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                var now = System.Runtime.JitInfo.GetCompiledMethodCount();
                lastSecond = now - compiled;
                perSecond.Add(lastSecond);
                compiled = now;
            }
            while ((lastSecond >= QuietJitMethodsPerSecond || DateTime.UtcNow - started < TimeSpan.FromSeconds(3))
                && DateTime.UtcNow - started < TimeSpan.FromSeconds(30));

            stop.Cancel();
            await Task.WhenAll(writers);
            return $"{puts} puts in {(DateTime.UtcNow - started).TotalSeconds:F0} s; methods compiled by the JIT per second: {string.Join(' ', perSecond)}";
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>The JIT counts as quiet below this many methods compiled per second.</summary>
    private const int QuietJitMethodsPerSecond = 20;

    private static async Task<long> TermAsync(KvCluster.Tests.Node.KvTestCluster cluster) =>
        (await cluster.Nodes[0]!.Raft.Ask<KvCluster.Raft.Actor.RaftStatus>(KvCluster.Raft.Actor.GetRaftStatus.Instance, TimeSpan.FromSeconds(10))).Term;
}
