using System.Diagnostics;
using Google.Protobuf;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;
using KvCluster.Testing.Linearizability;

namespace KvCluster.Chaos;

/// <summary>
/// The watchers of the chaos run (issue 16): etcd watchers of the whole key space spread over the nodes, started before the
/// clients and resuming on another node (last revision + 1) whenever theirs dies, pauses or drops them. At the end a
/// final write gives the last revision; every watcher must reach it, and each stream, joined with the recorded history,
/// must hold every revision from its start exactly once and in order (every write of the run is a key change, so
/// revisions have no holes), the key and value every acknowledged put wrote at the revision it was acknowledged with,
/// no value of a put that surely failed, and the same events as every other watcher. A breach is a violation, as a
/// linearizability violation is.
/// </summary>
internal sealed class WatchWorkload
{
    private readonly ChaosWatcher[] _watchers;
    private readonly int[] _clientPorts;
    private readonly Task[] _running;

    private WatchWorkload(ChaosWatcher[] watchers, int[] clientPorts, Task[] running)
    {
        _watchers = watchers;
        _clientPorts = clientPorts;
        _running = running;
    }

    /// <summary>Starts <paramref name="count"/> watchers and waits (up to 30 s) until each has its first stream.</summary>
    public static async Task<WatchWorkload> StartAsync(int count, int[] clientPorts, int seed, CancellationToken stop)
    {
        var watchers = Enumerable.Range(0, count).Select(i => new ChaosWatcher(i + 1, clientPorts, seed * 7919 + i, TimeSpan.FromSeconds(5))).ToArray();
        var running = watchers.Select(w => Task.Run(() => w.RunAsync(stop), CancellationToken.None)).ToArray();
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (watchers.Any(w => !w.Started) && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        }

        return new WatchWorkload(watchers, clientPorts, running);
    }

    /// <summary>
    /// Writes a final key, waits (up to <paramref name="within"/>) for every watcher to see it, stops them and checks
    /// their streams against <paramref name="history"/>. Prints a summary; returns the number of violations.
    /// </summary>
    public async Task<(int Violations, int Incomplete)> FinishAsync(History<KvInput, KvOutput> history, CancellationTokenSource stop, TimeSpan within, TextWriter output)
    {
        var final = await FinalWriteAsync(within).ConfigureAwait(false);
        var reached = final is { } revision
            ? await Task.WhenAll(_watchers.Select(w => w.AwaitRevisionAsync(revision, within))).ConfigureAwait(false)
            : _watchers.Select(_ => false).ToArray();
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_running).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);

        var violations = new List<string>();
        var incomplete = 0;
        var last = final ?? 0;
        IReadOnlyList<WatchedEvent>? reference = null;
        var referenceId = 0;
        for (var i = 0; i < _watchers.Length; i++)
        {
            var watcher = _watchers[i];
            var events = watcher.Events.Where(e => e.Revision <= last).ToList();
            if (!watcher.Started || watcher.Ended is not null || !reached[i])
            {
                incomplete++;
                output.WriteLine($"chaos: watcher {watcher.Id} incomplete: {watcher.Ended ?? (watcher.Started ? $"did not reach revision {last}" : "never started")}");
            }

            violations.AddRange(CheckStream(watcher, events, reached[i] ? last : watcher.LastRevision).Select(v => $"watcher {watcher.Id}: {v}"));
            violations.AddRange(CheckAgainstHistory(watcher, events, history).Select(v => $"watcher {watcher.Id}: {v}"));
            if (reached[i] && watcher.Ended is null)
            {
                var from = Math.Max(watcher.StartRevision, reference is null ? 0 : _watchers[referenceId - 1].StartRevision);
                if (reference is null)
                {
                    reference = events;
                    referenceId = watcher.Id;
                }
                else if (!Ordered(reference, from).SequenceEqual(Ordered(events, from)))
                {
                    violations.Add($"watcher {watcher.Id} and watcher {referenceId} saw different events after revision {from}");
                }
            }
        }

        output.WriteLine($"chaos: {_watchers.Length} watchers to revision {last}: {string.Join(", ", _watchers.Select(w => $"#{w.Id} {w.Events.Count} events, {w.Resumes} resumes"))}");
        foreach (var violation in violations.Take(20))
        {
            output.WriteLine($"chaos: WATCH VIOLATION {violation}");
        }

        output.WriteLine($"watch violations: {violations.Count}");
        return (violations.Count, incomplete);
    }

    /// <summary>The events after <paramref name="from"/> by revision, then key (a replay from history lists a revision's keys in key order).</summary>
    private static IEnumerable<WatchedEvent> Ordered(IEnumerable<WatchedEvent> events, long from) =>
        events.Where(e => e.Revision > from).OrderBy(e => e.Revision).ThenBy(e => e.Key, StringComparer.Ordinal);

    /// <summary>Revisions from the watcher's start to <paramref name="until"/>, each once, in order, with no hole.</summary>
    internal static IEnumerable<string> CheckStream(ChaosWatcher watcher, IReadOnlyList<WatchedEvent> events, long until)
    {
        var expected = watcher.StartRevision + 1;
        var seenAtRevision = new HashSet<string>();
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (i > 0 && e.Revision == events[i - 1].Revision)
            {
                if (!seenAtRevision.Add(e.Key))
                {
                    yield return $"duplicate: {e.Key} twice at revision {e.Revision}";
                }

                continue;
            }

            seenAtRevision.Clear();
            seenAtRevision.Add(e.Key);
            if (e.Revision < expected)
            {
                yield return $"out of order or repeated: revision {e.Revision} after {expected - 1}";
                continue;
            }

            if (e.Revision > expected)
            {
                yield return $"gap: revisions {expected}-{e.Revision - 1} missing";
            }

            expected = e.Revision + 1;
        }

        if (expected <= until && watcher.Ended is null)
        {
            yield return $"gap: revisions {expected}-{until} missing at the end";
        }
    }

    /// <summary>Every acknowledged put or CAS is in the stream at its revision; no surely failed one is.</summary>
    internal static IEnumerable<string> CheckAgainstHistory(ChaosWatcher watcher, IReadOnlyList<WatchedEvent> events, History<KvInput, KvOutput> history)
    {
        var byRevision = events.GroupBy(e => e.Revision).ToDictionary(g => g.Key, g => g.ToList());
        var values = events.Where(e => !e.Delete).Select(e => e.Value).ToHashSet();
        var covered = events.Count == 0 ? 0 : events[^1].Revision;
        foreach (var op in history.Operations)
        {
            if (op.Input.Kind is not (KvOperationKind.Put or KvOperationKind.Cas))
            {
                continue;
            }

            if (op.Outcome == OperationOutcome.Ok && op.Output is { Ok: true, Version: var revision } && revision > watcher.StartRevision && revision <= covered)
            {
                var found = byRevision.TryGetValue(revision, out var atRevision)
                    && atRevision.Any(e => !e.Delete && e.Key == op.Input.Key && e.Value == op.Input.Value);
                if (!found)
                {
                    yield return $"acknowledged put {op.Input.Key}={op.Input.Value} at revision {revision} is not in the stream";
                }
            }
            else if (op.Outcome == OperationOutcome.Fail && values.Contains(op.Input.Value!))
            {
                yield return $"put {op.Input.Key}={op.Input.Value} was refused, yet the stream has it";
            }
        }
    }

    /// <summary>A put through the etcd API of any node, retried until one succeeds: its revision, or null.</summary>
    private async Task<long?> FinalWriteAsync(TimeSpan within)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        for (var attempt = 0; Stopwatch.GetTimestamp() < deadline; attempt++)
        {
            try
            {
                using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_clientPorts[attempt % _clientPorts.Length]}");
                var put = new PutRequest { Key = ByteString.CopyFromUtf8("chaos-watch-final"), Value = ByteString.CopyFromUtf8("final") };
                var response = await new KV.KVClient(channel).PutAsync(put, deadline: DateTime.UtcNow.AddSeconds(3)).ConfigureAwait(false);
                return response.Header.Revision;
            }
            catch (Grpc.Core.RpcException)
            {
                await Task.Delay(200).ConfigureAwait(false);
            }
        }

        return null;
    }
}
