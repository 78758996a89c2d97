using System.Collections.Concurrent;

namespace KvCluster.Tests.Raft.Simulation;

/// <summary>
/// Randomized, seeded simulations of the Raft core (see <see cref="RaftSimulation"/>). A failure prints the seed and
/// the command that replays it: <c>RAFT_SIM_SEED=123 ./scripts/test.sh --filter RaftSimulation</c>.
/// <c>RAFT_SIM_SEEDS=5000</c> runs more seeds than CI does.
/// </summary>
public sealed class RaftSimulationTests
{
    private const int Steps = 1000;
    private const int LivenessTicks = 400;

    [Fact]
    public void RaftSimulation_ThreeNodesUnderFaults_SafeAndLive() => RunSeeds(nodeCount: 3, firstSeed: 1, defaultSeeds: 300);

    [Fact]
    public void RaftSimulation_FiveNodesUnderFaults_SafeAndLive() => RunSeeds(nodeCount: 5, firstSeed: 100_001, defaultSeeds: 200);

    /// <summary>Three founders and two spares; the leader adds, promotes and removes servers one at a time while
    /// the network and nodes fail (Raft thesis §4.1–§4.2.3).</summary>
    [Fact]
    public void RaftSimulation_MembershipChangesUnderFaults_SafeAndLive() =>
        RunSeeds(nodeCount: 3, firstSeed: 200_001, defaultSeeds: 200, spareCount: 2);

    private static void RunSeeds(int nodeCount, int firstSeed, int defaultSeeds, int spareCount = 0)
    {
        IEnumerable<int> seeds;
        if (int.TryParse(Environment.GetEnvironmentVariable("RAFT_SIM_SEED"), out var only))
        {
            seeds = [only];
        }
        else
        {
            var count = int.TryParse(Environment.GetEnvironmentVariable("RAFT_SIM_SEEDS"), out var n) ? n : defaultSeeds;
            seeds = Enumerable.Range(firstSeed, count);
        }

        var failures = new ConcurrentBag<(int Seed, string Report)>();
        var changes = 0L;
        var runs = 0L;
        var installed = 0L;
        var taken = 0L;
        Parallel.ForEach(seeds, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, seed =>
        {
            var sim = new RaftSimulation(seed, nodeCount, spareCount);
            try
            {
                sim.Run(Steps);
                sim.CheckLiveness(LivenessTicks);
                Interlocked.Add(ref changes, sim.ChangesAccepted);
                Interlocked.Add(ref taken, sim.SnapshotsTaken);
                Interlocked.Add(ref installed, sim.SnapshotsInstalled);
                Interlocked.Increment(ref runs);
                if (Environment.GetEnvironmentVariable("RAFT_SIM_VERBOSE") == "1")
                {
                    Console.WriteLine($"seed {seed}: {sim.Summary}");
                }
            }
            catch (Exception ex)
            {
                var what = ex is SafetyViolationException ? ex.Message : ex.ToString();
                failures.Add((seed, $"{what}{Environment.NewLine}{sim.Describe}{Environment.NewLine}last events:{Environment.NewLine}{sim.Trace}"));
            }
        });

        if (!failures.IsEmpty)
        {
            var first = failures.OrderBy(f => f.Seed).First();
            Assert.Fail(
                $"Raft simulation failed for {failures.Count} seed(s) ({nodeCount} nodes): {string.Join(", ", failures.Select(f => f.Seed).Order().Take(20))}." +
                $"{Environment.NewLine}Replay: RAFT_SIM_SEED={first.Seed} ./scripts/test.sh --filter RaftSimulation" +
                $"{Environment.NewLine}Seed {first.Seed}: {first.Report}");
        }

        // The runs must really exercise compaction and InstallSnapshot (Raft §7), not just survive them.
        Assert.True(taken >= runs && installed >= runs / 10, $"only {taken} snapshots taken and {installed} installed over {runs} runs");
        if (spareCount > 0)
        {
            // The run must really exercise membership changes, not just survive them.
            Assert.True(changes >= 3 * runs, $"only {changes} configuration changes were accepted over {runs} runs");
        }
    }
}
