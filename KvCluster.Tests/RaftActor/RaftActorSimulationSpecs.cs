using Xunit.Abstractions;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// Seeded randomized simulation: 3 and 5 RaftActors on virtual time behind a <see cref="ChaosNetwork"/> that drops,
/// duplicates, delays and reorders messages, partitions and heals, while nodes restart from their journals. After every
/// step: election safety (§5.2), log matching (§5.3), leader completeness (§5.4.1) and state-machine safety (§5.4.3); at
/// the end, with faults stopped, the cluster must elect a leader and apply a final command everywhere, with identical
/// applied sequences on every node. The faults' schedule comes from the seed (printed); the mailbox interleaving is
/// Akka's, so a seed replays the schedule, not the exact message order (the Raft core's own simulation in
/// Raft/Simulation is the bit-exact one). Default: 10 seeds per cluster size in batches; <c>RAFTACTOR_SIM_SEEDS</c>
/// sets seeds per size, <c>RAFTACTOR_SIM_SIZE</c> + <c>RAFTACTOR_SIM_SEED</c> run one seed.
/// </summary>
public sealed class RaftActorSimulationSpecs : RaftActorTestKit
{
    private const int Batches = 2;
    private const int DefaultSeedsPerSize = 10;
    private const int Steps = 60;
    private static readonly ChaosSettings s_faults = new(DropRate: 0.1, DuplicateRate: 0.05, MaxDelayTicks: 3, RaftActorChaosSimulation.TickInterval);
    private readonly ITestOutputHelper _output;

    public RaftActorSimulationSpecs(ITestOutputHelper output)
        : base(output: output)
    {
        _output = output;
    }

    [Theory]
    [InlineData(3, 0)]
    [InlineData(3, 1)]
    [InlineData(5, 0)]
    [InlineData(5, 1)]
    public void Simulation_SeededFaultsAndRestarts_SafetyHoldsAfterEveryStepAndClusterConverges(int size, int batch)
    {
        foreach (var seed in SeedsFor(size, batch))
        {
            _output.WriteLine($"RaftActor simulation: {size} nodes, seed {seed}");
            try
            {
                RunSeed(size, seed);
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException(
                    $"Simulation of {size} nodes failed with seed {seed}. Replay: RAFTACTOR_SIM_SIZE={size} RAFTACTOR_SIM_SEED={seed} " +
                    $"dotnet test KvCluster.Tests -c Release --filter \"FullyQualifiedName~RaftActorSimulationSpecs\"\n{ex}");
            }
        }
    }

    private void RunSeed(int size, int seed)
    {
        using var sim = new RaftActorChaosSimulation(this, size, seed, s_faults);
        for (var step = 0; step < Steps; step++)
        {
            sim.Step(step);
            sim.CheckSafety(step);
        }

        var failure = sim.Converge(maxTicks: 20 * RaftActorChaosSimulation.MaxTimeout);
        if (failure is not null)
        {
            throw new InvalidOperationException($"Liveness after {Steps} steps: {failure}");
        }

        sim.CheckSafety(Steps);
        sim.CheckIdenticalApplied();
        if (sim.LeaderTerms < 1 || sim.CommittedEntries < 1)
        {
            throw new InvalidOperationException($"The run exercised nothing: {sim.LeaderTerms} leader term(s), {sim.CommittedEntries} committed entr(ies).");
        }

        _output.WriteLine($"  seed {seed}: {sim.LeaderTerms} leader term(s), {sim.CommittedEntries} committed entries, {sim.Proposals} proposals, {sim.SnapshotsRestored} snapshot(s) restored");
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
