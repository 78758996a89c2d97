namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// Monotonic counters of one system's remoting, safe to read from any thread at any time
/// (each read is a fresh atomic load). Exposed for metrics and for tests that assert a bad
/// input was noticed.
/// </summary>
public sealed class RemoteCounters
{
    internal long _envelopesSent;
    internal long _envelopesReceived;
    internal long _batchesFlushed;
    internal long _connectionsAccepted;
    internal long _connectionsDialed;
    internal long _handshakesRejected;
    internal long _handshakeTimeouts;
    internal long _malformedFrames;
    internal long _oversizedFrames;
    internal long _unknownTypeIds;
    internal long _malformedPayloads;
    internal long _idleTimeouts;
    internal long _writeTimeouts;
    internal long _deadLetters;
    internal long _queueOverflows;
    internal long _injectedDrops;
    internal long _connectFailures;

    /// <summary>Envelopes written to sockets.</summary>
    public long EnvelopesSent => Volatile.Read(ref _envelopesSent);

    /// <summary>Envelopes read, decoded and handed to the local system.</summary>
    public long EnvelopesReceived => Volatile.Read(ref _envelopesReceived);

    /// <summary>Flushes of outbound connections (each carries one or more frames).</summary>
    public long BatchesFlushed => Volatile.Read(ref _batchesFlushed);

    /// <summary>Inbound TCP connections accepted (before their handshake).</summary>
    public long ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);

    /// <summary>Outbound connections that completed their handshake.</summary>
    public long ConnectionsDialed => Volatile.Read(ref _connectionsDialed);

    /// <summary>Handshakes refused (wrong system, cluster or protocol version), either side.</summary>
    public long HandshakesRejected => Volatile.Read(ref _handshakesRejected);

    /// <summary>Connections closed because no handshake (or its answer) arrived in time.</summary>
    public long HandshakeTimeouts => Volatile.Read(ref _handshakeTimeouts);

    /// <summary>Connections closed for a malformed frame (bad kind, bad envelope, bad handshake).</summary>
    public long MalformedFrames => Volatile.Read(ref _malformedFrames);

    /// <summary>Connections closed for a frame larger than the maximum frame size.</summary>
    public long OversizedFrames => Volatile.Read(ref _oversizedFrames);

    /// <summary>Envelopes dropped because their type id is not registered here.</summary>
    public long UnknownTypeIds => Volatile.Read(ref _unknownTypeIds);

    /// <summary>Envelopes dropped because their payload did not parse as the registered type.</summary>
    public long MalformedPayloads => Volatile.Read(ref _malformedPayloads);

    /// <summary>Connections closed as half-open: nothing received for the idle timeout.</summary>
    public long IdleTimeouts => Volatile.Read(ref _idleTimeouts);

    /// <summary>Connections closed because a flush did not complete in the write timeout.</summary>
    public long WriteTimeouts => Volatile.Read(ref _writeTimeouts);

    /// <summary>Outbound messages that went to dead letters, for any reason.</summary>
    public long DeadLetters => Volatile.Read(ref _deadLetters);

    /// <summary>Outbound messages that went to dead letters because the queue was full.</summary>
    public long QueueOverflows => Volatile.Read(ref _queueOverflows);

    /// <summary>Frames dropped by the <see cref="FailureInjection.FailureInjector"/>.</summary>
    public long InjectedDrops => Volatile.Read(ref _injectedDrops);

    /// <summary>Outbound connection attempts that failed (refused, timed out, handshake failed).</summary>
    public long ConnectFailures => Volatile.Read(ref _connectFailures);

    /// <inheritdoc />
    public override string ToString() =>
        $"sent={EnvelopesSent} received={EnvelopesReceived} flushes={BatchesFlushed} accepted={ConnectionsAccepted} dialed={ConnectionsDialed} " +
        $"rejected={HandshakesRejected} handshakeTimeouts={HandshakeTimeouts} malformed={MalformedFrames} oversized={OversizedFrames} " +
        $"unknownTypes={UnknownTypeIds} badPayloads={MalformedPayloads} idle={IdleTimeouts} writeTimeouts={WriteTimeouts} " +
        $"deadLetters={DeadLetters} overflows={QueueOverflows} injectedDrops={InjectedDrops} connectFailures={ConnectFailures}";
}
