using System.Collections.Concurrent;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's require-leader watch over the open streams of one node: every gRPC stream whose client asked for a leader
/// (metadata <c>hasleader=true</c>, clientv3's <c>WithRequireLeader</c>: etcdctl's watch, every lease keep-alive stream)
/// is registered here, and once the node has known no leader for <see cref="NoLeaderTimeouts"/> election timeouts in a
/// row (etcd's <c>maxNoLeaderCnt</c>: reconnecting a stream costs more than refusing a request, so it waits longer than
/// the refusal of a new one) each of them is cancelled; <see cref="EtcdRequireLeaderInterceptor"/> then ends the call
/// with etcd's "etcdserver: no leader" (Unavailable), so the client reconnects to a node that has a leader.
/// Fed by <see cref="EtcdGateway.Observe"/> with every Raft status the node's client port sees (every 250 ms).
/// Thread-safe.
/// </summary>
internal sealed class EtcdLeaderMonitor
{
    /// <summary>Election timeouts without a leader before the registered streams are cancelled (etcd: 3).</summary>
    public const int NoLeaderTimeouts = 3;

    private readonly ConcurrentDictionary<CancellationTokenSource, byte> _streams = new();
    private readonly TimeProvider _time;

    /// <summary>Guards <see cref="_noLeaderSince"/>.</summary>
    private readonly object _lock = new();

    /// <summary>When the node was first seen without a leader (a timestamp of <see cref="_time"/>), or null while it has one.</summary>
    private long? _noLeaderSince;

    /// <summary>Creates the monitor of a node whose election timeout is <paramref name="electionTimeout"/>.</summary>
    public EtcdLeaderMonitor(TimeSpan electionTimeout, TimeProvider? time = null)
    {
        CancelAfter = electionTimeout * NoLeaderTimeouts;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How long the node must be without a leader before the registered streams are cancelled.</summary>
    public TimeSpan CancelAfter { get; }

    /// <summary>The number of streams registered (tests, diagnostics).</summary>
    public int Count => _streams.Count;

    /// <summary>True when <paramref name="status"/> says the node knows a leader (and is not replaying its journal).</summary>
    public static bool HasLeader(RaftStatus? status) => status is { Leader: not 0, Recovering: false };

    /// <summary>
    /// Registers a stream: the returned source is cancelled with the call (<paramref name="call"/>) or when the node has
    /// been without a leader too long. The caller passes it to <see cref="Unregister"/> when the call ends.
    /// </summary>
    public CancellationTokenSource Register(CancellationToken call)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(call);
        _streams.TryAdd(source, 0);
        return source;
    }

    /// <summary>Forgets a stream registered by <see cref="Register"/> and disposes its source.</summary>
    public void Unregister(CancellationTokenSource source)
    {
        _streams.TryRemove(source, out _);
        source.Dispose();
    }

    /// <summary>Takes one observation of the node's Raft status; cancels the registered streams when it is overdue.</summary>
    public void Observe(RaftStatus status)
    {
        lock (_lock)
        {
            if (HasLeader(status))
            {
                _noLeaderSince = null;
                return;
            }

            var now = _time.GetTimestamp();
            _noLeaderSince ??= now;
            if (_time.GetElapsedTime(_noLeaderSince.Value, now) < CancelAfter)
            {
                return;
            }
        }

        foreach (var source in _streams.Keys)
        {
            if (_streams.TryRemove(source, out _))
            {
                try
                {
                    // The callbacks (the call's reads and writes giving up) run on the thread pool, not here.
                    _ = source.CancelAsync();
                }
                catch (ObjectDisposedException)
                {
                    // The call ended meanwhile.
                }
            }
        }
    }
}
