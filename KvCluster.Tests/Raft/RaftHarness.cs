using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>An <see cref="IRaftRandom"/> that always returns the same election timeout.</summary>
internal sealed class FixedRaftRandom(int value) : IRaftRandom
{
    public int Next(int minInclusive, int maxExclusive) => Math.Clamp(value, minInclusive, maxExclusive - 1);
}

/// <summary>
/// Drives a small cluster of cores by hand for rule tests: messages collect in <see cref="Outbox"/> until a test
/// delivers, drops or inspects them. Every Ready is carried out in the documented order (persist, send, apply).
/// </summary>
internal sealed class RaftHarness
{
    public const int MinTimeout = 10;
    public const int MaxTimeout = 20;

    public Dictionary<ulong, RaftNode> Nodes { get; } = new();
    public Dictionary<ulong, MemoryRaftStorage> Storage { get; } = new();
    public Dictionary<ulong, List<Entry>> Applied { get; } = new();
    public Dictionary<ulong, List<ReadState>> Reads { get; } = new();
    public List<RaftMessage> Outbox { get; } = new();
    public HashSet<ulong> Isolated { get; } = new();
    public Func<RaftConfig, RaftConfig> Configure { get; }

    /// <summary>Snapshots each node installed from a leader (the Ready's <see cref="Ready.Snapshot"/>), in order.</summary>
    public Dictionary<ulong, List<SnapshotMetadata>> Installed { get; } = new();

    /// <summary>
    /// Node <paramref name="id"/> snapshots its state at its applied index and compacts its storage up to that index
    /// minus <paramref name="margin"/> (what a driver does once the snapshot is durable; Raft §7).
    /// </summary>
    public SnapshotMetadata SnapshotAndCompact(ulong id, long margin = 0)
    {
        var metadata = Nodes[id].CreateSnapshotMetadata(Nodes[id].AppliedIndex);
        Storage[id].CreateSnapshot(metadata);
        Storage[id].Compact(Math.Max(0, metadata.Index - margin));
        return metadata;
    }

    /// <summary>The founding voters (the bootstrap configuration of every founding node).</summary>
    public ulong[] InitialVoters { get; }

    /// <summary>Nodes started with <see cref="RaftConfig.Join"/> by <see cref="AddJoiner"/>.</summary>
    public HashSet<ulong> Joiners { get; } = new();

    public RaftHarness(int count, Func<RaftConfig, RaftConfig>? configure = null, Func<ulong, int>? timeoutOf = null)
    {
        Configure = configure ?? (c => c);
        var voters = Enumerable.Range(1, count).Select(i => (ulong)i).ToArray();
        InitialVoters = voters;
        foreach (var id in voters)
        {
            Storage[id] = new MemoryRaftStorage();
            Applied[id] = new List<Entry>();
            Reads[id] = new List<ReadState>();
            var timeout = timeoutOf?.Invoke(id) ?? MaxTimeout - 1;
            Nodes[id] = new RaftNode(Config(id, voters), Storage[id], new FixedRaftRandom(timeout));
        }
    }

    /// <summary>Starts node <paramref name="id"/> as a joiner: empty log, empty configuration, Join set.</summary>
    public RaftNode AddJoiner(ulong id, int timeout = MaxTimeout - 1)
    {
        Storage[id] = new MemoryRaftStorage();
        Applied[id] = new List<Entry>();
        Reads[id] = new List<ReadState>();
        Joiners.Add(id);
        Nodes[id] = new RaftNode(Config(id, []) with { Join = true }, Storage[id], new FixedRaftRandom(timeout));
        return Nodes[id];
    }

    public RaftConfig Config(ulong id, ulong[] voters) => Configure(new RaftConfig
    {
        NodeId = id,
        Voters = voters,
        ElectionTimeoutMinTicks = MinTimeout,
        ElectionTimeoutMaxTicks = MaxTimeout,
        HeartbeatIntervalTicks = 1,
    });

    public RaftNode this[ulong id] => Nodes[id];

    /// <summary>Carries out every pending Ready of node <paramref name="id"/>; returns the Readies handled.</summary>
    public List<Ready> Process(ulong id)
    {
        var handled = new List<Ready>();
        var node = Nodes[id];
        while (node.HasReady)
        {
            var ready = node.GetReady();
            Outbox.AddRange(ready.Messages);
            Storage[id].Persist(ready);
            if (ready.Snapshot is { } snapshot)
            {
                Installed.TryAdd(id, new List<SnapshotMetadata>());
                Installed[id].Add(snapshot);
            }

            Outbox.AddRange(ready.MessagesAfterPersist);
            foreach (var e in ready.CommittedEntries)
            {
                Applied[id].Add(e);
            }

            Reads[id].AddRange(ready.ReadStates);
            node.Advance(ready);
            handled.Add(ready);
        }

        return handled;
    }

    public void ProcessAll()
    {
        foreach (var id in Nodes.Keys)
        {
            Process(id);
        }
    }

    /// <summary>Removes and returns the queued messages matching <paramref name="filter"/> (after processing every node).</summary>
    public List<RaftMessage> Take(Func<RaftMessage, bool>? filter = null)
    {
        ProcessAll();
        var taken = Outbox.Where(m => filter?.Invoke(m) ?? true).ToList();
        Outbox.RemoveAll(m => filter?.Invoke(m) ?? true);
        return taken;
    }

    public List<T> Take<T>(ulong? from = null, ulong? to = null) where T : RaftMessage =>
        Take(m => m is T && (from is null || m.From == from) && (to is null || m.To == to)).Cast<T>().ToList();

    /// <summary>Delivers messages until none are left; messages to or from isolated nodes are dropped.</summary>
    public void DeliverAll(Func<RaftMessage, bool>? drop = null)
    {
        for (var round = 0; round < 1000; round++)
        {
            ProcessAll();
            if (Outbox.Count == 0)
            {
                return;
            }

            var batch = Outbox.ToList();
            Outbox.Clear();
            foreach (var m in batch)
            {
                if (Isolated.Contains(m.From) || Isolated.Contains(m.To) || (drop?.Invoke(m) ?? false)
                    || !Nodes.TryGetValue(m.To, out var target))
                {
                    continue; // isolated, dropped, or to a node that was never started
                }

                target.Step(m);
            }
        }

        throw new InvalidOperationException("Messages still flowing after 1000 rounds.");
    }

    public void Deliver(IEnumerable<RaftMessage> messages)
    {
        foreach (var m in messages)
        {
            Nodes[m.To].Step(m);
        }
    }

    /// <summary>Makes <paramref name="id"/> leader by an election with every message delivered.</summary>
    public RaftNode Elect(ulong id)
    {
        Nodes[id].Campaign();
        DeliverAll();
        Assert.Equal(RaftRole.Leader, Nodes[id].Role);
        return Nodes[id];
    }

    public void Tick(ulong id, int ticks = 1)
    {
        for (var i = 0; i < ticks; i++)
        {
            Nodes[id].Tick();
        }
    }

    public void TickAll(int ticks = 1)
    {
        for (var i = 0; i < ticks; i++)
        {
            foreach (var n in Nodes.Values)
            {
                n.Tick();
            }
        }
    }

    /// <summary>Restarts node <paramref name="id"/> from its storage, losing everything not persisted.</summary>
    public RaftNode Restart(ulong id, int timeout = MaxTimeout - 1)
    {
        Applied[id].Clear();
        var config = Joiners.Contains(id) ? Config(id, []) with { Join = true } : Config(id, InitialVoters);
        Nodes[id] = new RaftNode(config, Storage[id], new FixedRaftRandom(timeout), Storage[id].Snapshot.Index);
        return Nodes[id];
    }

    public static ReadOnlyMemory<byte> Cmd(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    public static string Text(Entry e) => System.Text.Encoding.UTF8.GetString(e.Data.Span);

    public List<string> AppliedCommands(ulong id) =>
        Applied[id].Where(e => e.Type == EntryType.Normal).Select(Text).ToList();
}
