namespace KvCluster.Client;

/// <summary>Settings of a <see cref="KvClient"/>. Validated by <see cref="KvClient.ConnectAsync"/>.</summary>
public sealed record KvClientOptions
{
    /// <summary>Contact points: any nodes of the cluster (their remoting host:port). At least one.</summary>
    public required IReadOnlyList<KvEndpoint> Endpoints { get; init; }

    /// <summary>The cluster's actor system name (the nodes' <c>Node:SystemName</c>).</summary>
    public string SystemName { get; init; } = KvWireTypes.DefaultSystemName;

    /// <summary>The cluster name the nodes' remoting handshake expects.</summary>
    public string ClusterName { get; init; } = "akkakv";

    /// <summary>
    /// The address the client's own remoting listener binds and advertises; nodes send replies there, so it must
    /// be reachable from them (the default suits nodes on this machine).
    /// </summary>
    public string LocalHost { get; init; } = "127.0.0.1";

    /// <summary>Default deadline of one request, retries included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a node may take to answer a contact probe before the client tries the next one.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>First delay between retries; it doubles (with jitter) up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Longest delay between retries.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">A setting is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        if (Endpoints is null || Endpoints.Count == 0)
        {
            throw new ArgumentException("Endpoints must list at least one node (host:port).", nameof(Endpoints));
        }

        if (string.IsNullOrWhiteSpace(SystemName))
        {
            throw new ArgumentException("SystemName must not be empty.", nameof(SystemName));
        }

        if (string.IsNullOrWhiteSpace(LocalHost))
        {
            throw new ArgumentException("LocalHost must not be empty.", nameof(LocalHost));
        }

        Positive(RequestTimeout, nameof(RequestTimeout));
        Positive(ConnectTimeout, nameof(ConnectTimeout));
        Positive(RetryDelay, nameof(RetryDelay));
        Positive(MaxRetryDelay, nameof(MaxRetryDelay));
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{name} must be positive, was {value}.", name);
        }
    }
}
