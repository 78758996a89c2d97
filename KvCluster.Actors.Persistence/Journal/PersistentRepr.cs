namespace KvCluster.Actors.Persistence.Journal;

/// <summary>
/// One event as the journal stores it: the persistence id and sequence number that identify it,
/// the serialized payload, the manifest (type hint) that tells the serializer how to read it back,
/// the id of the writer that produced it and a timestamp.
/// </summary>
/// <remarks>
/// A value type so that writing and replaying events costs no allocation beyond the payload.
/// When passed to <see cref="IJournal.WriteMessagesAsync"/>, the payload memory is owned by the
/// caller and must not change until the returned task completes; the journal copies what it keeps.
/// When handed out by <see cref="IJournal.ReplayMessagesAsync"/>, the payload belongs to the
/// callback's receiver (the journal never reuses it).
/// </remarks>
public readonly struct PersistentRepr
{
    /// <summary>Creates an event representation.</summary>
    /// <param name="persistenceId">The entity the event belongs to; not null or empty.</param>
    /// <param name="sequenceNr">The position of the event in that entity's stream, starting at 1.</param>
    /// <param name="payload">The serialized event.</param>
    /// <param name="manifest">The serializer's type hint; may be empty, never null.</param>
    /// <param name="writerUuid">Identifies the writer incarnation (one per actor incarnation); may be empty.</param>
    /// <param name="timestamp">Unix time in milliseconds when the event was created.</param>
    /// <exception cref="ArgumentException">The persistence id is empty or the sequence number is below 1.</exception>
    public PersistentRepr(
        string persistenceId,
        long sequenceNr,
        ReadOnlyMemory<byte> payload,
        string manifest = "",
        string writerUuid = "",
        long timestamp = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceNr, 1L);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(writerUuid);
        PersistenceId = persistenceId;
        SequenceNr = sequenceNr;
        Payload = payload;
        Manifest = manifest;
        WriterUuid = writerUuid;
        Timestamp = timestamp;
    }

    /// <summary>The entity the event belongs to.</summary>
    public string PersistenceId { get; }

    /// <summary>The position of the event in its entity's stream; the first event has 1.</summary>
    public long SequenceNr { get; }

    /// <summary>The serialized event.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The serializer's type hint for <see cref="Payload"/>; empty when none.</summary>
    public string Manifest { get; }

    /// <summary>Identifies the writer incarnation that produced the event; empty when none.</summary>
    public string WriterUuid { get; }

    /// <summary>Unix time in milliseconds when the event was created; 0 when unknown.</summary>
    public long Timestamp { get; }

    /// <inheritdoc />
    public override string ToString() => $"PersistentRepr({PersistenceId}, {SequenceNr}, {Payload.Length} bytes, '{Manifest}')";
}
