using KvCluster.Testing.Linearizability;
using KvCluster.Testing.MultiNode;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>Waits and end-of-spec checks of the KV cluster specs. Every wait is bounded and fails saying what it waited for.</summary>
internal static class KvClusterChecks
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    public static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Waits until exactly one of <paramref name="among"/> leads and all of them follow it in its term.</summary>
    public static async Task<(RoleName Role, RaftStatus Status)> AwaitLeaderAsync(MultiNodeSpec<IKvNode> spec, IEnumerable<RoleName>? among = null)
    {
        var group = (among ?? spec.Roles).ToArray();
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var statuses = await StatusesAsync(spec, group);
            var leaders = statuses.Where(s => s.Status?.Role == RaftRole.Leader).ToArray();
            if (leaders.Length == 1 && statuses.All(s => s.Status is { } st && st.Leader == leaders[0].Status!.NodeId && st.Term == leaders[0].Status!.Term))
            {
                return (leaders[0].Role, leaders[0].Status!);
            }

            Assert.True(DateTime.UtcNow < deadline, $"no leader among {string.Join(", ", group)} within {Wait.TotalSeconds} s: {Describe(statuses)}");
            await Task.Delay(20);
        }
    }

    /// <summary>Waits until <paramref name="predicate"/> holds for <paramref name="role"/>'s status.</summary>
    public static async Task<RaftStatus> AwaitStatusAsync(MultiNodeSpec<IKvNode> spec, RoleName role, Func<RaftStatus, bool> predicate, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        RaftStatus? last = null;
        while (true)
        {
            if (spec.NodeOrNull(role) is { } node && await node.StatusAsync(StatusTimeout) is { } status)
            {
                last = status;
                if (predicate(status))
                {
                    return status;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"{role}: timed out waiting until {what}; last status {Describe(last)}");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Waits until every running node of <paramref name="roles"/> has applied the same index, equal to the commit
    /// index they all report (the cluster is quiet and caught up), then checks their state machines agree on every key
    /// of <paramref name="keys"/>.
    /// </summary>
    public static async Task AwaitConvergedAsync(MultiNodeSpec<IKvNode> spec, IEnumerable<string> keys, IEnumerable<RoleName>? roles = null)
    {
        var group = (roles ?? spec.Roles).ToArray();
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var statuses = await StatusesAsync(spec, group);
            var applied = statuses.Select(s => s.Status?.Applied ?? -1).Distinct().ToArray();
            if (statuses.All(s => s.Status is { } st && st.Commit == st.Applied) && applied.Length == 1 && applied[0] > 0)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"nodes {string.Join(", ", group)} did not converge within {Wait.TotalSeconds} s: {Describe(statuses)}");
            await Task.Delay(20);
        }

        foreach (var key in keys)
        {
            var values = new List<string>();
            foreach (var role in group)
            {
                var result = await spec.Node(role).LocalGetAsync(key);
                values.Add($"{role}={Show(result)}");
            }

            Assert.True(values.Select(v => v[(v.IndexOf('=') + 1)..]).Distinct().Count() == 1, $"state machines differ on key {key}: {string.Join("; ", values)}");
        }
    }

    /// <summary>
    /// Every write the history acknowledged under a key of its own (written once) is read back with its value through
    /// <paramref name="client"/>; every write recorded as failed is absent. Returns the number of acknowledged writes.
    /// </summary>
    public static async Task<int> AssertUniqueWritesIntactAsync(KvClusterClient client, History<KvInput, KvOutput> history, string prefix)
    {
        var writes = history.Operations.Where(o => o.Input.Kind == KvOperationKind.Put && o.Input.Key.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
        Assert.Equal(writes.Length, writes.Select(w => w.Input.Key).Distinct().Count());
        var acknowledged = 0;
        foreach (var write in writes)
        {
            var read = await client.GetAsync(write.Input.Key);
            Assert.True(read.IsOk, $"read of {write.Input.Key} was not answered");
            switch (write.Outcome)
            {
                case OperationOutcome.Ok:
                    acknowledged++;
                    Assert.True(read.Output!.Ok && read.Output.Value == write.Input.Value, $"acknowledged write {write.Input.Key}={write.Input.Value} is lost: read {read.Output}");
                    break;
                case OperationOutcome.Fail:
                    Assert.False(read.Output!.Ok, $"write {write.Input.Key} was refused, yet it is stored: {read.Output}");
                    break;
            }
        }

        return acknowledged;
    }

    /// <summary>Checks the history with the linearizability checker; on a violation saves it and fails with the explanation.</summary>
    public static void AssertLinearizable(History<KvInput, KvOutput> history, string spec)
    {
        var result = LinearizabilityChecker.Check(KvModel.Instance, history, new CheckOptions { TimeBudget = TimeSpan.FromSeconds(20) });
        if (result.Verdict == LinearizabilityVerdict.NotLinearizable)
        {
            var file = Path.Combine(Path.GetTempPath(), $"akkakv-{spec}-{DateTime.UtcNow:yyyyMMddHHmmss}.json");
            history.Save(file);
            Assert.Fail($"{spec}: the history is not linearizable (saved to {file}): {result.Explanation}");
        }

        Assert.True(result.IsLinearizable, $"{spec}: the checker could not decide within its budget: {result.Explanation}");
    }

    private static async Task<(RoleName Role, RaftStatus? Status)[]> StatusesAsync(MultiNodeSpec<IKvNode> spec, RoleName[] group) =>
        await Task.WhenAll(group.Select(async r => (r, spec.NodeOrNull(r) is { } n ? await n.StatusAsync(StatusTimeout) : null)));

    public static string Describe(IEnumerable<(RoleName Role, RaftStatus? Status)> statuses) =>
        string.Join("; ", statuses.Select(s => $"{s.Role}:{Describe(s.Status)}"));

    public static string Describe(RaftStatus? s) =>
        s is null ? "down/no answer" : $"{s.Role}/t{s.Term}/leader {s.Leader}/commit {s.Commit}/applied {s.Applied}/last {s.LastIndex}";

    private static string Show(KvResult? result) =>
        result is null ? "down" : result.Status == KvStatus.Ok ? $"{result.Get.Kv.Value.ToStringUtf8()}@{result.Get.Kv.ModIndex}" : result.Status.ToString();
}
