using System.Collections.Concurrent;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Actors.Remote.FailureInjection;

/// <summary>Which traffic of a link a fault applies to, seen from the local system.</summary>
public enum ThrottleDirection
{
    /// <summary>Frames this system sends to the peer.</summary>
    Send,

    /// <summary>Frames this system receives from the peer.</summary>
    Receive,

    /// <summary>Both directions.</summary>
    Both,
}

/// <summary>
/// A switchable fault layer under every association of one system, in the spirit of Akka's
/// TestConductor: black-hole, drop a seeded fraction of, or delay the frames exchanged with a
/// given peer address, per direction, and heal again. Faults act on real frames on real sockets:
/// a black-holed link keeps its TCP connection, but nothing crosses it, so heartbeats stop and
/// the failure detector sees the peer as unreachable, exactly as in a network partition.
/// </summary>
/// <remarks>
/// <para>Drop and black-hole apply to every frame (handshakes, envelopes, heartbeats and their
/// acknowledgements). Delay applies to envelopes and heartbeats; it preserves order and adds
/// latency without limiting throughput. Dropped frames are counted in
/// <see cref="RemoteCounters.InjectedDrops"/>. A new rule for a (peer, direction) replaces the
/// previous one. Peers are matched by exact <see cref="RemoteAddress"/> equality, so use the
/// address the peer advertises (its <c>LocalAddress</c>).</para>
/// <para>All methods are thread-safe and take effect for the next frame.</para>
/// </remarks>
public sealed class FailureInjector
{
    private readonly ConcurrentDictionary<(RemoteAddress Peer, bool Send), FaultRule> _rules = new();
    private volatile bool _any;

    /// <summary>Drops every frame to and/or from <paramref name="peer"/> until healed.</summary>
    public void Blackhole(RemoteAddress peer, ThrottleDirection direction) =>
        Set(peer, direction, () => new FaultRule(FaultKind.Blackhole, 1.0, null, TimeSpan.Zero));

    /// <summary>
    /// Drops each frame to and/or from <paramref name="peer"/> with probability
    /// <paramref name="fraction"/>, drawn from a generator seeded with <paramref name="seed"/>
    /// (one generator per direction, so a run is reproducible for a given frame sequence).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside 0..1.</exception>
    public void Drop(RemoteAddress peer, ThrottleDirection direction, double fraction, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fraction, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fraction, 1.0);
        var salt = 0;
        Set(peer, direction, () => new FaultRule(FaultKind.Drop, fraction, new Random(seed + salt++), TimeSpan.Zero));
    }

    /// <summary>Delays every envelope and heartbeat to and/or from <paramref name="peer"/> by
    /// <paramref name="delay"/>, keeping their order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The delay is negative.</exception>
    public void Delay(RemoteAddress peer, ThrottleDirection direction, TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        Set(peer, direction, () => new FaultRule(FaultKind.Delay, 0.0, null, delay));
    }

    /// <summary>Heals the link to <paramref name="peer"/> in the given direction(s).</summary>
    public void PassThrough(RemoteAddress peer, ThrottleDirection direction)
    {
        if (direction != ThrottleDirection.Receive)
        {
            _rules.TryRemove((peer, true), out _);
        }

        if (direction != ThrottleDirection.Send)
        {
            _rules.TryRemove((peer, false), out _);
        }

        _any = !_rules.IsEmpty;
    }

    /// <summary>Removes every fault.</summary>
    public void HealAll()
    {
        _rules.Clear();
        _any = false;
    }

    /// <summary>True when a frame to (<paramref name="send"/>) or from the peer must be dropped.</summary>
    internal bool ShouldDrop(RemoteAddress peer, bool send)
    {
        if (!_any || !_rules.TryGetValue((peer, send), out var rule))
        {
            return false;
        }

        return rule.Kind switch
        {
            FaultKind.Blackhole => true,
            FaultKind.Drop => rule.NextDrop(),
            _ => false,
        };
    }

    /// <summary>The delay currently injected on the link, or zero.</summary>
    internal TimeSpan GetDelay(RemoteAddress peer, bool send)
    {
        if (!_any || !_rules.TryGetValue((peer, send), out var rule) || rule.Kind != FaultKind.Delay)
        {
            return TimeSpan.Zero;
        }

        return rule.DelayBy;
    }

    private void Set(RemoteAddress peer, ThrottleDirection direction, Func<FaultRule> create)
    {
        if (direction != ThrottleDirection.Receive)
        {
            _rules[(peer, true)] = create();
        }

        if (direction != ThrottleDirection.Send)
        {
            _rules[(peer, false)] = create();
        }

        _any = true;
    }

    private enum FaultKind
    {
        Blackhole,
        Drop,
        Delay,
    }

    private sealed record FaultRule(FaultKind Kind, double Fraction, Random? Random, TimeSpan DelayBy)
    {
        public bool NextDrop()
        {
            lock (Random!)
            {
                return Random.NextDouble() < Fraction;
            }
        }
    }
}
