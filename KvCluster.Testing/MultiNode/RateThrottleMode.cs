using Akka.Remote.Transport;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// A token bucket for Akka.Remote's throttler (the conductor's <c>Throttle</c>): <see cref="TokensPerSecond"/> bytes
/// per second, bursts up to <see cref="Capacity"/> bytes. It stands in for Akka's own <see cref="TokenBucket"/>,
/// which cannot be used with <c>serialize-messages = on</c>: the throttle command reaches the throttler through a
/// JSON round trip (Akka's <c>EndpointManager.ManagementCommand</c> is verified like any message) and TokenBucket's
/// private fields come back as zero (a rate of 0, then an OverflowException in the throttler). This one keeps its
/// state in public properties named like its constructor's parameters. A frame larger than the bucket waits until the
/// bucket is full, then passes (the level goes negative), so no frame stalls for ever.
/// </summary>
internal sealed class RateThrottleMode : ThrottleMode
{
    /// <summary>Creates the bucket.</summary>
    /// <param name="capacity">The largest burst, in bytes.</param>
    /// <param name="tokensPerSecond">The rate, in bytes per second; positive.</param>
    /// <param name="nanoTimeOfLastSend">When the level was last computed (monotonic nanoseconds; 0 = full bucket).</param>
    /// <param name="availableTokens">The level then (may be negative after a frame larger than the bucket).</param>
    public RateThrottleMode(int capacity, double tokensPerSecond, long nanoTimeOfLastSend = 0, double availableTokens = 0)
    {
        Capacity = capacity;
        TokensPerSecond = tokensPerSecond;
        NanoTimeOfLastSend = nanoTimeOfLastSend;
        AvailableTokens = availableTokens;
    }

    /// <summary>The largest burst, in bytes.</summary>
    public int Capacity { get; }

    /// <summary>The rate, in bytes per second.</summary>
    public double TokensPerSecond { get; }

    /// <summary>When the level was last computed (monotonic nanoseconds).</summary>
    public long NanoTimeOfLastSend { get; }

    /// <summary>The level at <see cref="NanoTimeOfLastSend"/>.</summary>
    public double AvailableTokens { get; }

    /// <inheritdoc />
    public override (ThrottleMode, bool) TryConsumeTokens(long nanoTimeOfSend, int tokens)
    {
        var level = LevelAt(nanoTimeOfSend);
        return level >= Math.Min(tokens, Capacity)
            ? (new RateThrottleMode(Capacity, TokensPerSecond, nanoTimeOfSend, level - tokens), true)
            : (this, false);
    }

    /// <inheritdoc />
    public override TimeSpan TimeToAvailable(long currentNanoTime, int tokens)
    {
        var missing = Math.Min(tokens, Capacity) - LevelAt(currentNanoTime);
        return missing <= 0 || TokensPerSecond <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(missing / TokensPerSecond, 3600));
    }

    /// <inheritdoc />
    public override string ToString() => $"Rate({TokensPerSecond:0} B/s, burst {Capacity} B)";

    private double LevelAt(long nanoTime)
    {
        var seconds = Math.Max(0, nanoTime - NanoTimeOfLastSend) / 1e9;
        return Math.Min(Capacity, AvailableTokens + (seconds * TokensPerSecond));
    }
}
