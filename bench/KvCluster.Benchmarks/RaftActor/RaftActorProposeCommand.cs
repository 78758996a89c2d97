using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Raft.Persistence;
using KvCluster.Raft.Serialization;

namespace KvCluster.Benchmarks.RaftActor;

/// <summary>
/// Proposals committed and applied per second by an in-process cluster of Akka RaftActors (one actor system per node,
/// local refs across the systems of this process, real scheduler), with 1 and 256 concurrent proposers each waiting
/// for its reply (Ask) before proposing again, over Akka's in-memory journal and over Akka.Persistence.Sql on SQLite
/// (each node its own database file, WAL, synchronous=FULL, i.e. fsync; the node's settings,
/// <see cref="RaftJournalConfig.Build"/>), the RaftLogActor persisting one event per Ready. Journal events are
/// serialized by <see cref="RaftWireSerializer"/>, as on a node. A 1-node cluster runs in the same process as the
/// baseline (the shell and journal without replication).
/// <c>dotnet run -c Release --project bench/KvCluster.Benchmarks -- raftactor-propose [seconds] [payloadBytes] [journals]</c>
/// (journals: <c>memory</c>, <c>sqlite</c> or <c>memory,sqlite</c>, the default).
/// </summary>
public sealed class RaftActorProposeCommand : IBenchCommand
{
    /// <inheritdoc />
    public string Name => "raftactor-propose";

    /// <inheritdoc />
    public string Description => "RaftActor: proposals applied/s, in-process 1- and 3-node clusters, 1 and 256 proposers, in-memory vs SQLite journal";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var payloadBytes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 256;
        var journals = args.Length > 2 ? args[2].Split(',', StringSplitOptions.RemoveEmptyEntries) : ["memory", "sqlite"];
        Console.WriteLine($"raftactor-propose: {seconds}s per case, payload {payloadBytes} B, {Environment.ProcessorCount} cpus, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
        Console.WriteLine($"{"nodes",5} {"journal",8} {"proposers",9} {"applied/s",10} {"p50 us",9} {"p99 us",9} {"retries",8}");
        foreach (var nodes in new[] { 1, 3 })
        {
            foreach (var journal in journals)
            {
                foreach (var proposers in new[] { 1, 256 })
                {
                    var (rate, p50, p99, retries) = await RunCaseAsync(nodes, journal, proposers, TimeSpan.FromSeconds(seconds), payloadBytes);
                    Console.WriteLine($"{nodes,5} {journal,8} {proposers,9} {rate,10:N0} {p50 * 1000,9:F0} {p99 * 1000,9:F0} {retries,8}");
                }
            }
        }

        return 0;
    }

    private static async Task<(double Rate, double P50, double P99, long Redirects)> RunCaseAsync(int nodeCount, string journalKind, int proposers, TimeSpan duration, int payloadBytes)
    {
        var dir = Path.Combine(Path.GetTempPath(), "akkakv-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var ids = Enumerable.Range(1, nodeCount).Select(i => (ulong)i).ToArray();

        // One actor system per node, each with its own journal (its own SQLite file), as on separate machines; the
        // nodes talk through local refs across the systems of this process.
        var systems = ids.ToDictionary(id => id, id => ActorSystem.Create($"bench{id}", SystemConfig(journalKind, Path.Combine(dir, $"node{id}"))));
        try
        {
            var nodes = new Dictionary<ulong, IActorRef>();
            foreach (var id in ids)
            {
                var settings = new RaftActorSettings
                {
                    Raft = new RaftConfig { NodeId = id, Voters = ids, ElectionTimeoutMinTicks = 10, ElectionTimeoutMaxTicks = 20 },
                    StateMachineFactory = () => new CountingStateMachine(),
                    TickInterval = TimeSpan.FromMilliseconds(100),
                    RandomFactory = () => new SeededRaftRandom((int)id),
                };
                nodes[id] = systems[id].ActorOf(KvCluster.Raft.Actor.RaftActor.Props(settings), "raft");
            }

            foreach (var id in ids)
            {
                nodes[id].Tell(new SetPeers(nodes), ActorRefs.NoSender);
            }

            var leader = new LeaderRef(nodes, nodes[await AwaitLeaderAsync(nodes.Values)]);
            var payload = new byte[payloadBytes];
            var latencies = new List<double>[proposers];
            using var warmup = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await Task.WhenAll(Enumerable.Range(0, proposers).Select(i => ProposeLoopAsync(leader, payload, new List<double>(), warmup.Token)));
            using var measured = new CancellationTokenSource(duration);
            var stopwatch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, proposers).Select(i => ProposeLoopAsync(leader, payload, latencies[i] = new List<double>(), measured.Token)));
            stopwatch.Stop();
            var all = latencies.SelectMany(l => l).OrderBy(x => x).ToArray();
            return (all.Length / stopwatch.Elapsed.TotalSeconds, Percentile(all, 0.50), Percentile(all, 0.99), leader.Redirects);
        }
        finally
        {
            await Task.WhenAll(systems.Values.Select(s => s.Terminate()));

            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// A node's configuration: Akka's in-memory journal and snapshot store, or the node's Akka.Persistence.Sql on
    /// SQLite settings (<see cref="RaftJournalConfig.Build"/>) in <paramref name="dataDirectory"/>; the Raft serializer.
    /// </summary>
    private static Config SystemConfig(string journalKind, string dataDirectory)
    {
        var journal = journalKind switch
        {
            "memory" => ConfigurationFactory.ParseString("""
                akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
                akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
                """),
            "sqlite" => RaftJournalConfig.Build(dataDirectory),
            _ => throw new ArgumentException($"Unknown journal '{journalKind}' (memory or sqlite).", nameof(journalKind)),
        };
        return ConfigurationFactory.ParseString("akka.loglevel = WARNING")
            .WithFallback(journal)
            .WithFallback(RaftWireSerializer.Config);
    }

    private static async Task ProposeLoopAsync(LeaderRef leader, byte[] payload, List<double> latencies, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            var reply = await leader.Current.Ask<object>(new Propose(payload), TimeSpan.FromSeconds(30));
            switch (reply)
            {
                case ProposeApplied:
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    break;
                case NotLeader notLeader:
                    leader.Redirect(notLeader.LeaderHint);
                    await Task.Delay(10);
                    break;
                case ProposeDropped:
                    Interlocked.Increment(ref leader.Drops);
                    await Task.Delay(1);
                    break;
                default:
                    throw new InvalidOperationException($"Unexpected reply: {reply}");
            }
        }
    }

    /// <summary>The leader the proposers talk to; follows NotLeader hints (counted: a leadership change during a run).</summary>
    private sealed class LeaderRef(Dictionary<ulong, IActorRef> nodes, IActorRef initial)
    {
        private IActorRef _current = initial;
        private long _redirects;

        /// <summary>Proposals dropped by the leader (back-pressure or lost to a leadership change).</summary>
        public long Drops;

        public IActorRef Current => Volatile.Read(ref _current);

        public long Redirects => Interlocked.Read(ref _redirects) + Interlocked.Read(ref Drops);

        public void Redirect(ulong hint)
        {
            Interlocked.Increment(ref _redirects);
            if (hint != 0)
            {
                Volatile.Write(ref _current, nodes[hint]);
            }
        }
    }

    private static async Task<ulong> AwaitLeaderAsync(IEnumerable<IActorRef> nodes)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var statuses = await Task.WhenAll(nodes.Select(n => n.Ask<RaftStatus>(GetRaftStatus.Instance)));
            var leaders = statuses.Where(s => s.Role == RaftRole.Leader).ToArray();
            if (leaders.Length == 1 && statuses.All(s => s.Leader == leaders[0].NodeId))
            {
                return leaders[0].NodeId;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("No leader elected within 30 s.");
    }

    private static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

    /// <summary>Counts applied commands; the cheapest possible state machine.</summary>
    private sealed class CountingStateMachine : IStateMachine
    {
        private long _applied;

        public ReadOnlyMemory<byte> Apply(long index, ReadOnlyMemory<byte> command)
        {
            _applied++;
            return ReadOnlyMemory<byte>.Empty;
        }

        public ReadOnlyMemory<byte> Query(ReadOnlyMemory<byte> query) => BitConverter.GetBytes(_applied);

        public IStateMachineSnapshot CaptureSnapshot() => new ImageStateMachineSnapshot(_applied, BitConverter.GetBytes(_applied));

        public void RestoreSnapshot(long index, ReadOnlyMemory<byte> image) =>
            _applied = image.Length == 8 ? BitConverter.ToInt64(image.Span) : throw new InvalidDataException($"counting snapshot at {index}: {image.Length} bytes, expected 8");
    }
}
