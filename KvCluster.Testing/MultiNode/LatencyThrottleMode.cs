using Akka.Remote.Transport;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// A receive-side throttle mode for Akka.Remote's throttler that delays frames (the conductor's <c>Delay</c>). The
/// throttler has no latency mode of its own (its <see cref="TokenBucket"/> limits bytes per second), so this one
/// uses the inbound queue of a throttled association: a frame that reaches an idle link is held for the delay; the
/// frames that arrive meanwhile queue behind it, in order, and are released right after it (so they wait less than
/// the delay, and a steady stream is never backed up without bound). Frames arriving within
/// <see cref="DrainWindow"/> of a release pass at once. Only valid on the receive direction: the send side would
/// refuse the writes for ever.
/// </summary>
internal sealed class LatencyThrottleMode : ThrottleMode
{
    /// <summary>How long after a release the queue counts as draining.</summary>
    public static readonly TimeSpan DrainWindow = TimeSpan.FromMilliseconds(1);

    private static readonly long DrainNanos = DrainWindow.Ticks * 100;

    private readonly TimeSpan _delay;
    private readonly long _drainUntilNanos;

    public LatencyThrottleMode(TimeSpan delay)
        : this(delay, long.MinValue)
    {
    }

    private LatencyThrottleMode(TimeSpan delay, long drainUntilNanos)
    {
        _delay = delay;
        _drainUntilNanos = drainUntilNanos;
    }

    /// <summary>The delay of a frame that reaches an idle link.</summary>
    public TimeSpan Delay => _delay;

    /// <inheritdoc />
    public override (ThrottleMode, bool) TryConsumeTokens(long nanoTimeOfSend, int tokens)
    {
        // Called when a frame reaches an empty queue (refusal: it is queued and held for TimeToAvailable) and after
        // each release (the returned mode is kept whatever the answer: it opens the drain window for the queue).
        var draining = new LatencyThrottleMode(_delay, nanoTimeOfSend + DrainNanos);
        return (draining, nanoTimeOfSend <= _drainUntilNanos);
    }

    /// <inheritdoc />
    public override TimeSpan TimeToAvailable(long currentNanoTime, int tokens) =>
        currentNanoTime <= _drainUntilNanos ? TimeSpan.Zero : _delay;

    /// <inheritdoc />
    public override string ToString() => $"Latency({_delay.TotalMilliseconds:0.###} ms)";
}
