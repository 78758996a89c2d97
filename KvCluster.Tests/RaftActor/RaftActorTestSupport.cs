using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>A state machine that records every applied command (thread-safe: the test reads while the actor writes).</summary>
internal sealed class RecordingStateMachine : IStateMachine
{
    private readonly object _lock = new();
    private readonly List<(long Index, string Command)> _applied = new();

    public IReadOnlyList<(long Index, string Command)> Applied
    {
        get
        {
            lock (_lock)
            {
                return _applied.ToArray();
            }
        }
    }

    public IReadOnlyList<string> Commands => Applied.Select(a => a.Command).ToArray();

    public ReadOnlyMemory<byte> Apply(long index, ReadOnlyMemory<byte> command)
    {
        var text = Encoding.UTF8.GetString(command.Span);
        lock (_lock)
        {
            if (_applied.Count > 0 && _applied[^1].Index >= index)
            {
                throw new InvalidOperationException($"Index {index} applied after {_applied[^1].Index}.");
            }

            _applied.Add((index, text));
        }

        return Encoding.UTF8.GetBytes($"ok:{text}@{index}");
    }

    public ReadOnlyMemory<byte> Query(ReadOnlyMemory<byte> query)
    {
        lock (_lock)
        {
            return Encoding.UTF8.GetBytes(string.Join(",", _applied.Select(a => a.Command)));
        }
    }

    /// <summary>Snapshots restored so far, as (index, commands in the image).</summary>
    public IReadOnlyList<(long Index, int Commands)> Restored
    {
        get
        {
            lock (_lock)
            {
                return _restored.ToArray();
            }
        }
    }

    private readonly List<(long Index, int Commands)> _restored = new();

    /// <summary>Captures a copy of the applied list; serialized as "index TAB command" lines behind a "REC1" header.</summary>
    public IStateMachineSnapshot CaptureSnapshot()
    {
        lock (_lock)
        {
            return new Capture(_applied.Count == 0 ? 0 : _applied[^1].Index, _applied.ToArray());
        }
    }

    public void RestoreSnapshot(long index, ReadOnlyMemory<byte> image)
    {
        var text = Encoding.UTF8.GetString(image.Span);
        var lines = text.Split('\n');
        if (lines.Length == 0 || lines[0] != "REC1")
        {
            throw new InvalidDataException($"Recording snapshot at index {index}: the header \"REC1\" is missing.");
        }

        var restored = new List<(long, string)>();
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var tab = line.IndexOf('\t');
            if (tab < 0 || !long.TryParse(line.AsSpan(0, tab), out var i))
            {
                throw new InvalidDataException($"Recording snapshot at index {index}: bad line \"{line}\".");
            }

            restored.Add((i, line[(tab + 1)..]));
        }

        lock (_lock)
        {
            _applied.Clear();
            _applied.AddRange(restored);
            _restored.Add((index, restored.Count));
        }
    }

    private sealed record Capture(long AppliedIndex, (long Index, string Command)[] Applied) : IStateMachineSnapshot
    {
        public byte[] Serialize()
        {
            var builder = new StringBuilder("REC1\n");
            foreach (var (index, command) in Applied)
            {
                builder.Append(index).Append('\t').Append(command).Append('\n');
            }

            return Encoding.UTF8.GetBytes(builder.ToString());
        }
    }
}

/// <summary>Network control messages for <see cref="SimNetwork"/>.</summary>
internal sealed record RegisterNode(ulong Id, IActorRef Ref) : INoSerializationVerificationNeeded;

/// <summary>Cuts every link between <see cref="Side"/> and the other nodes (both directions).</summary>
internal sealed record Partition(IReadOnlySet<ulong> Side) : INoSerializationVerificationNeeded;

/// <summary>Restores every link.</summary>
internal sealed record Heal : INoSerializationVerificationNeeded;

/// <summary>
/// The simulated network between RaftActors: every node's peer map points here, and this actor forwards each Raft
/// message to its destination unless a partition cuts the link (the message is then lost, as on a real network).
/// </summary>
internal sealed class SimNetwork : ReceiveActor
{
    private readonly Dictionary<ulong, IActorRef> _nodes = new();
    private IReadOnlySet<ulong>? _side;

    public SimNetwork()
    {
        Receive<RegisterNode>(r => _nodes[r.Id] = r.Ref);
        Receive<Partition>(p => _side = p.Side);
        Receive<Heal>(_ => _side = null);
        Receive<RaftMessage>(m =>
        {
            if (_side is not null && _side.Contains(m.From) != _side.Contains(m.To))
            {
                return;
            }

            if (_nodes.TryGetValue(m.To, out var target))
            {
                target.Tell(m, Sender);
            }
        });
    }
}

/// <summary>What a <see cref="GatedJournal"/> does with writes: hold them until released, or fail them.</summary>
internal sealed class JournalGate
{
    private readonly object _lock = new();
    private TaskCompletionSource? _gate;
    private int _pendingWrites;

    /// <summary>Writes submitted and not yet released.</summary>
    public int PendingWrites => Volatile.Read(ref _pendingWrites);

    /// <summary>When set, every write fails with this exception (a storage failure).</summary>
    public Exception? FailWith { get; set; }

    public void Hold() => Close(ref _gate);

    public void Release() => Open(ref _gate);

    private TaskCompletionSource? _recoveryGate;

    /// <summary>Holds every recovery (the journal's highest-sequence-number query) until <see cref="ReleaseRecovery"/>.</summary>
    public void HoldRecovery() => Close(ref _recoveryGate);

    public void ReleaseRecovery() => Open(ref _recoveryGate);

    /// <summary>Waits while recovery is held.</summary>
    public Task PassRecoveryAsync()
    {
        lock (_lock)
        {
            return _recoveryGate?.Task ?? Task.CompletedTask;
        }
    }

    private void Close(ref TaskCompletionSource? gate)
    {
        lock (_lock)
        {
            gate ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private void Open(ref TaskCompletionSource? gate)
    {
        TaskCompletionSource? opened;
        lock (_lock)
        {
            opened = gate;
            gate = null;
        }

        opened?.SetResult();
    }

    /// <summary>Waits while held, then throws <see cref="FailWith"/> if set.</summary>
    public async Task PassAsync()
    {
        Task? wait;
        lock (_lock)
        {
            wait = _gate?.Task;
        }

        Interlocked.Increment(ref _pendingWrites);
        try
        {
            if (wait is not null)
            {
                await wait.ConfigureAwait(false);
            }

            if (FailWith is { } error)
            {
                throw error;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _pendingWrites);
        }
    }
}

/// <summary>
/// Akka's in-memory journal with a <see cref="JournalGate"/> in front of its writes (the gate is found by the plugin
/// config's <c>gate-id</c>, so parallel specs do not share one).
/// </summary>
internal sealed class GatedJournal : MemoryJournal
{
    public static readonly ConcurrentDictionary<string, JournalGate> Gates = new();

    private readonly JournalGate _gate;

    public GatedJournal(Config config)
    {
        _gate = Gates.GetOrAdd(config.GetString("gate-id"), _ => new JournalGate());
    }

    /// <summary>HOCON making a gated journal the default one; <paramref name="gateId"/> names its gate.</summary>
    public static Config Hocon(string gateId) => ConfigurationFactory.ParseString($$"""
        akka.persistence.journal.plugin = "akka.persistence.journal.gated"
        akka.persistence.journal.gated {
          class = "{{typeof(GatedJournal).FullName}}, {{typeof(GatedJournal).Assembly.GetName().Name}}"
          plugin-dispatcher = "akka.actor.default-dispatcher"
          gate-id = "{{gateId}}"
        }
        """);

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        await _gate.PassRecoveryAsync().ConfigureAwait(false);
        return await base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken).ConfigureAwait(false);
    }

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages.ToList();
        await _gate.PassAsync().ConfigureAwait(false);
        return await base.WriteMessagesAsync(writes, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Akka's in-memory snapshot store with a <see cref="JournalGate"/> in front of its saves (found by the plugin config's
/// <c>gate-id</c>), so a spec can hold a snapshot save in progress.
/// </summary>
internal sealed class GatedSnapshotStore : Akka.Persistence.Snapshot.MemorySnapshotStore
{
    private readonly JournalGate _gate;

    public GatedSnapshotStore(Config config)
    {
        _gate = GatedJournal.Gates.GetOrAdd(config.GetString("gate-id"), _ => new JournalGate());
    }

    /// <summary>HOCON making a gated snapshot store the default one; <paramref name="gateId"/> names its gate.</summary>
    public static Config Hocon(string gateId) => ConfigurationFactory.ParseString($$"""
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.gated"
        akka.persistence.snapshot-store.gated {
          class = "{{typeof(GatedSnapshotStore).FullName}}, {{typeof(GatedSnapshotStore).Assembly.GetName().Name}}"
          plugin-dispatcher = "akka.actor.default-dispatcher"
          gate-id = "{{gateId}}"
        }
        """);

    protected override async Task SaveAsync(Akka.Persistence.SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        await _gate.PassAsync().ConfigureAwait(false);
        await base.SaveAsync(metadata, snapshot, cancellationToken).ConfigureAwait(false);
    }
}
