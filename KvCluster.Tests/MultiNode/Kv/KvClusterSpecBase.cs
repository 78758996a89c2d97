using KvCluster.Testing.Linearizability;
using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>
/// Shared set-up of the KV cluster specs: N roles <c>node1..nodeN</c>, each a <see cref="RaftKvNode"/> in its own
/// actor system over TCP with a SQLite journal (fsync on), 25 ms ticks (election timeout 250–500 ms); one history
/// recorder; a workload that mixes writes to keys of their own (checked for durability) with puts and reads of a few
/// shared keys (checked for linearizability).
/// To run the specs on another node implementation, change <see cref="Factory"/>.
/// </summary>
public abstract class KvClusterSpecBase
{
    /// <summary>The keys every client reads and writes.</summary>
    internal static readonly string[] SharedKeys = ["x", "y"];

    /// <summary>Prefix of the keys each written once.</summary>
    internal const string UniquePrefix = "w-";

    internal HistoryRecorder<KvInput, KvOutput> Recorder { get; } = new();

    internal static IMultiNodeFactory<IKvNode> Factory => new RaftKvNodeFactory();

    internal static MultiNodeSpecOptions Options { get; } = new()
    {
        BarrierTimeout = TimeSpan.FromSeconds(30),
        RunTimeout = TimeSpan.FromSeconds(90),
        StartTimeout = TimeSpan.FromSeconds(20),
    };

    internal static (MultiNodeConfig Config, RoleName[] Roles) Cluster(int size)
    {
        var config = new MultiNodeConfig();
        var roles = Enumerable.Range(1, size).Select(i => config.Role($"node{i}")).ToArray();
        config.CommonConfig(RaftKvNodeFactory.TickIntervalMs, "25")
            .CommonConfig(RaftKvNodeFactory.ElectionMinTicks, "10")
            .CommonConfig(RaftKvNodeFactory.ElectionMaxTicks, "20");
        return (config, roles);
    }

    internal static Task<MultiNodeSpec<IKvNode>> StartAsync(MultiNodeConfig config) => MultiNodeSpec<IKvNode>.StartAsync(config, Factory, Options);

    /// <summary>The client of role <paramref name="role"/> (client id = its index).</summary>
    internal KvClusterClient Client(MultiNodeSpec<IKvNode> spec, RoleName role) =>
        new(spec, Recorder, spec.Members.First(m => m.Role == role).Index);

    /// <summary>
    /// <paramref name="rounds"/> rounds of: a put under a key of its own (<c>w-tag-client-round</c>), then a put or a
    /// read of a shared key (alternating). Stops early when <paramref name="until"/> is cancelled.
    /// </summary>
    internal static async Task WorkloadAsync(KvClusterClient client, string tag, int clientId, int rounds, CancellationToken until = default, params RoleName[] via)
    {
        for (var round = 0; round < rounds && !until.IsCancellationRequested; round++)
        {
            await client.PutAsync($"{UniquePrefix}{tag}-{clientId}-{round}", $"v-{tag}-{clientId}-{round}", via);
            var shared = SharedKeys[round % SharedKeys.Length];
            if (round % 2 == 0)
            {
                await client.PutAsync(shared, $"{tag}-{clientId}-{round}", via);
            }
            else
            {
                await client.GetAsync(shared, via);
            }
        }
    }

    /// <summary>Every key the history touched.</summary>
    internal IEnumerable<string> KeysSeen() => Recorder.ToHistory().Operations.Select(o => o.Input.Key).Distinct();
}
