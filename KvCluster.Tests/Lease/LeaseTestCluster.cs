using KvCluster.Tests.Node;

namespace KvCluster.Tests.Lease;

/// <summary>
/// Three in-process nodes with their client ports, on a slower Raft clock than the default test cluster (tick 50 ms,
/// election 0.5-1 s) so a loaded machine does not depose leaders under the lease specs; minimum lease TTL 1 s.
/// </summary>
internal static class LeaseTestCluster
{
    private const int TickMs = 50;
    private const int ElectionTicksMax = 20;

    /// <summary>How long a new leader extends every lease before it expires any: one longest election timeout.</summary>
    public static TimeSpan PromotionExtension { get; } = TimeSpan.FromMilliseconds(TickMs * ElectionTicksMax);

    /// <summary>Starts the nodes and waits for a leader.</summary>
    public static async Task<KvTestCluster> StartAsync()
    {
        var cluster = await KvTestCluster.StartAsync(3, clientPort: true, tune: o => o with { TickMs = TickMs, ElectionTicksMin = 10, ElectionTicksMax = ElectionTicksMax });
        try
        {
            await cluster.AwaitLeaderAsync();
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }
}
