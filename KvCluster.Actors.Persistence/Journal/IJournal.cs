namespace KvCluster.Actors.Persistence.Journal;

/// <summary>
/// An append-only store of events, keyed by persistence id and sequence number (the plugin
/// contract of Akka.Persistence's AsyncWriteJournal). Implementations are thread-safe: any number
/// of callers may write, replay and delete concurrently. Every implementation passes the same
/// conformance spec (<c>KvCluster.Tests.Persistence.JournalSpec</c>).
/// </summary>
public interface IJournal : IAsyncDisposable
{
    /// <summary>
    /// Stores a batch of atomic writes durably. Batches submitted concurrently may be committed
    /// together (group commit); writes of one persistence id are stored in submission order.
    /// </summary>
    /// <param name="writes">The atomic writes; the caller keeps their payloads unchanged until the task completes.</param>
    /// <returns>
    /// A task that completes when every write is durable or rejected, with one entry per atomic
    /// write in <paramref name="writes"/> order: <c>null</c> when stored, or the
    /// <see cref="EventRejectedException"/> that explains why that write was not stored (too large,
    /// sequence number already used). A rejected write leaves no event behind and does not affect
    /// the others. The task FAULTS (with a <see cref="PersistenceStoreException"/>) when the storage
    /// itself failed; then nothing is known about what was written, and the caller should stop.
    /// </returns>
    /// <exception cref="ObjectDisposedException">The journal was disposed.</exception>
    Task<IReadOnlyList<Exception?>> WriteMessagesAsync(IReadOnlyList<AtomicWrite> writes);

    /// <summary>
    /// Replays the stored events of <paramref name="persistenceId"/> whose sequence numbers lie in
    /// [<paramref name="fromSequenceNr"/>, <paramref name="toSequenceNr"/>], in ascending order,
    /// at most <paramref name="max"/> of them. Events deleted with <see cref="DeleteMessagesToAsync"/>
    /// are not replayed. Writes that completed before the call are visible.
    /// </summary>
    /// <param name="persistenceId">The entity whose events to replay.</param>
    /// <param name="fromSequenceNr">The lowest sequence number to replay (inclusive).</param>
    /// <param name="toSequenceNr">The highest sequence number to replay (inclusive).</param>
    /// <param name="max">The maximum number of events to replay; 0 replays nothing.</param>
    /// <param name="recoveryCallback">
    /// Called once per event, sequentially (never concurrently), on a thread-pool thread. An
    /// exception thrown by it ends the replay and faults the returned task with that exception.
    /// </param>
    /// <param name="cancellationToken">Stops the replay between events; the task is then cancelled.</param>
    /// <returns>A task that completes after the last callback returned.</returns>
    Task ReplayMessagesAsync(
        string persistenceId,
        long fromSequenceNr,
        long toSequenceNr,
        long max,
        Action<PersistentRepr> recoveryCallback,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the highest sequence number ever stored for <paramref name="persistenceId"/>, also when
    /// those events have since been deleted; 0 when nothing was ever stored.
    /// </summary>
    /// <param name="persistenceId">The entity.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The highest sequence number, or 0.</returns>
    Task<long> ReadHighestSequenceNrAsync(string persistenceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Permanently deletes the events of <paramref name="persistenceId"/> with sequence numbers up to
    /// and including <paramref name="toSequenceNr"/>. The highest sequence number stays readable.
    /// Ordered after writes submitted before it.
    /// </summary>
    /// <param name="persistenceId">The entity.</param>
    /// <param name="toSequenceNr">The highest sequence number to delete (inclusive); <see cref="long.MaxValue"/> deletes all.</param>
    /// <returns>A task that completes when the deletion is durable; faults when the storage failed.</returns>
    Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr);
}
