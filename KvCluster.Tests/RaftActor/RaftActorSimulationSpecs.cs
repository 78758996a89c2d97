using KvCluster.Actors;
using KvCluster.Actors.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// Randomised simulation: 3 or 5 RaftActors on virtual time behind a <see cref="ChaosNetwork"/> (drops, duplicates,
/// delays/reorders, partitions) with nodes restarted from their journals, checking after every step: election safety
/// (one leader per term, Raft §5.2), state-machine safety (the same command at the same index everywhere, §5.4.3)
/// and log matching over the durable logs in the journal (§5.3). Ends with a liveness check once faults stop.
/// Replay a failure with the printed seed: <c>RAFTACTOR_SIM_SEED=&lt;seed&gt; dotnet test KvCluster.Tests -c Release
/// --filter "FullyQualifiedName~RaftActorSimulationSpecs"</c>.
/// </summary>
public sealed class RaftActorSimulationSpecs : TestKit
{
    private static readonly ChaosSettings Faults = new(DropRate: 0.1, DuplicateRate: 0.05, MaxDelayTicks: 2, RaftActorCluster.TickInterval);

    public RaftActorSimulationSpecs() : base(virtualTime: true)
    {
    }

    [Theory]
    [InlineData(3, 11)]
    [InlineData(5, 23)]
    public void Simulation_ChaosNetworkAndRestarts_SafetyHoldsAfterEveryStepAndClusterRecovers(int size, int defaultSeed)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("RAFTACTOR_SIM_SEED"), out var s) ? s : defaultSeed;
        try
        {
            Run(size, seed, steps: 300);
        }
        catch (Exception ex)
        {
            throw new Xunit.Sdk.XunitException(
                $"Simulation of {size} nodes failed with seed {seed}. Replay: RAFTACTOR_SIM_SEED={seed} dotnet test KvCluster.Tests -c Release " +
                $"--filter \"FullyQualifiedName~RaftActorSimulationSpecs\"\n{ex}");
        }
    }

    private void Run(int size, int seed, int steps)
    {
        var random = new Random(seed);
        var cluster = new RaftActorCluster(this, size, network: Props.Create(() => new ChaosNetwork(seed, Faults)));
        var sink = CreateTestProbe("sink");
        var leaders = new Dictionary<long, ulong>();
        var committed = new Dictionary<long, string>();
        for (var step = 0; step < steps; step++)
        {
            var roll = random.NextDouble();
            var node = cluster.Ids[random.Next(cluster.Ids.Length)];
            if (roll < 0.6)
            {
                cluster.Tick();
            }
            else if (roll < 0.85)
            {
                sink.Send(cluster.Nodes[node], RaftActorCluster.Command($"s{seed}-{step}"));
            }
            else if (roll < 0.9)
            {
                cluster.Network.Tell(new Partition(cluster.Ids.Where(_ => random.NextDouble() < 0.4).ToHashSet()));
            }
            else if (roll < 0.95)
            {
                cluster.Network.Tell(new Heal());
            }
            else
            {
                cluster.Stop(node);
                cluster.Start(node);
            }

            CheckSafety(cluster, leaders, committed, step);
        }

        // Liveness: faults stop; a leader emerges and every node applies the same commands.
        cluster.Network.Tell(new Heal());
        cluster.Network.Tell(Faults with { DropRate = 0, DuplicateRate = 0, MaxDelayTicks = 0 });
        var client = CreateTestProbe("final");
        RaftStatus leader = cluster.TickUntilLeader(10 * RaftActorCluster.MaxTimeout);
        object? reply = null;
        for (var attempt = 0; attempt < 5 && reply is not ProposeApplied; attempt++)
        {
            leader = cluster.TickUntilLeader(10 * RaftActorCluster.MaxTimeout);
            client.Send(cluster.Nodes[leader.NodeId], RaftActorCluster.Command("final"));
            for (var tick = 0; tick < 5 * RaftActorCluster.MaxTimeout && client.QueueCount == 0; tick++)
            {
                cluster.Tick();
            }

            reply = client.ReceiveOne();
        }

        Assert.IsType<ProposeApplied>(reply);
        bool Converged()
        {
            var expected = cluster.Machines[leader.NodeId].Applied;
            return expected.Count > 0 && expected[^1].Command == "final" && cluster.Ids.All(id => cluster.Machines[id].Applied.SequenceEqual(expected));
        }

        for (var tick = 0; tick < 5 * RaftActorCluster.MaxTimeout && !Converged(); tick++)
        {
            cluster.Tick();
        }

        Assert.True(Converged(), "after faults stopped, the nodes' state machines did not converge on the same commands");
        CheckSafety(cluster, leaders, committed, steps);

        // The run exercised the protocol: leaders were elected and commands were committed under faults.
        Assert.True(leaders.Count >= 1, $"only {leaders.Count} term(s) had a leader");
        Assert.True(committed.Count >= 3, $"only {committed.Count} command(s) were committed");
    }

    private static void CheckSafety(RaftActorCluster cluster, Dictionary<long, ulong> leaders, Dictionary<long, string> committed, int step)
    {
        foreach (var status in cluster.Statuses().Where(st => st.Role == RaftRole.Leader))
        {
            if (leaders.TryGetValue(status.Term, out var other) && other != status.NodeId)
            {
                throw new InvalidOperationException($"Step {step}: nodes {other} and {status.NodeId} both led term {status.Term} (election safety, Raft §5.2).");
            }

            leaders[status.Term] = status.NodeId;
        }

        lock (cluster.Machines)
        {
            foreach (var (node, machine) in cluster.AllMachines)
            {
                foreach (var (index, command) in machine.Applied)
                {
                    if (committed.TryGetValue(index, out var seen) && seen != command)
                    {
                        throw new InvalidOperationException($"Step {step}: node {node} applied '{command}' at index {index} where another applied '{seen}' (state-machine safety, Raft §5.4.3).");
                    }

                    committed[index] = command;
                }
            }
        }

        var logs = cluster.Ids.ToDictionary(id => id, id => DurableLog(cluster, id));
        foreach (var a in cluster.Ids)
        {
            foreach (var b in cluster.Ids.Where(b => b > a))
            {
                var (la, lb) = (logs[a], logs[b]);
                var common = Math.Min(la.Count, lb.Count);
                for (var i = common - 1; i >= 0; i--)
                {
                    if (la[i].Term == lb[i].Term)
                    {
                        for (var j = 0; j <= i; j++)
                        {
                            if (!la[j].SameAs(lb[j]))
                            {
                                throw new InvalidOperationException(
                                    $"Step {step}: logs of nodes {a} and {b} agree at index {i + 1} (term {la[i].Term}) but differ at index {j + 1} (log matching, Raft §5.3).");
                            }
                        }

                        break;
                    }
                }
            }
        }
    }

    private static List<Entry> DurableLog(RaftActorCluster cluster, ulong id)
    {
        var hardState = HardState.Empty;
        var log = new List<Entry>();
        cluster.Journal.ReplayMessagesAsync($"raft-{id}", 1, long.MaxValue, long.MaxValue, repr => RaftJournalCodec.Replay(repr, ref hardState, log))
            .GetAwaiter().GetResult();
        return log;
    }
}
