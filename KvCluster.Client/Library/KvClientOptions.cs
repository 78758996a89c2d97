namespace KvCluster.Client;

/// <summary>Settings of a <see cref="KvClient"/>. Validated by <see cref="KvClient.ConnectAsync"/>.</summary>
public sealed record KvClientOptions
{
    /// <summary>Contact points: any nodes of the cluster (their remoting host:port). At least one.</summary>
    public required IReadOnlyList<KvEndpoint> Endpoints { get; init; }

    /// <summary>The cluster's actor system name (the nodes' <c>Node:SystemName</c>).</summary>
    public string SystemName { get; init; } = KvWireTypes.DefaultSystemName;

    /// <summary>
    /// The address the client's own remoting listener binds and advertises; nodes send replies there, so it must
    /// be reachable from them (the default suits nodes on this machine).
    /// </summary>
    public string LocalHost { get; init; } = "127.0.0.1";

    /// <summary>
    /// True to talk to nodes started with <c>--fault-injection</c> (chaos runs, drills): their remoting runs under
    /// Akka.Remote's throttler adapter, so their addresses are <c>akka.trttl.tcp://</c> and the client's own remoting
    /// must load the same adapter. Every node of a cluster and its clients agree on this.
    /// </summary>
    public bool FaultInjection { get; init; }

    /// <summary>The Akka.Remote scheme of the nodes' addresses: <c>akka.tcp</c>, or <c>akka.trttl.tcp</c> with <see cref="FaultInjection"/>.</summary>
    public string Scheme => FaultInjection ? "akka.trttl.tcp" : "akka.tcp";

    /// <summary>Default deadline of one request, retries included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long <see cref="KvClient.ConnectAsync"/> may take in all: every contact point is tried at once, and the
    /// first that answers ends it. A contact that refuses the connection fails at once, so a client whose every
    /// contact is down fails before this deadline. <c>kv</c> sets it to the command's <c>--timeout</c>.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long one attempt of a read (or a probe of a node) waits before the client tries another node, and how long
    /// a node may leave requests unanswered before new requests avoid it. A write waits for its whole deadline: it is
    /// never sent twice.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// HOCON layered over the client actor system's own settings (for example
    /// <c>akka.actor.serialize-messages = on</c> in tests); null for none.
    /// </summary>
    public string? AkkaConfig { get; init; }

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
        Positive(AttemptTimeout, nameof(AttemptTimeout));
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
