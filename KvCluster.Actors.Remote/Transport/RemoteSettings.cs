namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// Configuration of a remoting-enabled actor system. Validated once at start-up by
/// <see cref="Validate"/>; an invalid value fails the start with an error naming the setting.
/// </summary>
public sealed record RemoteSettings
{
    /// <summary>The wire protocol version this build speaks; peers must speak the same.</summary>
    public const int ProtocolVersion = 1;

    /// <summary>The actor system name; part of the address <c>kv://name@host:port</c>.</summary>
    public required string SystemName { get; init; }

    /// <summary>The host this system advertises (a host name peers can resolve, or an IP literal); it is also bound unless <see cref="BindHost"/> is set.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port to listen on; 0 picks a free ephemeral port (see
    /// <see cref="RemoteTransport.LocalAddress"/> for the bound one).</summary>
    public int Port { get; init; }

    /// <summary>
    /// The IP address the listener binds when it differs from the advertised <see cref="Host"/> (Akka's
    /// <c>bind-hostname</c>): in a container, bind <c>0.0.0.0</c> and advertise the service name. Null binds
    /// <see cref="Host"/>, which must then be an IP address or <c>localhost</c>.
    /// </summary>
    public string? BindHost { get; init; }

    /// <summary>Name of the deployment; a handshake from a node of another cluster is refused.</summary>
    public string ClusterName { get; init; } = "akkakv";

    /// <summary>Largest frame accepted or sent, in bytes (default 4 MiB). A bigger inbound frame
    /// closes the connection; a bigger outbound message goes to dead letters.</summary>
    public int MaxFrameSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Capacity of each association's outbound queue, in messages. When full, further
    /// messages go to dead letters and are counted; memory stays bounded.</summary>
    public int OutboundQueueCapacity { get; init; } = 16_384;

    /// <summary>How long an accepted connection may take to send its handshake, and how long a
    /// dialer waits for the answer.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Interval between heartbeats on each outbound connection.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A connection that receives no frame for this long is closed as half-open.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A flush that does not complete within this time (the peer stopped reading)
    /// closes the connection; queued messages wait for the reconnect or overflow to dead letters.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay before reconnecting after a failed or lost connection.</summary>
    public TimeSpan ReconnectBackoffMin { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Upper bound of the exponentially growing reconnect delay.</summary>
    public TimeSpan ReconnectBackoffMax { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bytes buffered by the writer loop before it flushes even if more are queued.</summary>
    public int MaxBatchBytes { get; init; } = 64 * 1024;

    /// <summary>φ above which a peer is judged unreachable (Akka's default is 10).</summary>
    public double FailureDetectorThreshold { get; init; } = 10.0;

    /// <summary>Heartbeat silence tolerated on top of the observed mean before φ climbs.</summary>
    public TimeSpan AcceptableHeartbeatPause { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Floor of the heartbeat inter-arrival deviation used by the failure detector.</summary>
    public TimeSpan FailureDetectorMinStdDeviation { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(SystemName) && SystemName.AsSpan().IndexOfAny("@:/# ") < 0, nameof(SystemName), $"'{SystemName}' must be non-empty without '@', ':', '/', '#' or spaces");
        Require(!string.IsNullOrWhiteSpace(Host), nameof(Host), "must name an IP address or localhost");
        Require(Port is >= 0 and <= 65535, nameof(Port), $"{Port} must be in 0..65535 (0 = ephemeral)");
        Require(MaxFrameSize is >= 1024 and <= 256 * 1024 * 1024, nameof(MaxFrameSize), $"{MaxFrameSize} must be in 1 KiB..256 MiB");
        Require(OutboundQueueCapacity > 0, nameof(OutboundQueueCapacity), $"{OutboundQueueCapacity} must be positive");
        Require(HandshakeTimeout > TimeSpan.Zero, nameof(HandshakeTimeout), "must be positive");
        Require(HeartbeatInterval > TimeSpan.Zero, nameof(HeartbeatInterval), "must be positive");
        Require(IdleTimeout > HeartbeatInterval, nameof(IdleTimeout), $"{IdleTimeout} must exceed HeartbeatInterval ({HeartbeatInterval})");
        Require(WriteTimeout > TimeSpan.Zero, nameof(WriteTimeout), "must be positive");
        Require(ReconnectBackoffMin > TimeSpan.Zero, nameof(ReconnectBackoffMin), "must be positive");
        Require(ReconnectBackoffMax >= ReconnectBackoffMin, nameof(ReconnectBackoffMax), $"{ReconnectBackoffMax} must be >= ReconnectBackoffMin ({ReconnectBackoffMin})");
        Require(FailureDetectorThreshold > 0, nameof(FailureDetectorThreshold), "must be positive");
        Require(AcceptableHeartbeatPause >= TimeSpan.Zero, nameof(AcceptableHeartbeatPause), "must not be negative");
        Require(FailureDetectorMinStdDeviation > TimeSpan.Zero, nameof(FailureDetectorMinStdDeviation), "must be positive");
        Require(MaxBatchBytes >= 1024, nameof(MaxBatchBytes), $"{MaxBatchBytes} must be at least 1024");
    }

    private static void Require(bool condition, string setting, string problem)
    {
        if (!condition)
        {
            throw new ArgumentException($"Remote setting {setting} is invalid: {problem}.", setting);
        }
    }
}
