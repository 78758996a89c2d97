namespace KvCluster.Actors.Persistence.Journal;

/// <summary>Limits every journal implementation enforces the same way.</summary>
public sealed record JournalOptions
{
    /// <summary>The default <see cref="MaxEventBytes"/>: 4 MiB.</summary>
    public const int DefaultMaxEventBytes = 4 * 1024 * 1024;

    /// <summary>The default <see cref="MaxEventsPerTransaction"/>.</summary>
    public const int DefaultMaxEventsPerTransaction = 4096;

    /// <summary>
    /// The largest payload of one event, in bytes. An atomic write holding a larger event is
    /// rejected (<see cref="EventRejectedException"/>) and the others in its batch go on.
    /// </summary>
    public int MaxEventBytes { get; init; } = DefaultMaxEventBytes;

    /// <summary>
    /// How many events a group commit gathers into one transaction at most; bounds the latency a
    /// long queue adds to the first write. One atomic write is never split, so a larger one still
    /// goes into a single transaction.
    /// </summary>
    public int MaxEventsPerTransaction { get; init; } = DefaultMaxEventsPerTransaction;

    /// <summary>Throws when a limit is out of range; called by the journal factories.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public void Validate()
    {
        if (MaxEventBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxEventBytes), MaxEventBytes, "JournalOptions.MaxEventBytes must be positive.");
        }
        if (MaxEventsPerTransaction <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxEventsPerTransaction), MaxEventsPerTransaction, "JournalOptions.MaxEventsPerTransaction must be positive.");
        }
    }
}
