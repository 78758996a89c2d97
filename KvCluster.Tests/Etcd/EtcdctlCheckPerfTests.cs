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
public sealed class EtcdctlCheckPerfTests
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
            await using var cluster = await KvCluster.Tests.Node.KvTestCluster.StartAsync(3, hooks: hooks, clientPort: true);
            await cluster.AwaitLeaderAsync();
            await WarmUpAsync(cluster);
            var endpoints = string.Join(',', Enumerable.Range(0, 3).Select(i => $"127.0.0.1:{cluster.Options[i].ClientPort}"));
            var info = new ProcessStartInfo("etcdctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.Environment["ETCDCTL_API"] = "3";
            foreach (var arg in new[] { "--endpoints", endpoints, "check", "perf", "--load=s" })
            {
                info.ArgumentList.Add(arg);
            }

            using var process = Process.Start(info) ?? throw new InvalidOperationException("etcdctl did not start (apt-get install etcd-client)");
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(150));
            await process.WaitForExitAsync(limit.Token);
            var text = (await output).Replace('\r', '\n');
            var verdict = string.Join('\n', text.Split('\n').Where(l => l.StartsWith("PASS", StringComparison.Ordinal) || l.StartsWith("FAIL", StringComparison.Ordinal) || l.StartsWith("Slowest", StringComparison.Ordinal)));
            Assert.True(process.ExitCode == 0, verdict + "\n" + await error);
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
        }
    }

    /// <summary>
    /// check perf counts its first requests: in this test process the three nodes were just compiled by the JIT (a
    /// published node is ReadyToRun), so 50 writers put for 3 s first, through the same API, and the measurement
    /// starts from a cluster that has served writes, as one in service has.
    /// </summary>
    private static async Task WarmUpAsync(KvCluster.Tests.Node.KvTestCluster cluster)
    {
        using var client = new dotnet_etcd.EtcdClient(cluster.Url());
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        var writers = Enumerable.Range(0, 50).Select(async w =>
        {
            for (var i = 0; DateTime.UtcNow < until; i++)
            {
                await client.PutAsync($"warm-up/{w}/{i % 10}", "x", deadline: DateTime.UtcNow.AddSeconds(20));
            }
        });
        await Task.WhenAll(writers);
    }
}
