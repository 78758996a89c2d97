using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft.Simulation;

/// <summary>
/// A deterministic, seeded simulation of a cluster of Raft cores behind a hostile network: messages are dropped,
/// delayed, duplicated and reordered; the cluster is partitioned and healed; nodes crash (losing everything not
/// persisted, sometimes between sending a leader's appends and persisting them) and restart from storage; clients
/// propose and read at random nodes. After every step a <see cref="SafetyChecker"/> verifies Raft's safety properties;
/// <see cref="CheckLiveness"/> verifies that after healing a proposal commits within a bounded number of ticks.
/// The same seed always produces the same run. With spare nodes, the leader also makes random single-server
/// membership changes (see <c>RaftSimulation.Membership.cs</c>).
/// </summary>
internal sealed partial class RaftSimulation
{
    private readonly Random _rng;
    private readonly int _seed;
    private readonly ulong[] _ids;
    private readonly RaftConfig _template;
    private readonly SafetyChecker _checker = new();
    private readonly Dictionary<ulong, MemoryRaftStorage> _disk = new();
    private readonly Dictionary<ulong, RaftNode?> _nodes = new();
    private readonly Dictionary<ulong, long> _appliedIndex = new();
    private readonly Dictionary<ulong, int> _incarnation = new();
    private readonly Dictionary<ulong, int> _group = new();
    private readonly Dictionary<(ulong Node, ulong Context), long> _readsInFlight = new();
    private readonly List<(long At, long Seq, RaftMessage Message)> _network = new();
    private readonly Queue<string> _trace = new();
    private readonly Dictionary<ulong, Ready> _persisting = new();
    private readonly double _dropRate;
    private readonly double _duplicateRate;
    private long _now;
    private long _seq;
    private ulong _nextRead = 1;
    private int _proposals;
    private bool _faults = true;

    /// <summary>Creates the run.</summary>
    /// <param name="seed">The seed of every random choice.</param>
    /// <param name="nodeCount">Founding voters.</param>
    /// <param name="spareCount">Extra nodes that start as joiners; when positive, membership changes are made.</param>
    public RaftSimulation(int seed, int nodeCount, int spareCount = 0)
    {
        _seed = seed;
        _rng = new Random(seed);
        _founders = Enumerable.Range(1, nodeCount).Select(i => (ulong)i).ToArray();
        _ids = Enumerable.Range(1, nodeCount + spareCount).Select(i => (ulong)i).ToArray();
        _spareCount = spareCount;
        _dropRate = _rng.NextDouble() * 0.15;
        _duplicateRate = _rng.NextDouble() * 0.05;
        var min = _rng.Next(5, 12);
        _template = new RaftConfig
        {
            NodeId = 1,
            Voters = _founders,
            HeartbeatIntervalTicks = _rng.Next(1, 3),
            ElectionTimeoutMinTicks = min,
            ElectionTimeoutMaxTicks = min + _rng.Next(3, 12),
            PreVote = _rng.Next(4) != 0,
            CheckQuorum = _rng.Next(4) != 0,
            MaxInflightMessages = _rng.Next(1, 8),
            MaxInflightBytes = _rng.Next(40, 400),
            MaxEntriesPerMessage = _rng.Next(1, 6),
            MaxBytesPerMessage = _rng.Next(20, 200),
            MaxUncommittedBytes = _rng.Next(100, 2000),
        };
        ConfigureSnapshots();
        foreach (var id in _ids)
        {
            _disk[id] = new MemoryRaftStorage();
            _incarnation[id] = 0;
            _group[id] = 0;
            Start(id);
        }
    }

    /// <summary>Messages handed to the network so far (for sizing runs).</summary>
    public long MessagesSent => _seq;

    /// <summary>The last events, for a failure report.</summary>
    public string Trace => string.Join(Environment.NewLine, _trace);

    /// <summary>What the run exercised, for sizing and sanity checks.</summary>
    public string Summary =>
        $"committed {_checker.MaxCommitted}, leader terms {_checker.LeaderTerms}, reads checked {_readsChecked}, crashes {_crashes}, messages {_seq}, config changes {_changesAccepted}, " +
        $"snapshots taken {_snapshotsTaken} sent {_snapshotsSent} installed {_snapshotsInstalled}";

    private int _readsChecked;
    private int _crashes;

    public string Describe =>
        $"{_ids.Length} nodes, drop {_dropRate:F3}, duplicate {_duplicateRate:F3}, snapshot every {_snapshotEvery} margin {_compactionMargin}, config {_template with { NodeId = 0, Voters = [] }}";

    /// <summary>Runs <paramref name="steps"/> random steps, checking safety after each.</summary>
    public void Run(int steps)
    {
        for (var step = 0; step < steps; step++)
        {
            var roll = _rng.Next(100);
            if (roll < 55)
            {
                AdvanceTime(lossy: true);
            }
            else if (roll < 75)
            {
                Propose(_ids[_rng.Next(_ids.Length)]);
            }
            else if (roll < 82)
            {
                StartRead(_ids[_rng.Next(_ids.Length)]);
            }
            else if (roll < 85)
            {
                Partition();
            }
            else if (roll < 88)
            {
                Heal();
            }
            else if (roll < 89)
            {
                Crash(_ids[_rng.Next(_ids.Length)], "crash");
            }
            else if (roll < 90)
            {
                // Figure 8 needs leaders to fail right after appending entries they have not yet replicated.
                var leader = _ids.FirstOrDefault(id => _nodes[id]?.Role == RaftRole.Leader);
                if (leader != 0)
                {
                    Crash(leader, "crash leader");
                }
            }
            else if (roll < 91)
            {
                // Lose a write that is still in flight: the core must not have counted it as durable anywhere.
                var writing = _persisting.Keys.ToArray();
                if (writing.Length > 0)
                {
                    Crash(writing[_rng.Next(writing.Length)], "crash during persist");
                }
            }
            else if (roll < 94)
            {
                RestartAny();
            }
            else if (roll < 95)
            {
                TransferLeadership();
            }
            else if (_spareCount > 0 && roll < 97)
            {
                ChangeMembership();
            }
            else
            {
                DeliverDue(lossy: true);
            }

            ProcessAll();
            if (_spareCount > 0)
            {
                CheckMembershipFollowsLog();
            }
        }
    }

    /// <summary>Heals everything and checks that a fresh proposal is applied by every node within a bounded time.</summary>
    public void CheckLiveness(int maxTicks)
    {
        _faults = false;
        Heal();
        foreach (var id in _ids)
        {
            if (_nodes[id] is null)
            {
                Start(id);
            }
        }

        ProcessAll();
        var command = RaftHarness.Cmd($"final-{_seed}");
        (long Index, long Term)? accepted = null;
        for (var tick = 0; tick < maxTicks; tick++)
        {
            var leader = _ids.Select(id => _nodes[id]).FirstOrDefault(n => n?.Role == RaftRole.Leader);
            var members = _spareCount > 0 ? RetireNonMembers(leader) : _ids;
            if (leader is not null && (accepted is null || leader.Term != accepted.Value.Term))
            {
                var result = leader.Propose(command);
                if (result.Status == ProposeStatus.Accepted)
                {
                    accepted = (result.Index, result.Term);
                    Log($"final proposal accepted at {result.Index} term {result.Term} by {leader.Id}");
                }

                ProcessAll();
            }

            if (accepted is { } a && members.Length > 0 && members.All(id => _nodes[id] is { } n && n.AppliedIndex >= a.Index))
            {
                if (_checker.CommittedTerm(a.Index) == a.Term)
                {
                    return;
                }

                accepted = null; // lost to a leader change: propose again
            }

            AdvanceTime(lossy: false);
            ProcessAll();
        }

        var states = string.Join("; ", _ids.Select(id => _nodes[id] is { } n
            ? $"{id}: {n.Role} t{n.Term} leader {n.Leader} last {n.LastIndex} commit {n.CommitIndex} applied {n.AppliedIndex} config@{n.MembershipIndex} ({n.Membership})"
            : $"{id}: down"));
        throw new SafetyViolationException($"Liveness: after healing, no proposal was applied by all nodes within {maxTicks} ticks. Nodes: {states}");
    }

    private void Start(ulong id)
    {
        _incarnation[id]++;
        // Not HashCode.Combine: it is seeded per process, so a printed seed would not replay the run.
        var random = new SeededRaftRandom(unchecked((_seed * 1_000_003) + ((int)id * 7_919) + _incarnation[id]));
        var config = _founders.Contains(id) ? _template with { NodeId = id } : _template with { NodeId = id, Voters = [], Join = true };
        var applied = RestoreOnStart(id);
        _nodes[id] = new RaftNode(config, _disk[id], random, applied);
        _appliedIndex[id] = applied;
        Log($"start {id} (incarnation {_incarnation[id]}, term {_disk[id].InitialHardState.Term}, log {_disk[id].LastIndex})");
    }

    private void Crash(ulong id, string why)
    {
        if (_nodes[id] is null)
        {
            return;
        }

        _nodes[id] = null;
        _persisting.Remove(id); // an unfinished write is lost with the process
        _crashes++;
        Log($"{why} {id}");
    }

    private void RestartAny()
    {
        var down = _ids.Where(id => _nodes[id] is null).ToArray();
        if (down.Length > 0)
        {
            Start(down[_rng.Next(down.Length)]);
        }
    }

    private void AdvanceTime(bool lossy)
    {
        _now++;
        foreach (var id in _ids)
        {
            _nodes[id]?.Tick();
        }

        ProcessAll();
        DeliverDue(lossy);
    }

    /// <summary>Delivers every message whose time has come, in random order, until none is due (bounded).</summary>
    private void DeliverDue(bool lossy)
    {
        for (var round = 0; round < 20; round++)
        {
            var due = _network.Where(m => m.At <= _now).ToList();
            if (due.Count == 0)
            {
                return;
            }

            _network.RemoveAll(m => m.At <= _now);
            Shuffle(due);
            foreach (var (_, _, message) in due)
            {
                var target = _nodes[message.To];
                if (target is null || _group[message.From] != _group[message.To] || (lossy && _rng.NextDouble() < _dropRate))
                {
                    if (message is InstallSnapshot lost)
                    {
                        OnSnapshotMessage(lost, delivered: false);
                    }

                    continue;
                }

                if (message is InstallSnapshot install)
                {
                    OnSnapshotMessage(install, delivered: true);
                }

                target.Step(message);
                _checker.ObserveRole(target);
            }

            ProcessAll();
        }
    }

    private void Enqueue(IEnumerable<RaftMessage> messages, bool lossy)
    {
        foreach (var m in messages)
        {
            lossy &= _faults;
            var delay = lossy && _rng.Next(10) < 3 ? _rng.Next(1, 4) : 0;
            _network.Add((_now + delay, _seq++, m));
            if (lossy && _rng.NextDouble() < _duplicateRate)
            {
                _network.Add((_now + _rng.Next(0, 6), _seq++, m));
            }
        }
    }

    /// <summary>
    /// Carries out Readies. Like the RaftActor with an asynchronous journal, a node may leave a Ready's persist "in
    /// flight" across later steps: ticks, messages and proposals reach the core between GetReady and Advance.
    /// </summary>
    private void ProcessAll()
    {
        for (var round = 0; round < 10; round++)
        {
            var any = false;
            foreach (var id in _ids)
            {
                var node = _nodes[id];
                if (node is null)
                {
                    continue;
                }

                if (_persisting.TryGetValue(id, out var inFlight))
                {
                    if (_faults && _rng.Next(2) == 0)
                    {
                        continue; // the write is still in progress
                    }

                    _persisting.Remove(id);
                    Complete(id, node, inFlight);
                    any = true;
                }

                if (node.HasReady)
                {
                    any = true;
                    Begin(id, node);
                }
            }

            if (!any)
            {
                return;
            }
        }
    }

    /// <summary>Takes a Ready and sends the messages that need not wait for the disk; the write starts.</summary>
    private void Begin(ulong id, RaftNode node)
    {
        _checker.ObserveRole(node);
        var ready = node.GetReady();
        Enqueue(ready.Messages, lossy: true);
        if (_faults && ready.MustPersist && _rng.Next(400) == 0)
        {
            // The leader's appends went out but the process died before its disk write: only durable state survives.
            Crash(id, "crash before persist");
            return;
        }

        if (_faults && ready.MustPersist && _rng.Next(4) == 0)
        {
            _persisting[id] = ready;
            return;
        }

        Complete(id, node, ready);
    }

    /// <summary>The write finished: persist, send after persist, apply, serve reads, advance.</summary>
    private void Complete(ulong id, RaftNode node, Ready ready)
    {
        var disk = _disk[id];
        _checker.ObservePersist(id, disk, ready);
        disk.Persist(ready);
        if (ready.Snapshot is { } snapshot)
        {
            InstallSnapshot(id, snapshot);
        }

        Enqueue(ready.MessagesAfterPersist, lossy: true);
        foreach (var entry in ready.CommittedEntries)
        {
            if (entry.Index != _appliedIndex[id] + 1)
            {
                throw new SafetyViolationException($"Apply order: node {id} applies {entry.Index} after {_appliedIndex[id]}.");
            }

            _appliedIndex[id] = entry.Index;
            _checker.ObserveApply(id, entry);
            ApplyToState(id, entry);
        }

        foreach (var read in ready.ReadStates)
        {
            if (read.Index > _appliedIndex[id])
            {
                throw new SafetyViolationException($"ReadIndex: node {id} released read at {read.Index} before applying it ({_appliedIndex[id]}).");
            }

            if (_readsInFlight.Remove((id, read.Context), out var committedBefore))
            {
                _checker.ObserveRead(id, read, committedBefore);
                _readsChecked++;
            }
        }

        node.Advance(ready);
        MaybeSnapshot(id, node);
    }

    private void Propose(ulong id)
    {
        var node = _nodes[id];
        if (node is null)
        {
            return;
        }

        var count = _rng.Next(1, 4);
        var commands = new List<ReadOnlyMemory<byte>>();
        for (var i = 0; i < count; i++)
        {
            commands.Add(RaftHarness.Cmd($"s{_seed}-c{_proposals++}"));
        }

        var result = node.Propose(commands);
        if (result.Status == ProposeStatus.NotLeader && result.LeaderHint != 0 && _nodes[result.LeaderHint] is { } leader
            && _group[id] == _group[result.LeaderHint])
        {
            result = leader.Propose(commands); // the client follows the hint
        }

        Log($"propose at {id}: {result.Status} {result.Index}");
    }

    private void StartRead(ulong id)
    {
        var node = _nodes[id];
        if (node is null)
        {
            return;
        }

        var context = _nextRead++;
        if (node.ReadIndex(context).Status == ProposeStatus.Accepted)
        {
            _readsInFlight[(id, context)] = _checker.MaxCommitted;
        }
    }

    private void Partition()
    {
        foreach (var id in _ids)
        {
            _group[id] = _rng.Next(2);
        }

        Log($"partition {string.Join(" ", _ids.Select(i => $"{i}:{_group[i]}"))}");
    }

    private void Heal()
    {
        foreach (var id in _ids)
        {
            _group[id] = 0;
        }

        Log("heal");
    }

    private void TransferLeadership()
    {
        var leader = _ids.Select(id => _nodes[id]).FirstOrDefault(n => n?.Role == RaftRole.Leader);
        if (leader is not null)
        {
            var target = _ids[_rng.Next(_ids.Length)];
            Log($"transfer {leader.Id} -> {target}: {leader.TransferLeadership(target).Status}");
        }
    }

    private void Shuffle<T>(List<T> list)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = _rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    private void Log(string text)
    {
        _trace.Enqueue($"t={_now} {text}");
        if (_trace.Count > 40)
        {
            _trace.Dequeue();
        }
    }
}
