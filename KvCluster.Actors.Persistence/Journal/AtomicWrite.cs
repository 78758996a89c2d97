namespace KvCluster.Actors.Persistence.Journal;

/// <summary>
/// One or more events of ONE persistence id that the journal stores all together or not at all.
/// A batch given to <see cref="IJournal.WriteMessagesAsync"/> may hold many atomic writes of many
/// persistence ids; each one succeeds or is rejected on its own.
/// </summary>
public sealed class AtomicWrite
{
    private readonly PersistentRepr[] _events;

    /// <summary>Creates an atomic write of a single event.</summary>
    /// <param name="evt">The event.</param>
    /// <exception cref="ArgumentException">The event is the default value.</exception>
    public AtomicWrite(PersistentRepr evt)
    {
        if (evt.PersistenceId is null)
        {
            throw new ArgumentException("The event is the default PersistentRepr value.", nameof(evt));
        }
        _events = [evt];
        PayloadBytes = evt.Payload.Length;
    }

    /// <summary>Creates an atomic write of several events of one persistence id.</summary>
    /// <param name="events">
    /// The events, in strictly ascending sequence-number order, all of the same persistence id.
    /// The sequence is copied.
    /// </param>
    /// <exception cref="ArgumentException">
    /// The sequence is empty, holds a default value, mixes persistence ids or is not strictly ascending.
    /// </exception>
    public AtomicWrite(IEnumerable<PersistentRepr> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        _events = events.ToArray();
        if (_events.Length == 0)
        {
            throw new ArgumentException("An atomic write needs at least one event.", nameof(events));
        }
        var persistenceId = _events[0].PersistenceId
            ?? throw new ArgumentException("The events hold a default PersistentRepr value.", nameof(events));
        long bytes = 0;
        for (var i = 0; i < _events.Length; i++)
        {
            ref readonly var e = ref _events[i];
            if (!string.Equals(e.PersistenceId, persistenceId, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"An atomic write holds events of one persistence id; found '{persistenceId}' and '{e.PersistenceId}'.",
                    nameof(events));
            }
            if (i > 0 && e.SequenceNr <= _events[i - 1].SequenceNr)
            {
                throw new ArgumentException(
                    $"Events of an atomic write must have strictly ascending sequence numbers; {e.SequenceNr} follows {_events[i - 1].SequenceNr}.",
                    nameof(events));
            }
            bytes += e.Payload.Length;
        }
        PayloadBytes = bytes;
    }

    /// <summary>The persistence id all events belong to.</summary>
    public string PersistenceId => _events[0].PersistenceId;

    /// <summary>The sequence number of the first event.</summary>
    public long LowestSequenceNr => _events[0].SequenceNr;

    /// <summary>The sequence number of the last event.</summary>
    public long HighestSequenceNr => _events[^1].SequenceNr;

    /// <summary>The events, in ascending sequence-number order.</summary>
    public ReadOnlySpan<PersistentRepr> Events => _events;

    /// <summary>The number of events.</summary>
    public int Count => _events.Length;

    /// <summary>The sum of the payload sizes, in bytes.</summary>
    public long PayloadBytes { get; }
}
