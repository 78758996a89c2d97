namespace KvCluster.Node.Router;

/// <summary>Settings of a node's <see cref="KvRouter"/> (configuration section <c>Node:Router</c>).</summary>
public sealed record KvRouterSettings
{
    /// <summary>The deadline of a request that names none (<c>timeout_ms</c> = 0).</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest deadline a request may ask for; longer ones are cut to this.</summary>
    public TimeSpan MaxTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Requests in flight at once; beyond it the router answers BUSY at once.</summary>
    public int MaxInFlight { get; init; } = 10_000;

    /// <summary>How long a request waits before asking again while no leader is known (an election).</summary>
    public TimeSpan LeaderWaitInterval { get; init; } = TimeSpan.FromMilliseconds(25);

    /// <summary>How often the router refreshes its view of the leader from the local Raft node.</summary>
    public TimeSpan LeaderRefreshInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">A setting is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        Positive(DefaultTimeout, nameof(DefaultTimeout));
        Positive(MaxTimeout, nameof(MaxTimeout));
        Positive(LeaderWaitInterval, nameof(LeaderWaitInterval));
        Positive(LeaderRefreshInterval, nameof(LeaderRefreshInterval));
        if (DefaultTimeout > MaxTimeout)
        {
            throw new ArgumentException($"DefaultTimeout ({DefaultTimeout}) must not exceed MaxTimeout ({MaxTimeout}).", nameof(DefaultTimeout));
        }

        if (MaxInFlight < 1)
        {
            throw new ArgumentException($"MaxInFlight must be at least 1, was {MaxInFlight}.", nameof(MaxInFlight));
        }
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{name} must be positive, was {value}.", name);
        }
    }
}
