namespace KvCluster.Actors.Persistence.Journal;

/// <summary>
/// A journal that can report a write's outcome by calling <see cref="IWriteCallback"/> on its own
/// writer thread right after the commit, instead of completing a task (whose continuation costs a
/// thread-pool work item, a task and a completion source per write). <see cref="PersistentActor"/>
/// uses it when the configured journal offers it; the contract is that of
/// <see cref="IJournal.WriteMessagesAsync"/>.
/// </summary>
internal interface IWriteCallbackJournal
{
    /// <summary>
    /// Queues <paramref name="writes"/> like <see cref="IJournal.WriteMessagesAsync"/>; exactly one of
    /// <paramref name="callback"/>'s methods is called once, after the writes are durable or the
    /// storage failed.
    /// </summary>
    /// <param name="writes">The atomic writes; unchanged until the callback ran.</param>
    /// <param name="callback">Receives the outcome, on the journal's writer thread; must not block.</param>
    /// <exception cref="ObjectDisposedException">The journal was disposed; the callback is not called.</exception>
    void WriteMessages(IReadOnlyList<AtomicWrite> writes, IWriteCallback callback);
}

/// <summary>The outcome of one <see cref="IWriteCallbackJournal.WriteMessages"/> call.</summary>
internal interface IWriteCallback
{
    /// <summary>The writes were committed: one entry per atomic write, null when stored, else its rejection.</summary>
    /// <param name="results">The per-write results, in submission order.</param>
    void Written(IReadOnlyList<Exception?> results);

    /// <summary>The storage failed; nothing is known about what was written.</summary>
    /// <param name="error">The storage error.</param>
    void Failed(Exception error);
}
