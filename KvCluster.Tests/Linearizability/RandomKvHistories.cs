using KvCluster.Testing.Linearizability;

namespace KvCluster.Tests.Linearizability;

/// <summary>
/// Generates KV histories from a real sequential execution: each operation takes effect at a
/// distinct instant, its call and return are drawn around that instant with random overlaps, and
/// each client runs one operation at a time. Such histories are linearizable by construction.
/// Values are unique per write; versions are a global write counter (like store revisions).
/// </summary>
internal static class RandomKvHistories
{
    public static List<Operation<KvInput, KvOutput>> Generate(int seed, int operations, int keys, int clients, double indeterminate)
    {
        var random = new Random(seed);
        var truth = new Dictionary<string, (string Value, long Version)>();
        var busyUntil = new long[clients];
        var ops = new List<Operation<KvInput, KvOutput>>(operations);
        long version = 0;
        for (long point = 100; ops.Count < operations; point += 10)
        {
            var free = Enumerable.Range(0, clients).Where(c => busyUntil[c] < point).ToList();
            if (free.Count == 0)
            {
                continue;
            }

            var client = free[random.Next(free.Count)];
            var call = Math.Max(busyUntil[client] + 1, point - random.Next(0, 60));
            var ret = point + random.Next(0, 60);
            busyUntil[client] = ret;
            var key = $"k{random.Next(keys)}";
            truth.TryGetValue(key, out var current);
            var exists = truth.ContainsKey(key);
            var id = ops.Count;
            var roll = random.Next(100);
            KvInput input;
            KvOutput output;
            var tookEffect = true;
            var isInfo = random.NextDouble() < indeterminate;
            if (isInfo)
            {
                tookEffect = random.Next(2) == 0;
            }

            if (roll < 40)
            {
                input = KvInput.Put(key, $"v{id}");
                if (tookEffect)
                {
                    truth[key] = (input.Value!, ++version);
                }

                output = KvOutput.Written(version);
            }
            else if (roll < 80)
            {
                input = KvInput.Get(key);
                output = exists ? KvOutput.Found(current.Value, current.Version) : KvOutput.NotFound;
            }
            else if (roll < 95)
            {
                var expected = random.Next(3) > 0 ? (exists ? current.Version : 0) : random.Next(1, (int)version + 2);
                input = KvInput.Cas(key, expected, $"v{id}");
                var holds = expected == 0 ? !exists : exists && current.Version == expected;
                if (holds && tookEffect)
                {
                    truth[key] = (input.Value!, ++version);
                }

                output = holds ? KvOutput.Written(version) : KvOutput.Mismatch;
            }
            else
            {
                input = KvInput.Delete(key);
                if (tookEffect)
                {
                    truth.Remove(key);
                    version++;
                }

                output = exists ? KvOutput.Written(version) : KvOutput.NotFound;
            }

            ops.Add(isInfo
                ? new(id, client, input, null, call, Operation<KvInput, KvOutput>.Infinity, OperationOutcome.Info)
                : new(id, client, input, output, call, ret, OperationOutcome.Ok));
        }

        return ops;
    }

    /// <summary>
    /// Turns one read into a stale read: a read R that returns the value of a write W0 although a
    /// later write W (W0 returned before W was called) returned before R was called. With unique
    /// values nothing can restore W0's value, so the result is surely not linearizable.
    /// Returns null when the history has no such triple.
    /// </summary>
    public static List<Operation<KvInput, KvOutput>>? InjectStaleRead(List<Operation<KvInput, KvOutput>> ops, int seed)
    {
        var random = new Random(seed);
        var writes = ops.Where(IsEffectiveWrite).ToList();
        foreach (var read in ops.Where(o => o.Outcome == OperationOutcome.Ok && o.Input.Kind == KvOperationKind.Get).OrderBy(_ => random.Next()))
        {
            // Prefer the most recent candidates: the subtlest staleness is one write behind.
            var later = writes.Where(w => w.Input.Key == read.Input.Key && w.Return < read.Call).OrderByDescending(w => w.Return).ToList();
            foreach (var w in later)
            {
                var earlier = writes.Where(w0 => w0.Input.Key == read.Input.Key && w0.Return < w.Call).MaxBy(w0 => w0.Return);
                if (earlier is null)
                {
                    continue;
                }

                var stale = read with { Output = KvOutput.Found(earlier.Input.Value!, earlier.Output!.Version) };
                return ops.Select(o => o.Id == read.Id ? stale : o).ToList();
            }
        }

        return null;
    }

    private static bool IsEffectiveWrite(Operation<KvInput, KvOutput> op) =>
        op.Outcome == OperationOutcome.Ok && op.Output!.Ok && op.Input.Kind is KvOperationKind.Put or KvOperationKind.Cas;
}
