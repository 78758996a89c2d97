using System.Text;
using Akka.Actor;
using Akka.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// One seeded run of N RaftActors in a TestKit's actor system on virtual time (<see cref="TestScheduler"/>), behind a
/// <see cref="ChaosNetwork"/> that drops, duplicates, delays and reorders messages, partitions and heals, while nodes
/// crash and restart from their journals. Every choice (faults, election timeouts, step schedule) comes from the seed;
/// the interleaving of mailbox turns is Akka's dispatcher's, so a seed replays the same schedule of faults, not the same
/// message order. Streams are named per seed (<c>sim&lt;seed&gt;-raft-&lt;id&gt;</c>), so several runs share a system.
/// Virtual time moves only when the cluster is idle (<see cref="Quiesce"/>: no journal write in flight, no message
/// between the network and the nodes), so a round trip never costs ticks; a liveness failure reports every node's shell
/// state, the network's counters, the proposals' replies and what the system logged (<see cref="Diagnostics"/>).
/// </summary>
internal sealed partial class RaftActorChaosSimulation : IDisposable
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);
    public const int MinTimeout = 10;
    public const int MaxTimeout = 20;

    /// <summary>Passes through every mailbox <see cref="Quiesce"/> allows before it gives up.</summary>
    private const int QuiescePasses = 1000;

    private readonly RaftActorTestKit _kit;
    private readonly int _seed;
    private readonly Random _random;
    private readonly ChaosSettings _faults;
    private readonly IActorRef _network;
    private readonly TestProbe _inbox;
    private readonly TestProbe _status;
    private readonly Dictionary<ulong, int> _incarnations = new();
    private readonly Dictionary<ulong, IActorRef> _nodes = new();
    private readonly Dictionary<ulong, RecordingStateMachine> _machines = new();
    private readonly List<(ulong Node, RecordingStateMachine Machine)> _allMachines = new();
    private readonly IActorRef _errors;

    public RaftActorChaosSimulation(RaftActorTestKit kit, int size, int seed, ChaosSettings faults)
    {
        _kit = kit;
        _seed = seed;
        _random = new Random(seed);
        _faults = faults;
        Ids = Enumerable.Range(1, size).Select(i => (ulong)i).ToArray();
        var networkSeed = _random.Next();
        _network = kit.Sys.ActorOf(Props.Create(() => new ChaosNetwork(networkSeed, faults, null)), $"net-{size}-{seed}");
        _inbox = kit.CreateTestProbe($"inbox-{size}-{seed}");
        _status = kit.CreateTestProbe($"status-{size}-{seed}");
        _errors = kit.Sys.ActorOf(Props.Create(() => new ErrorRecorder()), $"errors-{size}-{seed}");
        kit.Sys.EventStream.Subscribe(_errors, typeof(Akka.Event.Error));
        kit.Sys.EventStream.Subscribe(_errors, typeof(Akka.Event.Warning));
        foreach (var id in Ids)
        {
            Start(id);
        }
    }

    public ulong[] Ids { get; }

    /// <summary>Snapshots restored into state machines (at recovery, or installed from a leader), every incarnation.</summary>
    public int SnapshotsRestored
    {
        get
        {
            lock (_allMachines)
            {
                return _allMachines.Sum(m => m.Machine.Restored.Count);
            }
        }
    }

    /// <summary>Commands proposed so far.</summary>
    public int Proposals { get; private set; }

    /// <summary>Applies one seeded action (propose, partition, heal, crash-restart, or nothing), then advances one tick.</summary>
    public void Step(int step)
    {
        var roll = _random.NextDouble();
        var node = Ids[_random.Next(Ids.Length)];
        if (roll < 0.2)
        {
            _nodes[node].Tell(new Propose(Encoding.UTF8.GetBytes($"s{_seed}-{step}")), _inbox.Ref);
            Proposals++;
        }
        else if (roll < 0.25)
        {
            _network.Tell(new Partition(Ids.Where(_ => _random.NextDouble() < 0.4).ToHashSet()));
        }
        else if (roll < 0.3)
        {
            _network.Tell(new Heal());
        }
        else if (roll < 0.35)
        {
            // Crash mid-step: the tick's messages are in flight and a write the node asked its journal for may be lost
            // while messages it sent are already on the network (a vote sent before its persist would show).
            Quiesce();
            _kit.Advance(TickInterval);
            Restart(node);
            Statuses();
            return;
        }

        Quiesce();
        _kit.Advance(TickInterval);
        Statuses();
    }

    /// <summary>Stops faults and partitions, then ticks until a leader commits a final command on every node.</summary>
    /// <returns>Null when the cluster converged; otherwise why not.</returns>
    public string? Converge(int maxTicks)
    {
        _network.Tell(new Heal());
        _network.Tell(_faults with { DropRate = 0, DuplicateRate = 0, MaxDelayTicks = 0 });
        var proposed = false;
        for (var tick = 0; tick < maxTicks; tick++)
        {
            var statuses = Statuses();
            var leaders = statuses.Where(s => s.Role == RaftRole.Leader).ToArray();
            if (leaders.Length == 1 && !proposed)
            {
                _nodes[leaders[0].NodeId].Tell(new Propose(Encoding.UTF8.GetBytes("final")), _inbox.Ref);
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

            Quiesce();
            _kit.Advance(TickInterval);
        }

        return "no leader committed and applied a final command on every node after faults stopped: " +
            string.Join("; ", Statuses().Select(s => $"{s.NodeId}:{s.Role}/t{s.Term}/c{s.Commit}/a{s.Applied}")) + "\n" + Diagnostics();
    }

    /// <summary>
    /// Waits until the cluster is idle before virtual time moves: no journal write outstanding on any node and no
    /// message between the network and the nodes (the counts of messages the nodes sent and the network handled stop
    /// moving over a pass through every mailbox). Without it the test thread, which only round-trips through the nodes'
    /// mailboxes, can advance many ticks while a vote waits for the journal or sits in the network's mailbox: on a fast
    /// machine an election timeout (10-20 ticks) then passes before a round trip completes, every election fails, and
    /// the cluster converges only once the ticks stop. Messages the network delays wait for the clock, as they should.
    /// </summary>
    private void Quiesce()
    {
        var previous = (-1L, -1L);
        for (var pass = 0; pass < QuiescePasses; pass++)
        {
            _status.Send(_network, GetHandledCount.Instance);
            var handled = _status.ExpectMsg<long>();
            var sent = 0L;
            var writing = false;
            foreach (var id in Ids)
            {
                var diagnostics = Diagnose(id);
                sent += diagnostics.PeerMessagesOut;
                writing |= diagnostics.Persisting || diagnostics.FlushingHardState;
            }

            if (!writing && (handled, sent) == previous)
            {
                return;
            }

            previous = (handled, sent);
        }

        throw new InvalidOperationException($"The cluster did not settle within {QuiescePasses} passes:\n{Diagnostics()}");
    }

    private RaftDiagnostics Diagnose(ulong id)
    {
        _status.Send(_nodes[id], GetRaftDiagnostics.Instance);
        return _status.ExpectMsg<RaftDiagnostics>(d => d.NodeId == id);
    }

    /// <summary>Every node's shell state and the network's, one line each (for a liveness failure).</summary>
    public string Diagnostics()
    {
        var lines = Ids.Select(id => $"  {Diagnose(id)} (actor {_nodes[id].Path.Name})").ToList();
        var replies = _inbox.ReceiveWhile(TimeSpan.FromMilliseconds(50), m => m.ToString() ?? "", int.MaxValue);
        lines.Add($"  proposal replies ({replies.Count}), the last 5: {string.Join(" | ", replies.TakeLast(5))}");
        _status.Send(_network, GetReport.Instance);
        lines.Add($"  {_status.ExpectMsg<string>()}");
        lines.Add($"  virtual time {_kit.Clock.Now:HH:mm:ss.f}");
        _status.Send(_errors, GetReport.Instance);
        lines.Add($"  errors and warnings logged during the run:\n{_status.ExpectMsg<string>()}");
        return string.Join("\n", lines);
    }

    private bool Converged()
    {
        var reference = _machines[Ids[0]].Applied;
        return reference.Any(a => a.Command == "final") && Ids.All(id => _machines[id].Applied.SequenceEqual(reference));
    }

    /// <summary>Each node's status (a round trip through its mailbox).</summary>
    public IReadOnlyList<RaftStatus> Statuses() => Ids.Select(Status).ToArray();

    private RaftStatus Status(ulong id)
    {
        _status.Send(_nodes[id], GetRaftStatus.Instance);
        return _status.ExpectMsg<RaftStatus>(s => s.NodeId == id);
    }

    private string PersistenceId(ulong id) => $"sim{_seed}-{Ids.Length}-raft-{id}";

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
            PersistenceId = PersistenceId(id),

            // Snapshots every few entries and small chunks, so restarts recover from snapshots and lagging nodes catch up
            // through chunked InstallSnapshot over the lossy network (Raft §7). From the seed, not the random source, so
            // the fault schedule of a seed is unchanged.
            SnapshotEntries = 3 + (_seed % 3),
            CompactionMarginEntries = _seed % 2,
            SnapshotChunkBytes = 1024,
            StateMachineFactory = () =>
            {
                var machine = new RecordingStateMachine();
                lock (_allMachines)
                {
                    _machines[id] = machine;
                    _allMachines.Add((id, machine));
                }

                return machine;
            },
            RandomFactory = () => new SeededRaftRandom(timeoutSeed),
        };
        var peers = Ids.Where(p => p != id).ToDictionary(p => p, _ => _network);
        var node = _kit.Sys.ActorOf(KvCluster.Raft.Actor.RaftActor.Props(settings, peers), $"sim{_seed}-{Ids.Length}-raft-{id}-{incarnation}");
        _nodes[id] = node;
        _network.Tell(new RegisterNode(id, node));
        _kit.AwaitCondition(() => !Status(id).Recovering, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(5), $"node {id} did not finish recovery");
    }

    private void Restart(ulong id)
    {
        var old = _nodes[id];
        _status.Watch(old);
        _kit.Sys.Stop(old);
        _status.ExpectTerminated(old);
        _status.Unwatch(old);
        Start(id);
    }

    public void Dispose()
    {
        foreach (var node in _nodes.Values)
        {
            _kit.Sys.Stop(node);
        }

        _kit.Sys.Stop(_network);
        _kit.Sys.EventStream.Unsubscribe(_errors);
        _kit.Sys.Stop(_errors);
    }

    /// <summary>Keeps the errors and warnings the system logged during a run (the last 20), for a failure's report.</summary>
    private sealed class ErrorRecorder : ReceiveActor
    {
        private readonly Queue<string> _events = new();

        public ErrorRecorder()
        {
            Receive<Akka.Event.LogEvent>(e =>
            {
                _events.Enqueue($"    [{e.LogLevel()}] {e.LogSource}: {e.Message}{(e is Akka.Event.Error { Cause: { } cause } ? $" ({cause.GetType().Name}: {cause.Message}{(cause.InnerException is { } inner ? $" <- {inner.GetType().Name}: {inner.Message}" : "")})" : "")}");
                if (_events.Count > 20)
                {
                    _events.Dequeue();
                }
            });
            Receive<GetReport>(_ => Sender.Tell(_events.Count == 0 ? "    none" : string.Join("\n", _events)));
        }
    }
}
