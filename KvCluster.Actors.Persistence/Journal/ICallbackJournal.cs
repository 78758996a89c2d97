namespace KvCluster.Actors.Persistence.Journal;

/// <summary>
/// A journal that can report a write's outcome by calling back, instead of completing a task
/// (Akka's journal replies to the persistent actor with WriteMessageSuccess the same way). It saves
/// the thread-pool hop of a task continuation per write: the writer thread calls
/// <see cref="IWriteCompletion"/> directly after the commit, and the completion only enqueues
/// messages into actors' mailboxes. <see cref="PersistentActor"/> uses it when its journal offers it;
/// every other caller goes through <see cref="IJournal.WriteMessagesAsync"/>.
/// </summary>
internal interface ICallbackJournal
{
    /// <summary>
    /// Same contract as <see cref="IJournal.WriteMessagesAsync"/>, but the outcome is delivered to
    /// <paramref name="completion"/>: exactly once, after the transaction holding the writes is
    /// durable (<see cref="IWriteCompletion.WriteCompleted"/>) or has failed
    /// (<see cref="IWriteCompletion.WriteFailed"/>).
    /// </summary>
    /// <param name="writes">The atomic writes; unchanged by the caller until the completion is called.</param>
    /// <param name="completion">Called once, on the journal's writer thread.</param>
    /// <exception cref="ObjectDisposedException">The journal was disposed; the completion is then never called.</exception>
    void WriteMessages(IReadOnlyList<AtomicWrite> writes, IWriteCompletion completion);
}

/// <summary>
/// Receives the outcome of one <see cref="ICallbackJournal.WriteMessages"/> call. Both methods run
/// on the journal's writer thread, which every other writer waits for: they must only hand the
/// outcome on (e.g. <c>Tell</c>), never block or run user code, and must not throw.
/// </summary>
internal interface IWriteCompletion
{
    /// <summary>
    /// Every write is durable or rejected: one entry per atomic write in submission order, null
    /// when stored, else the <see cref="EventRejectedException"/>. The list is owned by the callee.
    /// </summary>
    /// <param name="results">The per-write results.</param>
    void WriteCompleted(IReadOnlyList<Exception?> results);

    /// <summary>The storage failed; nothing is known about what was written.</summary>
    /// <param name="error">The <see cref="PersistenceStoreException"/>.</param>
    void WriteFailed(Exception error);
}
