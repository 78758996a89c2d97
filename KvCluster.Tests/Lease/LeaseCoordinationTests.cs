using System.Diagnostics;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Lease;

/// <summary>
/// Debian's etcdctl 3.4 <c>lock</c> and <c>elect</c>, unmodified, on a real three-node AkkaKv: clientv3's Mutex and
/// Election (a session lease, the key with the lowest create revision wins, waiters watch their predecessor's delete).
/// </summary>
[Trait("Category", "Integration")]
public sealed class LeaseCoordinationTests : IAsyncLifetime
{
    private KvTestCluster _cluster = null!;
    private EtcdctlRunner _etcdctl = null!;

    public async Task InitializeAsync()
    {
        _cluster = await LeaseTestCluster.StartAsync();
        _etcdctl = new EtcdctlRunner(string.Join(',', Enumerable.Range(0, 3).Select(i => $"127.0.0.1:{_cluster.Options[i].ClientPort}")));
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Lock_TwoContenders_NeverBothHoldIt_AndAKilledHoldersLeaseReleasesIt()
    {
        // Sessions of 5 s: etcdctl 3.4's Mutex does not notice that its own session expired while it waited (CI e2130fd:
        // the second contender "held" the lock with its key gone, after its 2 s session missed keep-alives on the
        // loaded machine), so the TTL leaves room for a late keep-alive; the first holder's key is gone 5-6 s after the kill.
        using var first = _etcdctl.Start("lock", "--ttl=5", "door");
        var firstKey = await ReadLineAsync(first);
        Assert.StartsWith("door/", firstKey);

        // The second runs a command while it holds the lock: the command lists the lock's keys, which must be its own only.
        using var second = _etcdctl.Start("lock", "--ttl=5", "door", "--", "sh", "-c",
            $"echo \"holder $ETCD_LOCK_KEY\"; ETCDCTL_API=3 etcdctl --endpoints {_etcdctl.Endpoints} get door/ --prefix --keys-only");
        await WaitUntilAsync(async () => second.HasExited || (await _etcdctl.OkAsync("get", "door/", "--prefix", "--keys-only")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 2);
        Assert.False(second.HasExited, $"the second contender finished while the first held the lock: {(second.HasExited ? await second.StandardError.ReadToEndAsync() : string.Empty)}");

        // The first holder dies without unlocking: its lease expires and the second gets the lock.
        first.Kill();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = await second.StandardOutput.ReadToEndAsync(limit.Token);
        await second.WaitForExitAsync(limit.Token);

        Assert.Equal(0, second.ExitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var secondKey = Assert.Single(lines, l => l.StartsWith("holder ", StringComparison.Ordinal))["holder ".Length..];
        Assert.NotEqual(firstKey, secondKey);
        Assert.Equal([secondKey], lines.Where(l => l.StartsWith("door/", StringComparison.Ordinal)));
        Assert.Equal(string.Empty, await _etcdctl.OkAsync("get", "door/", "--prefix"));
    }

    [Fact]
    public async Task Elect_OneLeaderAtATime_TheNextCampaignerWinsWhenTheLeaderResigns()
    {
        using var alpha = _etcdctl.Start("elect", "council", "alpha");
        Assert.StartsWith("council/", await ReadLineAsync(alpha));
        Assert.Equal("alpha", await ReadLineAsync(alpha));
        using var observer = _etcdctl.Start("elect", "-l", "council");
        Assert.StartsWith("council/", await ReadLineAsync(observer));
        Assert.Equal("alpha", await ReadLineAsync(observer));

        using var beta = _etcdctl.Start("elect", "council", "beta");
        await WaitUntilAsync(async () => (await _etcdctl.OkAsync("get", "council/", "--prefix", "--keys-only")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 2);
        var betaLine = ReadLineAsync(beta);
        Assert.False(betaLine.IsCompleted, "a second candidate was elected while the first led");

        // Ctrl-C: the leader resigns (deletes its key); the waiting candidate is elected and the observer sees it.
        Interrupt(alpha);
        Assert.StartsWith("council/", await betaLine);
        Assert.Equal("beta", await ReadLineAsync(beta));
        Assert.StartsWith("council/", await ReadLineAsync(observer));
        Assert.Equal("beta", await ReadLineAsync(observer));

        Interrupt(beta);
        observer.Kill();
    }

    private static async Task<string> ReadLineAsync(Process process)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        return await process.StandardOutput.ReadLineAsync(limit.Token) ?? throw new InvalidOperationException($"etcdctl ended: {await process.StandardError.ReadToEndAsync()}");
    }

    private static void Interrupt(Process process)
    {
        using var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(100);
        }
    }
}
