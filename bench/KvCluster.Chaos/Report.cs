using System.Globalization;
using KvCluster.Testing.Linearizability;

namespace KvCluster.Chaos;

/// <summary>The run's summary: operations, outcomes, faults, time from each fault to the first successful write, the verdict.</summary>
internal static class Report
{
    public static void Print(
        TextWriter output,
        ChaosSettings settings,
        History<KvInput, KvOutput> history,
        OutcomeCounters counters,
        IReadOnlyList<FaultRecord> faults,
        IReadOnlyList<ChaosClient> clients,
        CheckResult<KvInput, KvOutput> result,
        bool recovered)
    {
        var ops = history.Operations;
        output.WriteLine("---- chaos summary ----");
        output.WriteLine(Invariant($"node flags:        {settings.NodeArgs} --sync full; client request timeout {settings.RequestTimeout.TotalMilliseconds:0} ms; {(settings.SerializableReads ? "SERIALIZABLE reads (not linearizable)" : "linearizable reads")}"));
        output.WriteLine(Invariant($"operations:        {ops.Count} ({ops.Count(o => o.Input.Kind == KvOperationKind.Get)} get, {ops.Count(o => o.Input.Kind == KvOperationKind.Put)} put, {ops.Count(o => o.Input.Kind == KvOperationKind.Cas)} cas, {ops.Count(o => o.Input.Kind == KvOperationKind.Delete)} delete) by {settings.Clients} clients on {settings.Keys} keys"));
        output.WriteLine(Invariant($"outcomes:          {counters.Ok} ok, {counters.Fail} failed without effect, {counters.Info} indeterminate, {counters.Unexpected} unexpected"));
        output.WriteLine(Invariant($"faults injected:   {faults.Count} ({string.Join(", ", Enum.GetValues<FaultKind>().Select(k => $"{faults.Count(f => f.Kind == k)} {k.ToString().ToLowerInvariant()}"))}), each held {settings.Hold.TotalSeconds:0.#} s"));
        var writes = clients.SelectMany(c => c.OkWrites).OrderBy(w => w.Return).ToArray();
        output.WriteLine("time from fault to the first successful write invoked after it (s):");
        foreach (var group in faults.GroupBy(f => (f.Kind, f.WasLeader)).OrderBy(g => g.Key.Kind).ThenByDescending(g => g.Key.WasLeader))
        {
            var times = group.Select(f => FirstWriteAfter(writes, f.Injected)).ToArray();
            var measured = times.Where(t => t is not null).Select(t => t!.Value).Order().ToArray();
            var target = group.Key.WasLeader ? "leader" : "follower";
            output.WriteLine(measured.Length == 0
                ? Invariant($"  {group.Key.Kind.ToString().ToLowerInvariant(),-9} {target,-8} n={times.Length}: no successful write afterwards")
                : Invariant($"  {group.Key.Kind.ToString().ToLowerInvariant(),-9} {target,-8} n={times.Length}: min {measured[0]:F2}  median {measured[measured.Length / 2]:F2}  max {measured[^1]:F2}{(measured.Length < times.Length ? $" ({times.Length - measured.Length} without a write)" : string.Empty)}"));
        }

        output.WriteLine("time from a fault on the leader to another node reporting itself leader (raft status over pbm, polled every 50 ms) (s):");
        foreach (var group in faults.Where(f => f.WasLeader).GroupBy(f => f.Kind).OrderBy(g => g.Key))
        {
            var measured = group.Where(f => f.NewLeader is not null).Select(f => Program.Seconds(f.Injected, f.NewLeader!.Value)).Order().ToArray();
            var missing = group.Count() - measured.Length;
            output.WriteLine(measured.Length == 0
                ? Invariant($"  {group.Key.ToString().ToLowerInvariant(),-9} n={group.Count()}: no new leader within the hold time")
                : Invariant($"  {group.Key.ToString().ToLowerInvariant(),-9} n={group.Count()}: min {measured[0]:F2}  median {measured[measured.Length / 2]:F2}  max {measured[^1]:F2}{(missing > 0 ? $" ({missing} without a new leader within the hold time)" : string.Empty)}"));
        }

        output.WriteLine(Invariant($"recovered:         {(recovered ? "yes" : "NO")} (a write succeeded after healing everything)"));
        output.WriteLine(Invariant($"check:             {result.Verdict}: {result.Partitions.Count} keys, {result.Steps} model steps in {result.Elapsed.TotalSeconds:F1} s (budget {settings.CheckBudget.TotalSeconds:0} s)"));
    }

    private static double? FirstWriteAfter((long Call, long Return)[] writes, long fault)
    {
        foreach (var (call, returned) in writes)
        {
            if (call >= fault)
            {
                return Program.Seconds(fault, returned);
            }
        }

        return null;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
