using System.Diagnostics;
using System.Text.Json.Nodes;

namespace KvCluster.Chaos;

/// <summary>The kinds of fault the nemesis injects.</summary>
internal enum FaultKind
{
    /// <summary>SIGKILL a node, then restart it on the same data directory.</summary>
    Kill,

    /// <summary>SIGSTOP a node, then SIGCONT it.</summary>
    Pause,

    /// <summary>Black-hole every link between a node and the others, on both sides, then heal.</summary>
    Partition,
}

/// <summary>
/// One injected fault: what, on which node, whether that node led, and when (Stopwatch ticks); for a fault on the
/// leader, when another node first reported itself leader over pbm (null: none within the hold time).
/// </summary>
internal sealed record FaultRecord(FaultKind Kind, int Node, bool WasLeader, long Injected, long Ended, long? NewLeader);

/// <summary>
/// For a bounded time: a calm gap, then a fault on the leader (two times in three) or a random node, held
/// for a while and repaired; kinds in rotation kill, pause, partition. Repairs everything on the way out.
/// </summary>
internal sealed class Nemesis(IReadOnlyList<NodeProcess> nodes, int seed, TimeSpan hold, TimeSpan calm, TextWriter log)
{
    private static readonly TimeSpan s_pbmTimeout = TimeSpan.FromSeconds(2);
    private readonly Random _random = new(seed);
    private readonly List<FaultRecord> _faults = [];

    public IReadOnlyList<FaultRecord> Faults => _faults;

    public async Task RunAsync(TimeSpan duration)
    {
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var kinds = new[] { FaultKind.Kill, FaultKind.Pause, FaultKind.Partition };
        var next = _random.Next(kinds.Length);
        while (true)
        {
            await Task.Delay(calm).ConfigureAwait(false);
            var remaining = (end - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency;
            if (remaining < hold.TotalSeconds)
            {
                break;
            }

            var kind = kinds[next++ % kinds.Length];
            var leader = await FindLeaderAsync().ConfigureAwait(false);
            var target = leader is { } l && _random.Next(3) < 2 ? l : nodes[_random.Next(nodes.Count)];
            var wasLeader = leader == target;
            // The fault's time is when it is fully in place (the process gone, or every side black-holed).
            await InjectAsync(kind, target).ConfigureAwait(false);
            var injected = Stopwatch.GetTimestamp();
            log.WriteLine($"[nemesis] {Elapsed(injected)} {kind} node {target.Id}{(wasLeader ? " (leader)" : string.Empty)} for {hold.TotalSeconds:0.#} s");
            var holding = Task.Delay(hold);
            var newLeader = wasLeader ? await AwaitNewLeaderAsync(target, holding).ConfigureAwait(false) : null;
            await holding.ConfigureAwait(false);
            await RepairAsync(kind, target).ConfigureAwait(false);
            var ended = Stopwatch.GetTimestamp();
            log.WriteLine($"[nemesis] {Elapsed(ended)} repaired {kind} node {target.Id}");
            _faults.Add(new FaultRecord(kind, target.Id, wasLeader, injected, ended, newLeader));
        }
    }

    /// <summary>Resumes paused nodes, restarts dead ones and heals every link.</summary>
    public async Task RepairAllAsync()
    {
        foreach (var node in nodes)
        {
            if (node.Paused)
            {
                node.Resume();
            }

            if (!node.Running)
            {
                node.Start();
            }
        }

        foreach (var node in nodes)
        {
            await PbmChannel.SendAsync(node.PbmPort, "fault heal", s_pbmTimeout).ConfigureAwait(false);
        }
    }

    /// <summary>The node that says it leads, asked over pbm; null when none answers so.</summary>
    public async Task<NodeProcess?> FindLeaderAsync()
    {
        foreach (var node in nodes.Where(n => n.Running && !n.Paused))
        {
            var reply = await PbmChannel.SendAsync(node.PbmPort, "--output json raft status", s_pbmTimeout).ConfigureAwait(false);
            if (reply is ("ok", var body) && JsonNode.Parse(body)?["data"]?["role"]?.GetValue<string>() == "Leader")
            {
                return node;
            }
        }

        return null;
    }

    /// <summary>Polls the nodes other than <paramref name="old"/> every 50 ms until one says it leads; the time, or null once <paramref name="until"/> completes.</summary>
    private async Task<long?> AwaitNewLeaderAsync(NodeProcess old, Task until)
    {
        while (!until.IsCompleted)
        {
            foreach (var node in nodes.Where(n => n != old && n.Running && !n.Paused))
            {
                var reply = await PbmChannel.SendAsync(node.PbmPort, "--output json raft status", s_pbmTimeout).ConfigureAwait(false);
                if (reply is ("ok", var body) && JsonNode.Parse(body)?["data"]?["role"]?.GetValue<string>() == "Leader")
                {
                    return Stopwatch.GetTimestamp();
                }
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        return null;
    }

    private async Task InjectAsync(FaultKind kind, NodeProcess target)
    {
        switch (kind)
        {
            case FaultKind.Kill:
                target.Kill();
                break;
            case FaultKind.Pause:
                target.Pause();
                break;
            default:
                await Task.WhenAll(nodes.Where(n => n != target).SelectMany(other => new[]
                {
                    Fault(target, $"fault blackhole {other.Endpoint} both"),
                    Fault(other, $"fault blackhole {target.Endpoint} both"),
                })).ConfigureAwait(false);
                break;
        }
    }

    private async Task RepairAsync(FaultKind kind, NodeProcess target)
    {
        switch (kind)
        {
            case FaultKind.Kill:
                target.Start();
                break;
            case FaultKind.Pause:
                target.Resume();
                break;
            default:
                await Task.WhenAll(nodes.Select(n => Fault(n, "fault heal"))).ConfigureAwait(false);
                break;
        }
    }

    private async Task Fault(NodeProcess node, string line)
    {
        var reply = await PbmChannel.SendAsync(node.PbmPort, line, s_pbmTimeout).ConfigureAwait(false);
        if (reply is not ("ok", _))
        {
            log.WriteLine($"[nemesis] node {node.Id}: '{line}' -> {(reply is { } r ? r.Status + ": " + r.Body.Trim() : "no answer")}");
        }
    }

    private static string Elapsed(long timestamp) => $"t={Stopwatch.GetElapsedTime(Program.Started, timestamp).TotalSeconds:F1}s";
}
