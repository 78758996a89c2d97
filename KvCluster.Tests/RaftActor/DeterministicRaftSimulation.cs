using KvCluster.Actors;
using KvCluster.Actors.Persistence.InMemory;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// One seeded run of N RaftActors in one actor system on a <see cref="DeterministicDispatcher"/> and a
/// <see cref="TestScheduler"/>, behind a <see cref="ChaosNetwork"/>. Every source of choice (faults, election timeouts,
/// step schedule) comes from the seed and every mailbox turn runs on the test's thread in FIFO order, so one seed
/// always yields the same <see cref="TraceHash"/>. The one step that involves the thread pool, journal replay when a
/// node (re)starts (<c>PersistentActor</c> replays on a pool task), is waited for while the rest of the system is
/// idle and virtual time stands still, so its timing cannot change the outcome.
/// </summary>
internal sealed partial class DeterministicRaftSimulation : IDisposable
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);
    public const int MinTimeout = 10;
    public const int MaxTimeout = 20;
    private const int MaxTurnsPerRun = 200_000;
    private static readonly TimeSpan s_recoveryWait = TimeSpan.FromSeconds(30);

    private readonly int _seed;
    private readonly Random _random;
    private readonly ChaosSettings _faults;
    private readonly TestScheduler _scheduler = new();
    private readonly DeterministicDispatcher _dispatcher = new();
    private readonly ActorSystem _system;
    private readonly IJournal _journal;
    private readonly IActorRef _network;
    private readonly IActorRef _inbox;
    private readonly List<object> _received = new();
    private readonly Dictionary<ulong, int> _incarnations = new();
    private readonly Dictionary<ulong, IActorRef> _nodes = new();
    private readonly Dictionary<ulong, RecordingStateMachine> _machines = new();
    private readonly List<(ulong Node, RecordingStateMachine Machine)> _allMachines = new();
    private ulong _traceHash = 14695981039346656037UL;
    private int _proposals;

    public DeterministicRaftSimulation(int size, int seed, ChaosSettings faults)
    {
        _seed = seed;
        _random = new Random(seed);
        _faults = faults;
        Ids = Enumerable.Range(1, size).Select(i => (ulong)i).ToArray();
        _system = ActorSystem.Create("sim", ActorSystemSetup.Default.WithScheduler(_scheduler).WithDispatcher(_dispatcher));
        _journal = KvCluster.Actors.Persistence.Persistence.Configure(_system, RaftActorCluster.InMemoryPersistence(new InMemoryStore())).Journal;
        var networkSeed = _random.Next();
        _network = _system.ActorOf(Props.Create(() => new ChaosNetwork(networkSeed, faults, Trace)), "net");
        _inbox = _system.ActorOf(Props.Create(() => new Inbox(_received)), "inbox");
        foreach (var id in Ids)
        {
            Start(id);
        }
    }

    public ulong[] Ids { get; }

    /// <summary>FNV-1a hash of every network decision and every per-step status line, in order.</summary>
    public ulong TraceHash => _traceHash;

    /// <summary>Number of trace lines hashed.</summary>
    public int TraceLines { get; private set; }

    /// <summary>Commands proposed so far.</summary>
    public int Proposals => _proposals;

    /// <summary>
    /// Applies one seeded action (propose, partition, heal, crash-restart, or nothing), advances one tick of virtual
    /// time and runs every turn until idle. A crash stops the node part-way through the tick's turns and restarts it
    /// from its journal.
    /// </summary>
    public void Step(int step)
    {
        var roll = _random.NextDouble();
        var node = Ids[_random.Next(Ids.Length)];
        if (roll < 0.2)
        {
            _nodes[node].Tell(new Propose(System.Text.Encoding.UTF8.GetBytes($"s{_seed}-{step}")), _inbox);
            _proposals++;
            Trace($"propose {node} s{step}");
        }
        else if (roll < 0.25)
        {
            var side = Ids.Where(_ => _random.NextDouble() < 0.4).ToHashSet();
            _network.Tell(new Partition(side));
            Trace($"partition {string.Join(",", side)}");
        }
        else if (roll < 0.3)
        {
            _network.Tell(new Heal());
            Trace("heal");
        }
        else if (roll < 0.35)
        {
            // Crash mid-step: after a seeded number of turns, so a write the node asked its journal for may be lost
            // while messages it sent are already on the network (a vote sent before its persist would show).
            var turns = _random.Next(0, 40);
            Trace($"crash {node} after {turns} turns");
            _scheduler.Advance(TickInterval);
            for (var i = 0; i < turns && _dispatcher.RunOne(); i++)
            {
            }

            Restart(node);
            _dispatcher.RunUntilIdle(MaxTurnsPerRun);
            return;
        }

        _scheduler.Advance(TickInterval);
        _dispatcher.RunUntilIdle(MaxTurnsPerRun);
    }

    /// <summary>Stops faults and partitions, then ticks until a leader commits a final command on every node.</summary>
    /// <returns>Null when the cluster converged; otherwise why not.</returns>
    public string? Converge(int maxTicks)
    {
        _network.Tell(new Heal());
        _network.Tell(_faults with { DropRate = 0, DuplicateRate = 0, MaxDelayTicks = 0 });
        _dispatcher.RunUntilIdle(MaxTurnsPerRun);
        var proposed = false;
        for (var tick = 0; tick < maxTicks; tick++)
        {
            var statuses = Statuses();
            var leaders = statuses.Where(s => s.Role == RaftRole.Leader).ToArray();
            if (leaders.Length == 1 && !proposed)
            {
                _nodes[leaders[0].NodeId].Tell(new Propose(System.Text.Encoding.UTF8.GetBytes("final")), _inbox);
                proposed = true;
            }

            if (proposed && Converged())
            {
                return null;
            }

            if (tick % (4 * MaxTimeout) == 4 * MaxTimeout - 1)
            {
                proposed = false; // the proposal may have been lost to a leader change; propose again
            }

            _scheduler.Advance(TickInterval);
            _dispatcher.RunUntilIdle(MaxTurnsPerRun);
        }

        return "no leader committed and applied a final command on every node after faults stopped: " +
            string.Join("; ", Statuses().Select(s => $"{s.NodeId}:{s.Role}/t{s.Term}/c{s.Commit}/a{s.Applied}"));
    }

    private bool Converged()
    {
        var reference = _machines[Ids[0]].Applied;
        return reference.Any(a => a.Command == "final") && Ids.All(id => _machines[id].Applied.SequenceEqual(reference));
    }

    /// <summary>Each node's status, asked and answered on the dispatcher; every status is also hashed into the trace.</summary>
    public IReadOnlyList<RaftStatus> Statuses()
    {
        _received.Clear();
        foreach (var id in Ids)
        {
            _nodes[id].Tell(GetRaftStatus.Instance, _inbox);
        }

        _dispatcher.RunUntilIdle(MaxTurnsPerRun);
        var statuses = Ids.Select(id => _received.OfType<RaftStatus>().Last(s => s.NodeId == id)).ToArray();
        foreach (var s in statuses)
        {
            Trace($"status {s.NodeId} {s.Role} t{s.Term} v{s.Vote} l{s.Leader} c{s.Commit} a{s.Applied} i{s.LastIndex}");
        }

        return statuses;
    }

    private void Start(ulong id)
    {
        var incarnation = _incarnations[id] = _incarnations.GetValueOrDefault(id) + 1;
        var timeoutSeed = _random.Next();
        var settings = new RaftActorSettings
        {
            Raft = new RaftConfig
            {
                NodeId = id,
                Voters = Ids,
                ElectionTimeoutMinTicks = MinTimeout,
                ElectionTimeoutMaxTicks = MaxTimeout,
            },
            TickInterval = TickInterval,
            StateMachineFactory = () =>
            {
                var machine = new RecordingStateMachine();
                _machines[id] = machine;
                _allMachines.Add((id, machine));
                return machine;
            },
            RandomFactory = () => new SeededRaftRandom(new Random(timeoutSeed)),
        };
        var peers = Ids.Where(p => p != id).ToDictionary(p => p, _ => _network);
        var node = _system.ActorOf(KvCluster.Raft.Actor.RaftActor.Props(settings, peers), $"raft-{id}-{incarnation}");
        _nodes[id] = node;
        _network.Tell(new RegisterNode(id, node));

        // Recovery replays the journal on a thread-pool task; nothing else is queued and time stands still meanwhile.
        _received.Clear();
        node.Tell(GetRaftStatus.Instance, _inbox);
        _dispatcher.RunUntil(
            () =>
            {
                var last = _received.OfType<RaftStatus>().LastOrDefault(s => s.NodeId == id);
                if (last is { Recovering: false })
                {
                    return true;
                }

                if (last is not null)
                {
                    _received.Clear();
                    node.Tell(GetRaftStatus.Instance, _inbox);
                }

                return false;
            },
            s_recoveryWait,
            MaxTurnsPerRun);
    }

    private void Restart(ulong id)
    {
        var old = _nodes[id];
        _inbox.Tell(new Inbox.WatchRef(old));
        _system.Stop(old);
        _dispatcher.RunUntil(() => _received.OfType<Terminated>().Any(t => t.ActorRef.Equals(old)), s_recoveryWait, MaxTurnsPerRun);
        Start(id);
    }

    private void Trace(string line)
    {
        TraceLines++;
        foreach (var c in line)
        {
            _traceHash = (_traceHash ^ c) * 1099511628211UL;
        }

        _traceHash = (_traceHash ^ '\n') * 1099511628211UL;
    }

    public void Dispose()
    {
        _ = _system.Terminate();
        try
        {
            _dispatcher.RunUntilIdle(MaxTurnsPerRun);
        }
        catch (InvalidOperationException)
        {
            // best effort: the system is dropped either way
        }
    }

    /// <summary>Election timeouts from a seeded generator: random, yet the same for the same seed.</summary>
    private sealed class SeededRaftRandom(Random random) : IRaftRandom
    {
        public int Next(int minInclusive, int maxExclusive) => random.Next(minInclusive, maxExclusive);
    }

    /// <summary>Collects replies (statuses, proposal outcomes, Terminated) in a list read by the test between runs.</summary>
    private sealed class Inbox : ReceiveActor
    {
        public Inbox(List<object> received)
        {
            Receive<WatchRef>(w => Context.Watch(w.Target));
            ReceiveAny(received.Add);
        }

        public sealed record WatchRef(IActorRef Target);
    }
}
