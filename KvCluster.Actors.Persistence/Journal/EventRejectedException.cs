namespace KvCluster.Actors.Persistence.Journal;

/// <summary>
/// Why one atomic write was not stored although the journal works: an event is too large, or a
/// sequence number of that persistence id is already used. Returned (not thrown) in the result
/// list of <see cref="IJournal.WriteMessagesAsync"/>; nothing of the rejected write was stored.
/// </summary>
public sealed class EventRejectedException : Exception
{
    /// <summary>Creates a rejection.</summary>
    /// <param name="persistenceId">The persistence id of the rejected atomic write.</param>
    /// <param name="sequenceNr">The sequence number of the event that caused the rejection.</param>
    /// <param name="message">What is wrong, in words a person can act on.</param>
    /// <param name="innerException">The storage error behind the rejection, if any.</param>
    public EventRejectedException(string persistenceId, long sequenceNr, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        PersistenceId = persistenceId;
        SequenceNr = sequenceNr;
    }

    /// <summary>The persistence id of the rejected atomic write.</summary>
    public string PersistenceId { get; }

    /// <summary>The sequence number of the event that caused the rejection.</summary>
    public long SequenceNr { get; }
}
