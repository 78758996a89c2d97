using System.Diagnostics;
using System.Text.Json;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Lease;

/// <summary>
/// Leases on a real three-node AkkaKv (in this process, real TCP) driven by Debian's etcdctl 3.4, unmodified: grant,
/// put with a lease, revoke, expiry, time-to-live, list, keep-alive through a follower, and a leader crash while a
/// lease is kept alive.
/// </summary>
[Trait("Category", "Integration")]
[Collection(KvCluster.Tests.Client.TimingCollection.Name)] // it bounds expiry in wall time: alone, as the client timing specs (CI e7e302b, a1b0681)
public sealed class LeaseEtcdctlTests : IAsyncLifetime
{
    private KvTestCluster _cluster = null!;
    private EtcdctlRunner _etcdctl = null!;

    public async Task InitializeAsync()
    {
        _cluster = await LeaseTestCluster.StartAsync();
        _etcdctl = new EtcdctlRunner(HostPort(0));
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private string HostPort(int index) => $"127.0.0.1:{_cluster.Options[index].ClientPort}";

    [Fact]
    public async Task GrantPutRevoke_RemovesTheKey_WithEtcdctlsOutput()
    {
        var id = EtcdctlRunner.LeaseIdOf(await _etcdctl.OkAsync("lease", "grant", "100"));

        Assert.Equal("OK\n", await _etcdctl.OkAsync("put", "--lease=" + id, "session/a", "1"));
        Assert.Equal("OK\n", await _etcdctl.OkAsync("put", "--lease=" + id, "session/b", "2"));
        Assert.Equal("session/a\n1\nsession/b\n2\n", await _etcdctl.OkAsync("get", "session/", "--prefix"));
        Assert.Matches($"^lease {id} granted with TTL\\(100s\\), remaining\\(\\d+s\\), attached keys\\(\\[session/a session/b\\]\\)\n$",
            await _etcdctl.OkAsync("lease", "timetolive", id, "--keys"));
        Assert.Contains(id, await _etcdctl.OkAsync("lease", "list"));

        Assert.Equal($"lease {id} revoked\n", await _etcdctl.OkAsync("lease", "revoke", id));

        Assert.Equal(string.Empty, await _etcdctl.OkAsync("get", "session/", "--prefix"));
        Assert.Equal($"lease {id} already expired\n", await _etcdctl.OkAsync("lease", "timetolive", id));
        var again = await _etcdctl.RunAsync(TimeSpan.FromSeconds(40), "lease", "revoke", id);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("requested lease not found", again.Error);
    }

    [Fact]
    public async Task PutWithAnUnknownLease_IsRefusedWithEtcdsError()
    {
        var result = await _etcdctl.RunAsync(TimeSpan.FromSeconds(40), "put", "--lease=1234abcd", "k", "v");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("requested lease not found", result.Error);
        Assert.Equal(string.Empty, await _etcdctl.OkAsync("get", "k"));
    }

    [Fact]
    public async Task AKeyWhoseLeaseIsNotKeptAlive_IsGoneByTtlPlusOneSecond()
    {
        var termAtGrant = await LeaderTermAsync();
        using var grant = JsonDocument.Parse(await _etcdctl.OkAsync("lease", "grant", "2", "-w", "json"));
        var granted = DateTime.UtcNow;
        var ttl = grant.RootElement.GetProperty("TTL").GetInt64();
        var id = grant.RootElement.GetProperty("ID").GetInt64().ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
        await _etcdctl.OkAsync("put", "--lease=" + id, "ephemeral", "1");

        // Assert "gone by TTL + 1 s" from the grant's answer (the lessor's clock started before it): poll up to that deadline.
        var deadline = granted + TimeSpan.FromSeconds(ttl + 1);
        var gone = await GoneByAsync("ephemeral", deadline);
        if (!gone)
        {
            // A leader elected meanwhile extends every lease by one election timeout before it expires any (issue 16:
            // a leader change never expires a lease that was kept alive), counted from its election; and while there
            // is no leader (up to one longest election timeout before a follower campaigns) nothing expires either. So
            // the bound moves by two longest election timeouts per election; and the new leader's lessor sees that it
            // leads and reads the lease table only at its next checks (100 ms each, slower on a loaded machine: CI
            // a1b0681), so one more election timeout per election. Without an election the bound stands.
            var termAfter = await LeaderTermAsync();
            Assert.True(termAfter != termAtGrant,
                $"the key of lease {id} (TTL {ttl}s) was still there {ttl + 1} s after the grant, with no election (term {termAtGrant})");
            var elections = termAfter - termAtGrant;
            gone = await GoneByAsync("ephemeral", deadline + (elections * 3 * LeaseTestCluster.PromotionExtension));
            Assert.True(gone,
                $"the key of lease {id} (TTL {ttl}s) was still there {ttl + 1} s after the grant plus three election timeouts for each of {elections} election(s) (term {termAtGrant} -> {termAfter})");
        }

        Assert.Equal($"lease {id} already expired\n", await _etcdctl.OkAsync("lease", "timetolive", id));
    }

    private async Task<bool> GoneByAsync(string key, DateTime deadline)
    {
        while (DateTime.UtcNow < deadline)
        {
            if (await CountAsync(key) == 0)
            {
                return true;
            }

            await Task.Delay(50);
        }

        return await CountAsync(key) == 0;
    }

    /// <summary>The Raft term node 0 reports (etcdctl endpoint status): it moves with every election.</summary>
    private async Task<long> LeaderTermAsync()
    {
        using var doc = JsonDocument.Parse(await _etcdctl.OkAsync("endpoint", "status", "-w", "json"));
        return doc.RootElement[0].GetProperty("Status").GetProperty("raftTerm").GetInt64();
    }

    [Fact]
    public async Task KeepAlive_ThroughAFollower_KeepsTheLeaseBeyondItsTtl_AndOnceReportsTheTtl()
    {
        var leader = await _cluster.AwaitLeaderAsync();
        var follower = new EtcdctlRunner(HostPort(Enumerable.Range(0, 3).First(i => i != leader)));
        var id = EtcdctlRunner.LeaseIdOf(await follower.OkAsync("lease", "grant", "2"));
        await follower.OkAsync("put", "--lease=" + id, "alive", "1");

        Assert.Equal($"lease {id} keepalived with TTL(2)\n", await follower.OkAsync("lease", "keep-alive", "--once", id));
        using var keeper = follower.Start("lease", "keep-alive", id);
        try
        {
            // Three TTLs pass while the follower forwards the keep-alives to the leader's lessor.
            var until = DateTime.UtcNow.AddSeconds(6);
            while (DateTime.UtcNow < until)
            {
                Assert.Equal(1, await CountAsync("alive"));
                await Task.Delay(500);
            }
        }
        finally
        {
            keeper.Kill();
        }
    }

    [Fact]
    public async Task LeaderCrash_WhileALeaseIsKeptAlive_TheLeaseSurvives()
    {
        var leader = await _cluster.AwaitLeaderAsync();
        var followers = Enumerable.Range(0, 3).Where(i => i != leader).ToArray();
        var viaFollowers = new EtcdctlRunner(string.Join(',', followers.Select(HostPort)));
        var id = EtcdctlRunner.LeaseIdOf(await viaFollowers.OkAsync("lease", "grant", "3"));
        await viaFollowers.OkAsync("put", "--lease=" + id, "survivor", "1");
        using var keeper = viaFollowers.Start("lease", "keep-alive", id);
        try
        {
            await WaitForKeepAliveAsync(keeper, id);
            await _cluster.KillNodeAsync(leader);
            var newLeader = await _cluster.AwaitLeaderAsync();
            Assert.NotEqual(leader, newLeader);

            // Three TTLs after the crash the key is still there: the new leader extended the lease and the keep-alives reach it.
            var until = DateTime.UtcNow.AddSeconds(9);
            while (DateTime.UtcNow < until)
            {
                Assert.Equal(1, await CountAsync("survivor", followers[0]));
                await Task.Delay(500);
            }

            Assert.Matches($"^lease {id} granted with TTL\\(3s\\), remaining\\([0-3]s\\)\n$", await viaFollowers.OkAsync("lease", "timetolive", id));
        }
        finally
        {
            keeper.Kill();
        }
    }

    [Fact]
    public async Task DotnetEtcd_GrantPutKeepAliveTimeToLiveRevoke_OnAFollower()
    {
        var leader = await _cluster.AwaitLeaderAsync();
        using var client = new dotnet_etcd.EtcdClient(_cluster.Url(Enumerable.Range(0, 3).First(i => i != leader)));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var grant = await client.LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = 2 }, deadline: deadline);
        await client.PutAsync(new Etcdserverpb.PutRequest
        {
            Key = Google.Protobuf.ByteString.CopyFromUtf8("dotnet/a"),
            Value = Google.Protobuf.ByteString.CopyFromUtf8("1"),
            Lease = grant.ID,
        }, deadline: deadline);
        using (var keeping = new CancellationTokenSource())
        {
            var keepAlive = client.LeaseKeepAlive(grant.ID, keeping.Token);

            // Three TTLs with dotnet-etcd's keep-alive loop running: the key stays.
            var until = DateTime.UtcNow.AddSeconds(6);
            while (DateTime.UtcNow < until)
            {
                Assert.Equal(1, (await client.GetAsync("dotnet/a", deadline: DateTime.UtcNow.AddSeconds(20))).Count);
                await Task.Delay(500);
            }

            var ttl = await client.LeaseTimeToLiveAsync(new Etcdserverpb.LeaseTimeToLiveRequest { ID = grant.ID, Keys = true }, deadline: DateTime.UtcNow.AddSeconds(20));
            Assert.Equal(2, ttl.GrantedTTL);
            Assert.InRange(ttl.TTL, 0, 2);
            Assert.Equal("dotnet/a", Assert.Single(ttl.Keys).ToStringUtf8());
            await keeping.CancelAsync();
            await Task.WhenAny(keepAlive, Task.Delay(TimeSpan.FromSeconds(10)));
        }

        await client.LeaseRevokeAsync(new Etcdserverpb.LeaseRevokeRequest { ID = grant.ID }, deadline: DateTime.UtcNow.AddSeconds(20));
        Assert.Equal(0, (await client.GetAsync("dotnet/a", deadline: DateTime.UtcNow.AddSeconds(20))).Count);
        var missing = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() =>
            client.LeaseRevokeAsync(new Etcdserverpb.LeaseRevokeRequest { ID = grant.ID }, deadline: DateTime.UtcNow.AddSeconds(20)));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task KvCli_LeaseAndLockWithACommand_AgainstAkkaKv()
    {
        var endpoints = string.Join(',', Enumerable.Range(0, 3).Select(HostPort));
        var grant = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(endpoints, null, "lease", "grant", "30");
        var id = EtcdctlRunner.LeaseIdOf(grant.Out);
        Assert.Equal(0, (await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(endpoints, null, "put", "--lease", id, "kvcli/a", "1")).Code);
        Assert.Contains("attached keys([kvcli/a])", (await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(endpoints, null, "lease", "timetolive", id, "--keys")).Out);

        var locked = await KvCluster.Client.Cli.KvCli.RunAsync(
            ["--endpoints", endpoints, "lock", "kvcli-mutex", "--", "sh", "-c", "test -n \"$ETCD_LOCK_KEY\" && exit 7"],
            new KvCluster.Client.Cli.KvConsole { Out = new StringWriter(), Error = new StringWriter(), GetEnvironmentVariable = _ => null });

        Assert.Equal(7, locked);
        Assert.Equal($"lease {id} revoked\n", (await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(endpoints, null, "lease", "revoke", id)).Out);
        Assert.Equal(string.Empty, await _etcdctl.OkAsync("get", "kvcli", "--prefix"));
    }

    private static async Task WaitForKeepAliveAsync(Process keeper, string id)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var line = await keeper.StandardOutput.ReadLineAsync(cancel.Token);
        Assert.Equal($"lease {id} keepalived with TTL(3)", line);
    }

    private async Task<long> CountAsync(string key, int node = 0)
    {
        var runner = node == 0 ? _etcdctl : new EtcdctlRunner(HostPort(node));
        using var doc = JsonDocument.Parse(await runner.OkAsync("get", key, "-w", "json"));
        return doc.RootElement.TryGetProperty("count", out var count) ? count.GetInt64() : 0;
    }
}
