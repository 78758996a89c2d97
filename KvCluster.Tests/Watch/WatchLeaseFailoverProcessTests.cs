using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Tests.Lease;
using KvCluster.Tests.Snapshots;

namespace KvCluster.Tests.Watch;

/// <summary>
/// Issue 16's failover spec on three real node processes (<c>dotnet KvCluster.Node.dll</c>, fsync on) with Debian's
/// etcdctl 3.4 as the client: the leader is killed with SIGKILL while an etcdctl watch on it and an etcdctl lease
/// keep-alive are open. The watch resumes from its last revision + 1 on the other nodes and, across the resume, sees
/// every revision of a concurrent writer exactly once and in order; the lease's key survives and the keep-alives go on
/// being answered under the new leader's term (etcd's keep-alive header: term, revision, ids).
/// </summary>
[Trait("Category", "Integration")]
public sealed class WatchLeaseFailoverProcessTests : IAsyncLifetime
{
    private const int Ttl = 5;
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(90);

    private SnapshotNodeProcesses _cluster = null!;

    public Task InitializeAsync()
    {
        _cluster = SnapshotNodeProcesses.Start(3);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task LeaderSigkill_EtcdctlWatchResumesOnAnotherNode_EveryRevisionOnce_AndTheKeptAliveLeaseSurvives()
    {
        await _cluster.AwaitLeaderAsync();
        var nodes = Enumerable.Range(0, 3).ToArray();
        var all = string.Join(',', nodes.Select(_cluster.ClientEndpoint));

        // A lease kept alive by etcdctl through any of the three nodes, with a key attached.
        var everywhere = new EtcdctlRunner(all);
        var id = EtcdctlRunner.LeaseIdOf(await everywhere.OkAsync("lease", "grant", Ttl.ToString(CultureInfo.InvariantCulture)));
        await everywhere.OkAsync("put", "--lease=" + id, "owner", "alive");
        using var keeper = new EtcdctlLines(all, "lease", "keep-alive", "-w", "json", id);
        var before = await NextKeepAliveAsync(keeper);
        Assert.Equal(Ttl, before.Ttl);
        Assert.True(before.Revision > 1, $"keep-alive header revision {before.Revision}");
        Assert.NotEqual(0UL, before.ClusterId);
        Assert.NotEqual(0UL, before.MemberId);

        // A concurrent writer (through any node), and an etcdctl watch on the leader from the writer's first revision.
        using var stopWriting = new CancellationTokenSource();
        var acknowledged = new ConcurrentQueue<long>();
        var start = await FirstPutAsync();
        var writer = WriteUntilAsync(nodes, acknowledged, stopWriting.Token);
        var seen = new List<long>();
        int leader;
        ulong killedTerm = 0;
        while (true)
        {
            // On a loaded machine leadership may move while the watch runs: then the watch moves to the new leader
            // (from its last revision + 1, a resume too) until the node it watches on still leads when it is killed.
            leader = await _cluster.AwaitLeaderAsync();
            using var watch = new EtcdctlLines(_cluster.ClientEndpoint(leader), "watch", "--prefix", "w/", "--rev", Next(seen, start), "-w", "json");
            var deadline = DateTime.UtcNow + s_wait;
            for (var wanted = seen.Count + 30; seen.Count < wanted;)
            {
                seen.AddRange(Revisions(await watch.NextLineAsync(deadline) ?? throw new IOException($"etcdctl watch ended: {watch.Errors}")));
            }

            var status = await _cluster.TryStatusAsync(leader);
            var leads = status is not null && status.Leader == (ulong)leader + 1;
            if (leads)
            {
                killedTerm = status!.RaftTerm;
                await _cluster.KillNodeAsync(leader);
            }

            // Everything the watched node sent is printed; etcdctl (one endpoint) would retry a dead one forever: stop it.
            await watch.StopAsync();
            seen.AddRange(watch.Remaining().SelectMany(Revisions));
            if (leads)
            {
                break;
            }
        }

        var survivors = string.Join(',', nodes.Where(i => i != leader).Select(_cluster.ClientEndpoint));
        var etcdctl = new EtcdctlRunner(survivors);
        var beforeResume = seen.Count;
        var newLeader = await _cluster.AwaitLeaderAsync(leader);
        var newTerm = (await _cluster.AwaitStatusAsync(newLeader, st => st.Leader == (ulong)newLeader + 1, "its status as leader")).RaftTerm;
        Assert.True(newTerm > killedTerm, $"the new leader's term {newTerm} is not above the killed leader's {killedTerm}");
        await WaitUntilAsync(() => acknowledged.Count >= 80, "the writer to go on after the kill");

        // The lease: its keep-alives are answered in the new term, and its key outlives several TTLs after the kill.
        var renewedUntil = DateTime.UtcNow.AddSeconds(3 * Ttl);
        var renewedInNewTerm = 0;
        while (DateTime.UtcNow < renewedUntil || renewedInNewTerm < 2)
        {
            var renewal = await NextKeepAliveAsync(keeper);
            Assert.Equal(Ttl, renewal.Ttl);
            if (renewal.Term >= newTerm)
            {
                renewedInNewTerm++;
            }

            Assert.Equal("owner\nalive\n", await etcdctl.OkAsync("get", "owner"));
        }

        var timeToLive = await etcdctl.OkAsync("lease", "timetolive", id);
        Assert.Matches($@"^lease {id} granted with TTL\({Ttl}s\), remaining\([1-{Ttl}]s\)\n$", timeToLive);

        await stopWriting.CancelAsync();
        await writer;
        var target = acknowledged.Max();

        // The watch resumes from its last revision + 1 on the surviving nodes (etcdctl's own failover between them); if
        // etcdctl gives up (a node without a leader for a moment), it is started again from where it stopped.
        while (seen[^1] < target)
        {
            using var resumed = new EtcdctlLines(survivors, "watch", "--prefix", "w/", "--rev", Next(seen, start), "-w", "json");
            var deadline = DateTime.UtcNow + s_wait;
            while (seen[^1] < target && await resumed.NextLineAsync(deadline) is { } line)
            {
                seen.AddRange(Revisions(line));
            }

            await resumed.StopAsync();
            seen.AddRange(resumed.Remaining().SelectMany(Revisions));
        }

        // Only the writer writes under w/ after its first put: every revision from there, once each, in order.
        Assert.True(seen.Count > beforeResume, "the resumed watch saw nothing");
        Assert.Equal(Enumerable.Range(0, seen.Count).Select(i => start + i), seen);
        Assert.Superset(acknowledged.ToHashSet(), seen.ToHashSet());
        Assert.Equal("owner\nalive\n", await etcdctl.OkAsync("get", "owner"));
    }

    /// <summary>The revision a watch resumes from: the last one seen + 1 (<paramref name="start"/> before any).</summary>
    private static string Next(List<long> seen, long start) => (seen.Count == 0 ? start : seen[^1] + 1).ToString(CultureInfo.InvariantCulture);

    /// <summary>The writer's first put (its revision), tried again while the cluster answers Unavailable.</summary>
    private async Task<long> FirstPutAsync()
    {
        var deadline = DateTime.UtcNow + s_wait;
        for (var node = 0; ; node = (node + 1) % 3)
        {
            try
            {
                return (await new KV.KVClient(_cluster.Channel(node)).PutAsync(
                    new PutRequest { Key = ByteString.CopyFromUtf8("w/start"), Value = ByteString.CopyFromUtf8("0") }, SnapshotNodeProcesses.Call(30))).Header.Revision;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>The mod revisions of the events in one line of <c>etcdctl watch -w json</c>.</summary>
    private static IEnumerable<long> Revisions(string line)
    {
        using var json = JsonDocument.Parse(line);
        if (!json.RootElement.TryGetProperty("Events", out var events) || events.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return events.EnumerateArray().Select(e => EtcdctlLines.Find(e, "mod_revision")!.Value.GetInt64()).ToList();
    }

    /// <summary>One keep-alive answer as <c>etcdctl lease keep-alive -w json</c> prints it.</summary>
    private static async Task<KeepAlive> NextKeepAliveAsync(EtcdctlLines keeper)
    {
        var line = await keeper.NextLineAsync(DateTime.UtcNow + s_wait) ?? throw new IOException($"etcdctl lease keep-alive ended: {keeper.Errors}");
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        long Number(string name) => EtcdctlLines.Find(root, name) is { } value ? value.GetInt64() : 0;
        ulong Id(string name) => EtcdctlLines.Find(root, name) is { } value ? value.GetUInt64() : 0;
        return new KeepAlive(Number("TTL") is var ttl and not 0 ? ttl : Number("ttl"), Number("revision"), Id("raft_term"), Id("cluster_id"), Id("member_id"));
    }

    /// <summary>Puts under w/ through the given nodes until cancelled, recording acknowledged revisions; failures are retried on the next node.</summary>
    private async Task WriteUntilAsync(int[] through, ConcurrentQueue<long> acknowledged, CancellationToken stop)
    {
        var clients = through.Select(i => new KV.KVClient(_cluster.Channel(i))).ToArray();
        var node = 0;
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            try
            {
                var put = await clients[node].PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"w/{i % 5}"), Value = ByteString.CopyFromUtf8($"{i}") }, SnapshotNodeProcesses.Call(5));
                acknowledged.Enqueue(put.Header.Revision);
            }
            catch (RpcException)
            {
                // No leader for a moment (the kill): try the other node.
                node = (node + 1) % clients.Length;
                await Task.Delay(50, CancellationToken.None);
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }

    private sealed record KeepAlive(long Ttl, long Revision, ulong Term, ulong ClusterId, ulong MemberId);
}
