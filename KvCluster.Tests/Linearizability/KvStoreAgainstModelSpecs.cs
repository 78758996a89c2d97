using System.Text;
using Google.Protobuf;
using KvCluster.Testing.Linearizability;
using KvCluster.Node.Kv;
using KvCluster.Client.Protocol;

namespace KvCluster.Tests.Linearizability;

/// <summary>
/// Drives the real <see cref="KvStateMachine"/> with overlapping client operations (each takes
/// effect at its apply instant, inside its call/return interval) and checks the recorded history
/// against <see cref="KvModel"/>: the model and the store must agree on versions and CAS semantics.
/// </summary>
public sealed class KvStoreAgainstModelSpecs
{
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void Check_HistoryOfRealStateMachine_IsLinearizable(int seed)
    {
        var ops = RunAgainstStore(seed, operations: 400, out _);

        var result = LinearizabilityChecker.Check(KvModel.Instance, new History<KvInput, KvOutput>(ops));

        Assert.True(result.IsLinearizable, $"seed {seed}: {result.Explanation}");
    }

    [Fact]
    public void Check_RealStateMachineWithOneResultCorrupted_IsNotLinearizable()
    {
        var ops = RunAgainstStore(seed: 14, operations: 400, out _);
        // A successful CAS whose (unique) value a read later returned, reported as a mismatch: then
        // nothing wrote the value that read saw.
        var victim = ops.Last(o => o.Input.Kind == KvOperationKind.Cas && o.Output!.Ok
            && ops.Any(p => p.Input.Kind == KvOperationKind.Get && p.Output!.Value == o.Input.Value));
        var corrupted = ops.Select(o => o.Id == victim.Id ? o with { Output = KvOutput.Mismatch } : o).ToList();

        var result = LinearizabilityChecker.Check(KvModel.Instance, new History<KvInput, KvOutput>(corrupted));

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Equal(victim.Input.Key, result.OffendingPartition!.Key);
    }

    private static List<Operation<KvInput, KvOutput>> RunAgainstStore(int seed, int operations, out KvStateMachine store)
    {
        var random = new Random(seed);
        store = new KvStateMachine();
        var lastSeen = new Dictionary<string, long>();
        var busyUntil = new long[5];
        var ops = new List<Operation<KvInput, KvOutput>>();
        long index = 0;
        for (long point = 100; ops.Count < operations; point += 10)
        {
            var client = random.Next(busyUntil.Length);
            if (busyUntil[client] >= point)
            {
                continue;
            }

            var call = Math.Max(busyUntil[client] + 1, point - random.Next(0, 40));
            var ret = point + random.Next(0, 40);
            busyUntil[client] = ret;
            var key = $"k{random.Next(3)}";
            var id = ops.Count;
            var input = random.Next(10) switch
            {
                < 3 => KvInput.Put(key, $"v{id}"),
                < 6 => KvInput.Get(key),
                < 9 => KvInput.Cas(key, random.Next(4) == 0 ? 0 : lastSeen.GetValueOrDefault(key), $"v{id}"),
                _ => KvInput.Delete(key),
            };
            var result = store.Apply(++index, ToCommand(input));
            var output = ToOutput(input, result);
            if (output.Version > 0)
            {
                lastSeen[key] = output.Version;
            }

            ops.Add(new(id, client, input, output, call, ret, OperationOutcome.Ok));
        }

        return ops;
    }

    private static KvCommand ToCommand(KvInput input)
    {
        var key = ByteString.CopyFromUtf8(input.Key);
        return input.Kind switch
        {
            KvOperationKind.Put => new KvCommand { Put = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(input.Value) } },
            KvOperationKind.Cas => new KvCommand
            {
                Put = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(input.Value), ExpectedVersion = input.ExpectedVersion },
            },
            KvOperationKind.Get => new KvCommand { Get = new GetRequest { Key = key } },
            _ => new KvCommand { Delete = new DeleteRequest { Key = key } },
        };
    }

    private static KvOutput ToOutput(KvInput input, KvResult result) => (input.Kind, result.Status) switch
    {
        (KvOperationKind.Get, KvStatus.Ok) => KvOutput.Found(Encoding.UTF8.GetString(result.Get.Kv.Value.Span), result.Get.Kv.ModIndex),
        (KvOperationKind.Put or KvOperationKind.Cas, KvStatus.Ok) => KvOutput.Written(result.Put.Current.ModIndex),
        (KvOperationKind.Cas, KvStatus.VersionMismatch) => KvOutput.Mismatch,
        (KvOperationKind.Delete, KvStatus.Ok) => KvOutput.Written(result.Revision),
        (KvOperationKind.Get or KvOperationKind.Delete, KvStatus.NotFound) => KvOutput.NotFound,
        _ => throw new InvalidOperationException($"Unexpected {result.Status} for {input}: {result.Error}"),
    };
}
