using KvCluster.Tests.Node;

namespace KvCluster.Tests.Lease;

/// <summary>
/// Three in-process nodes with their client ports, on a slower Raft clock than the default test cluster (tick 50 ms,
/// election 0.5-1 s) so a loaded machine does not depose leaders under the lease specs; minimum lease TTL 1 s.
/// </summary>
internal static class LeaseTestCluster
{
    /// <summary>Starts the nodes and waits for a leader.</summary>
    public static async Task<KvTestCluster> StartAsync()
    {
        var cluster = await KvTestCluster.StartAsync(3, clientPort: true, tune: o => o with { TickMs = 50, ElectionTicksMin = 10, ElectionTicksMax = 20 });
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
