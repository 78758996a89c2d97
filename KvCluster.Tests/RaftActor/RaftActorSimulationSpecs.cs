using KvCluster.Actors;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// Deterministic simulation (issue 5): 3 and 5 RaftActors in one actor system on a <see cref="DeterministicDispatcher"/>
/// and virtual time, behind a <see cref="ChaosNetwork"/> that drops, duplicates, delays and reorders messages,
/// partitions and heals, while nodes restart from their journals; all from one seed. After every step:
/// election safety (§5.2), log matching (§5.3), leader completeness (§5.4.1) and state-machine safety (§5.4.3);
/// at the end, with faults stopped, the cluster must elect a leader and apply a final command everywhere.
/// Default: 250 seeds per cluster size (500 in all) in batches; <c>RAFTACTOR_SIM_SEEDS</c> sets seeds per size.
/// A failure prints its seed and the command that replays exactly that run
/// (<c>RAFTACTOR_SIM_SIZE=&lt;n&gt; RAFTACTOR_SIM_SEED=&lt;seed&gt; dotnet test ...</c>).
/// </summary>
public sealed class RaftActorSimulationSpecs
{
    private const int Batches = 5;
    private const int DefaultSeedsPerSize = 250;
    private const int Steps = 60;
    private static readonly ChaosSettings s_faults = new(DropRate: 0.1, DuplicateRate: 0.05, MaxDelayTicks: 3, DeterministicRaftSimulation.TickInterval);

    [Theory]
    [InlineData(3, 0)]
    [InlineData(3, 1)]
    [InlineData(3, 2)]
    [InlineData(3, 3)]
    [InlineData(3, 4)]
    [InlineData(5, 0)]
    [InlineData(5, 1)]
    [InlineData(5, 2)]
    [InlineData(5, 3)]
    [InlineData(5, 4)]
    public void Simulation_SeededFaultsAndRestarts_SafetyHoldsAfterEveryStepAndClusterConverges(int size, int batch)
    {
        foreach (var seed in SeedsFor(size, batch))
        {
            try
            {
                RunSeed(size, seed);
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException(
                    $"Simulation of {size} nodes failed with seed {seed}. Replay exactly: RAFTACTOR_SIM_SIZE={size} RAFTACTOR_SIM_SEED={seed} " +
                    $"dotnet test KvCluster.Tests -c Release --filter \"FullyQualifiedName~RaftActorSimulationSpecs\"\n{ex}");
            }
        }
    }

    [Theory]
    [InlineData(3, 7)]
    [InlineData(5, 7)]
    public void Simulation_SameSeedTwice_IdenticalTrace(int size, int seed)
    {
        var first = RunSeed(size, seed);
        var second = RunSeed(size, seed);
        var other = RunSeed(size, seed + 1);

        Assert.Equal(first, second);
        Assert.NotEqual(first.Hash, other.Hash);
    }

    /// <summary>Runs one seed to the end; returns its trace hash and line count.</summary>
    private static (ulong Hash, int Lines) RunSeed(int size, int seed)
    {
        using var sim = new DeterministicRaftSimulation(size, seed, s_faults);
        for (var step = 0; step < Steps; step++)
        {
            sim.Step(step);
            sim.CheckSafety(step);
        }

        var failure = sim.Converge(maxTicks: 20 * DeterministicRaftSimulation.MaxTimeout);
        if (failure is not null)
        {
            throw new InvalidOperationException($"Liveness after {Steps} steps: {failure}");
        }

        sim.CheckSafety(Steps);
        if (sim.LeaderTerms < 1 || sim.CommittedEntries < 1)
        {
            throw new InvalidOperationException($"The run exercised nothing: {sim.LeaderTerms} leader term(s), {sim.CommittedEntries} committed entr(ies).");
        }

        return (sim.TraceHash, sim.TraceLines);
    }

    /// <summary>The seeds of one batch; a replay (<c>RAFTACTOR_SIM_SEED</c>) runs only that seed, in batch 0 of its size.</summary>
    private static IEnumerable<int> SeedsFor(int size, int batch)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("RAFTACTOR_SIM_SEED"), out var replay))
        {
            var replaySize = int.TryParse(Environment.GetEnvironmentVariable("RAFTACTOR_SIM_SIZE"), out var n) ? n : size;
            return replaySize == size && batch == 0 ? [replay] : [];
        }

        var perSize = int.TryParse(Environment.GetEnvironmentVariable("RAFTACTOR_SIM_SEEDS"), out var seeds) && seeds > 0 ? seeds : DefaultSeedsPerSize;
        var perBatch = (perSize + Batches - 1) / Batches;
        var start = batch * perBatch;
        return Enumerable.Range(start, Math.Max(0, Math.Min(perBatch, perSize - start)));
    }
}
