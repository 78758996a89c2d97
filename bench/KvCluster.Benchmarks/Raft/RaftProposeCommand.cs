using System.Diagnostics;
using KvCluster.Raft.Core;

namespace KvCluster.Benchmarks.Raft;

/// <summary>
/// Proposals committed per second by an in-process cluster of Raft cores over an in-memory, lossless network, with a
/// fixed number of outstanding proposals (1 = one client waiting for each commit; 256 = 256 concurrent clients).
/// Single-threaded driver; no fsync (storage is in memory). A 1-node cluster is measured in the same run as the
/// baseline (the core's own cost without replication).
/// <c>dotnet run -c Release --project bench/KvCluster.Benchmarks -- raft-propose [seconds] [payloadBytes]</c>
/// </summary>
public sealed class RaftProposeCommand : IBenchCommand
{
    /// <inheritdoc />
    public string Name => "raft-propose";

    /// <inheritdoc />
    public string Description => "Raft core: proposals committed/s, in-process 1- and 3-node clusters, 1 and 256 outstanding";

    /// <inheritdoc />
    public Task<int> RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;
        var payloadBytes = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 256;
        Console.WriteLine($"raft-propose: {seconds}s per case, payload {payloadBytes} B, {Environment.ProcessorCount} cpus, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
        Console.WriteLine($"{"nodes",5} {"outstanding",11} {"committed/s",12} {"readies/commit",15} {"msgs/commit",12}");
        foreach (var nodes in new[] { 1, 3 })
        {
            foreach (var outstanding in new[] { 1, 256 })
            {
                Run(nodes, outstanding, TimeSpan.FromSeconds(0.5), payloadBytes); // warm-up
                var (rate, readies, messages) = Run(nodes, outstanding, TimeSpan.FromSeconds(seconds), payloadBytes);
                Console.WriteLine($"{nodes,5} {outstanding,11} {rate,12:N0} {readies,15:F2} {messages,12:F2}");
            }
        }

        return Task.FromResult(0);
    }

    private static (double Rate, double ReadiesPerCommit, double MessagesPerCommit) Run(int nodeCount, int outstanding, TimeSpan duration, int payloadBytes)
    {
        var ids = Enumerable.Range(1, nodeCount).Select(i => (ulong)i).ToArray();
        var storages = ids.ToDictionary(id => id, _ => new BenchRaftStorage());
        var nodes = ids.ToDictionary(id => id, id => new RaftNode(
            new RaftConfig { NodeId = id, Voters = ids, ElectionTimeoutMinTicks = 10, ElectionTimeoutMaxTicks = 20 },
            storages[id],
            new SeededRaftRandom((int)id)));
        var network = new Queue<RaftMessage>();
        var leader = nodes[1];
        long committed = 0, readies = 0, messages = 0;

        void Pump()
        {
            foreach (var (id, node) in nodes)
            {
                while (node.HasReady)
                {
                    var ready = node.GetReady();
                    readies++;
                    foreach (var m in ready.Messages)
                    {
                        network.Enqueue(m);
                    }

                    storages[id].Persist(ready);
                    foreach (var m in ready.MessagesAfterPersist)
                    {
                        network.Enqueue(m);
                    }

                    if (node == leader)
                    {
                        foreach (var e in ready.CommittedEntries)
                        {
                            committed += e.Type == EntryType.Normal ? 1 : 0;
                        }
                    }

                    node.Advance(ready);
                }
            }

            messages += network.Count;
            while (network.TryDequeue(out var message))
            {
                nodes[message.To].Step(message);
            }
        }

        leader.Campaign();
        for (var i = 0; i < 20 && leader.Role != RaftRole.Leader; i++)
        {
            Pump();
        }

        if (leader.Role != RaftRole.Leader)
        {
            throw new InvalidOperationException("Node 1 did not become leader.");
        }

        var payload = new byte[payloadBytes];
        committed = readies = messages = 0;
        long proposed = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < duration)
        {
            while (proposed - committed < outstanding)
            {
                if (leader.Propose(payload).Status != ProposeStatus.Accepted)
                {
                    break;
                }

                proposed++;
            }

            Pump();
        }

        sw.Stop();
        return (committed / sw.Elapsed.TotalSeconds, (double)readies / Math.Max(1, committed), (double)messages / Math.Max(1, committed));
    }
}
