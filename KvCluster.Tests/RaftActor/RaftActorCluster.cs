using System.Text;
using Akka.Actor;
using Akka.Persistence;
using Akka.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Tests.Raft;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// N RaftActors in the kit's actor system on virtual time, behind a <see cref="SimNetwork"/>. Node i's election
/// timeout is fixed at <c>10 + 4 (i - 1)</c> ticks (clamped to [10, 19]) so the order in which nodes time out is known.
/// Every node's journal is the kit system's default journal (Akka's in-memory one, or SQLite when the spec configures
/// it), so a stopped node restarts from what it persisted.
/// </summary>
internal sealed class RaftActorCluster
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);
    public const int MinTimeout = 10;
    public const int MaxTimeout = 20;

    private readonly RaftActorTestKit _kit;
    private readonly TestProbe _statusProbe;
    private readonly Func<RaftConfig, RaftConfig> _configure;
    private readonly Func<RaftActorSettings, RaftActorSettings> _configureActor;
    private readonly Dictionary<ulong, int> _incarnations = new();

    public RaftActorCluster(
        RaftActorTestKit kit,
        int size,
        Func<RaftConfig, RaftConfig>? configure = null,
        Props? network = null,
        Func<RaftActorSettings, RaftActorSettings>? configureActor = null)
    {
        _kit = kit;
        _configure = configure ?? (c => c);
        _configureActor = configureActor ?? (s => s);
        _statusProbe = kit.CreateTestProbe("status");
        Ids = Enumerable.Range(1, size).Select(i => (ulong)i).ToArray();
        Network = kit.Sys.ActorOf(network ?? Props.Create(() => new SimNetwork()), "net");
        foreach (var id in Ids)
        {
            Start(id);
        }
    }

    public ulong[] Ids { get; }

    /// <summary>Nodes started with <see cref="AddJoiner"/> (they run with <see cref="RaftConfig.Join"/>).</summary>
    public List<ulong> Joiners { get; } = new();

    /// <summary>Founding nodes and joiners.</summary>
    public IEnumerable<ulong> AllIds => Ids.Concat(Joiners);

    public IActorRef Network { get; }

    public Dictionary<ulong, IActorRef> Nodes { get; } = new();

    /// <summary>The state machine of each node's latest incarnation.</summary>
    public Dictionary<ulong, RecordingStateMachine> Machines { get; } = new();

    /// <summary>Every state machine ever created, with its node (all incarnations).</summary>
    public List<(ulong Node, RecordingStateMachine Machine)> AllMachines { get; } = new();

    public RaftActorSettings Settings(ulong id) => _configureActor(new RaftActorSettings
    {
        Raft = _configure(new RaftConfig
        {
            NodeId = id,
            Voters = Joiners.Contains(id) ? [] : Ids,
            Join = Joiners.Contains(id),
            ElectionTimeoutMinTicks = MinTimeout,
            ElectionTimeoutMaxTicks = MaxTimeout,
        }),
        TickInterval = TickInterval,
        StateMachineFactory = () =>
        {
            var machine = new RecordingStateMachine();
            lock (Machines)
            {
                Machines[id] = machine;
                AllMachines.Add((id, machine));
            }

            return machine;
        },
        RandomFactory = () => new FixedRaftRandom((int)Math.Min(10 + (4 * ((long)id - 1)), MaxTimeout - 1)),
        SoleVoterCampaignsAtStart = false, // elections here are scripted tick by tick; specs that test the shortcut turn it on
    });

    public IActorRef Start(ulong id)
    {
        var incarnation = _incarnations[id] = _incarnations.GetValueOrDefault(id) + 1;
        var peers = AllIds.Where(p => p != id).ToDictionary(p => p, _ => Network);
        var node = _kit.Sys.ActorOf(KvCluster.Raft.Actor.RaftActor.Props(Settings(id), peers), $"raft-{id}-{incarnation}");
        Nodes[id] = node;
        Network.Tell(new RegisterNode(id, node));
        _kit.AwaitCondition(() => !Status(id).Recovering, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(5), $"node {id} did not finish recovery");
        return node;
    }

    /// <summary>
    /// Starts node <paramref name="id"/> as a joiner (empty journal, Join set) and gives every running node a peer map
    /// that reaches it, as the node host does before it sends <see cref="AddMember"/>.
    /// </summary>
    public IActorRef AddJoiner(ulong id, bool reachable = true)
    {
        Joiners.Add(id);
        var node = Start(id);
        if (reachable)
        {
            ConnectAll();
        }

        return node;
    }

    /// <summary>Gives every running node a peer map that reaches every founding node and joiner (SetPeers).</summary>
    public void ConnectAll()
    {
        foreach (var id in AllIds)
        {
            Nodes[id].Tell(new SetPeers(AllIds.Where(p => p != id).ToDictionary(p => p, _ => Network)), ActorRefs.NoSender);
        }

        Statuses(AllIds); // every node handled its SetPeers
    }

    public void Stop(ulong id)
    {
        var probe = _kit.CreateTestProbe();
        probe.Watch(Nodes[id]);
        _kit.Sys.Stop(Nodes[id]);
        probe.ExpectTerminated(Nodes[id]);

        // A process restart starts after the old process's last write; an in-process one must too, or the old
        // incarnation's in-flight write (a hard state, say) lands after the new one replayed, as a second writer of the
        // same stream. The journal writes in order, so one more write is a barrier behind it.
        var barrier = _kit.Sys.ActorOf(Props.Create(() => new JournalBarrier()));
        probe.Send(barrier, "write");
        probe.ExpectMsg("written", TimeSpan.FromSeconds(10));
        _kit.Sys.Stop(barrier);
    }

    public RaftStatus Status(ulong id)
    {
        _statusProbe.Send(Nodes[id], GetRaftStatus.Instance);
        return _statusProbe.ExpectMsg<RaftStatus>(s => s.NodeId == id);
    }

    public IReadOnlyList<RaftStatus> Statuses(IEnumerable<ulong>? ids = null) => (ids ?? Ids).Select(Status).ToArray();

    /// <summary>Advances virtual time one tick at a time; after each, every node has handled it (status round trip).</summary>
    public void Tick(int ticks = 1, IEnumerable<ulong>? live = null)
    {
        for (var i = 0; i < ticks; i++)
        {
            _kit.Advance(TickInterval);
            Statuses(live);
        }
    }

    /// <summary>Ticks (at most <paramref name="maxTicks"/>) until exactly one of <paramref name="among"/> leads in a term
    /// that the others in <paramref name="among"/> agree on; returns its status.</summary>
    public RaftStatus TickUntilLeader(int maxTicks, IEnumerable<ulong>? among = null)
    {
        var group = (among ?? Ids).ToArray();
        for (var i = 0; i <= maxTicks; i++)
        {
            var statuses = Statuses(group);
            if (statuses.Any(s => s.Role != RaftRole.Follower))
            {
                // An election or a leader is under way: let its messages settle before the next tick.
                var leader = AwaitStableLeader(group, TimeSpan.FromSeconds(2));
                if (leader is not null)
                {
                    return leader;
                }
            }

            Tick(1, group);
        }

        throw new Xunit.Sdk.XunitException($"No leader among nodes {string.Join(", ", group)} after {maxTicks} ticks: " +
            string.Join("; ", Statuses(group).Select(s => $"{s.NodeId}:{s.Role}/t{s.Term}/l{s.Leader}")));
    }

    /// <summary>Waits (real time, bounded) for a leader every node of the group acknowledges, without advancing time.</summary>
    public RaftStatus? AwaitStableLeader(ulong[] group, TimeSpan wait)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var statuses = Statuses(group);
            var leaders = statuses.Where(s => s.Role == RaftRole.Leader).ToArray();
            if (leaders.Length == 1 && statuses.All(s => s.Leader == leaders[0].NodeId && s.Term == leaders[0].Term))
            {
                return leaders[0];
            }

            if (DateTime.UtcNow >= deadline)
            {
                return null;
            }

            using var pause = new ManualResetEventSlim(false);
            pause.Wait(TimeSpan.FromMilliseconds(5));
        }
    }

    public static Propose Command(string text) => new(Encoding.UTF8.GetBytes(text));

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    /// <summary>Persists one event on a stream of its own and answers: every write queued before it is done.</summary>
    private sealed class JournalBarrier : ReceivePersistentActor
    {
        private readonly string _id = $"stop-barrier-{Guid.NewGuid():N}";

        public JournalBarrier()
        {
            Command<string>(_ => Persist("barrier", _ => Sender.Tell("written")));
        }

        public override string PersistenceId => _id;
    }
}
