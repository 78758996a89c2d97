using Akka.Remote.Transport;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// A receive-side throttle mode for Akka.Remote's throttler that delays frames (the conductor's <c>Delay</c>). The
/// throttler has no latency mode of its own (its token bucket limits bytes per second), so this one uses the inbound
/// queue of a throttled association: a frame that reaches an idle link is held for the delay; the frames that arrive
/// meanwhile queue behind it, in order, and are released right after it (so they wait less than the delay, and a
/// steady stream is never backed up without bound). Frames arriving within <see cref="DrainWindow"/> of a release
/// pass at once. Only valid on the receive direction: the send side would refuse the writes for ever.
/// </summary>
/// <remarks>
/// With <c>serialize-messages = on</c> the throttle command reaches the throttler through a JSON round trip (Akka's
/// <c>EndpointManager.ManagementCommand</c> is verified like any message), so the mode's state is public properties
/// named like the constructor's parameters.
/// </remarks>
internal sealed class LatencyThrottleMode : ThrottleMode
{
    /// <summary>How long after a release the queue counts as draining.</summary>
    public static readonly TimeSpan DrainWindow = TimeSpan.FromMilliseconds(1);

    private static readonly long DrainNanos = DrainWindow.Ticks * 100;

    /// <summary>Creates the mode.</summary>
    /// <param name="delay">The delay of a frame that reaches an idle link.</param>
    /// <param name="drainUntilNanos">The end of the current drain window (monotonic nanoseconds).</param>
    public LatencyThrottleMode(TimeSpan delay, long drainUntilNanos = long.MinValue)
    {
        Delay = delay;
        DrainUntilNanos = drainUntilNanos;
    }

    /// <summary>The delay of a frame that reaches an idle link.</summary>
    public TimeSpan Delay { get; }

    /// <summary>The end of the current drain window (monotonic nanoseconds).</summary>
    public long DrainUntilNanos { get; }

    /// <inheritdoc />
    public override (ThrottleMode, bool) TryConsumeTokens(long nanoTimeOfSend, int tokens)
    {
        // Called when a frame reaches an empty queue (refusal: it is queued and held for TimeToAvailable) and after
        // each release (the returned mode is kept whatever the answer: it opens the drain window for the queue).
        var draining = new LatencyThrottleMode(Delay, nanoTimeOfSend + DrainNanos);
        return (draining, nanoTimeOfSend <= DrainUntilNanos);
    }

    /// <inheritdoc />
    public override TimeSpan TimeToAvailable(long currentNanoTime, int tokens) =>
        currentNanoTime <= DrainUntilNanos ? TimeSpan.Zero : Delay;

    /// <inheritdoc />
    public override string ToString() => $"Latency({Delay.TotalMilliseconds:0.###} ms)";
}
