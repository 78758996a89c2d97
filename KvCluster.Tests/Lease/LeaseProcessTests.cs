using System.Diagnostics;
using System.Text.Json;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Lease;

/// <summary>
/// Three real node processes (<c>dotnet KvCluster.Node.dll</c>, fsync on): the leader is killed with SIGKILL while
/// Debian's etcdctl keeps a lease alive through the followers; the lease and its key survive the failover, and once the
/// keep-alives stop, the new leader expires the lease by TTL + 1 s.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LeaseProcessTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private readonly string _dataRoot = Path.Combine(Path.GetTempPath(), "akkakv-lease-" + Guid.NewGuid().ToString("N"));
    private readonly List<Process> _nodes = [];
    private readonly int[] _clientPorts = new int[3];

    [Fact]
    public async Task LeaderSigkill_WhileALeaseIsKeptAlive_TheLeaseSurvives_AndExpiresOnceNotKeptAlive()
    {
        StartCluster();
        var leader = await LeaderIndexAsync([0, 1, 2]);
        var followers = Enumerable.Range(0, 3).Where(i => i != leader).ToArray();
        var viaFollowers = new EtcdctlRunner(string.Join(',', followers.Select(HostPort)));
        var id = EtcdctlRunner.LeaseIdOf(await viaFollowers.OkAsync("lease", "grant", "3"));
        await viaFollowers.OkAsync("put", "--lease=" + id, "owner", "alive");
        using var keeper = viaFollowers.Start("lease", "keep-alive", id);
        try
        {
            using (var first = new CancellationTokenSource(s_wait))
            {
                Assert.Equal($"lease {id} keepalived with TTL(3)", await keeper.StandardOutput.ReadLineAsync(first.Token));
            }

            _ = DrainAsync(keeper);
            _nodes[leader].Kill();
            await _nodes[leader].WaitForExitAsync();
            var newLeader = await LeaderIndexAsync(followers);
            Assert.NotEqual(leader, newLeader);

            // Three TTLs after the SIGKILL the key is still there: the new leader extended the lease, the keep-alives reach it.
            var until = DateTime.UtcNow.AddSeconds(9);
            while (DateTime.UtcNow < until)
            {
                Assert.Equal("owner\nalive\n", await viaFollowers.OkAsync("get", "owner"));
                await Task.Delay(500);
            }
        }
        finally
        {
            keeper.Kill();
            await keeper.WaitForExitAsync();
        }

        // No more keep-alives: the new leader's lessor expires it by TTL + 1 s from the last one (at most now).
        var deadline = DateTime.UtcNow.AddSeconds(3 + 1);
        var gone = false;
        while (!gone && DateTime.UtcNow < deadline)
        {
            gone = (await viaFollowers.OkAsync("get", "owner")).Length == 0;
        }

        Assert.True(gone, "the key was still there TTL + 1 s after the last keep-alive");
    }

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            try
            {
                node.Kill();
                node.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            node.Dispose();
        }

        try
        {
            Directory.Delete(_dataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string HostPort(int index) => $"127.0.0.1:{_clientPorts[index]}";

    private void StartCluster()
    {
        var ports = NodeTestSupport.FreePorts(9);
        var peers = string.Join(',', Enumerable.Range(0, 3).Select(i => $"{i + 1}=127.0.0.1:{ports[i]}"));
        for (var i = 0; i < 3; i++)
        {
            _clientPorts[i] = ports[6 + i];
            var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[]
            {
                NodeDll(), "--node-id", $"{i + 1}", "--port", $"{ports[i]}", "--pbm-port", $"{ports[3 + i]}", "--client-port", $"{ports[6 + i]}",
                "--data-dir", Path.Combine(_dataRoot, $"n{i + 1}"), "--peers", peers, "--tick-ms", "50",
            })
            {
                info.ArgumentList.Add(arg);
            }

            var process = Process.Start(info)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _nodes.Add(process);
        }
    }

    /// <summary>The index of the node the others agree leads (etcdctl endpoint status), waiting for an election.</summary>
    private async Task<int> LeaderIndexAsync(int[] among)
    {
        var etcdctl = new EtcdctlRunner(string.Join(',', among.Select(HostPort)));
        var deadline = DateTime.UtcNow + s_wait;
        while (true)
        {
            EtcdctlResult status;
            try
            {
                status = await etcdctl.RunAsync(TimeSpan.FromSeconds(30), "endpoint", "status", "-w", "json");
            }
            catch (TimeoutException e)
            {
                status = new EtcdctlResult(-1, string.Empty, e.Message);
            }

            if (status.ExitCode == 0)
            {
                using var json = JsonDocument.Parse(status.Output);
                var leaders = json.RootElement.EnumerateArray()
                    .Select(e => e.TryGetProperty("Status", out var s) && s.TryGetProperty("leader", out var l) ? l.GetUInt64() : 0)
                    .Distinct().ToArray();
                if (leaders is [var leader] && leader != 0 && among.Contains((int)leader - 1))
                {
                    return (int)leader - 1;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"no leader among nodes {string.Join(',', among.Select(i => i + 1))}: {status.Output} {status.Error}");
            await Task.Delay(200);
        }
    }

    private static async Task DrainAsync(Process process)
    {
        try
        {
            while (await process.StandardOutput.ReadLineAsync() is not null)
            {
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static string NodeDll()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory);
        var root = baseDir.Parent?.Parent?.Parent?.Parent?.FullName;
        var own = root is null ? null : Path.Combine(root, "KvCluster.Node", "bin", baseDir.Parent!.Name, baseDir.Name, "KvCluster.Node.dll");
        return own is not null && File.Exists(own) ? own : Path.Combine(AppContext.BaseDirectory, "KvCluster.Node.dll");
    }

    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase)
            ? current
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
    }
}
