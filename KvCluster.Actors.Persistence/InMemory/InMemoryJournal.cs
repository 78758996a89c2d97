using KvCluster.Actors.Persistence.Journal;

namespace KvCluster.Actors.Persistence.InMemory;

/// <summary>
/// A journal in process memory with the SQLite journal's semantics: size limit, sequence-number
/// conflicts rejected per atomic write, highest sequence number kept across deletes. Payloads are
/// copied on write, so callers may reuse their buffers once the write completed.
/// </summary>
internal sealed class InMemoryJournal(InMemoryStore store, JournalOptions limits) : IJournal
{
    /// <summary>1 once disposed.</summary>
    private int _disposed;

    /// <inheritdoc />
    public Task<IReadOnlyList<Exception?>> WriteMessagesAsync(IReadOnlyList<AtomicWrite> writes)
    {
        ArgumentNullException.ThrowIfNull(writes);
        ThrowIfDisposed();
        var results = new Exception?[writes.Count];
        for (var i = 0; i < writes.Count; i++)
        {
            results[i] = Write(writes[i]);
        }
        return Task.FromResult<IReadOnlyList<Exception?>>(results);
    }

    /// <inheritdoc />
    public Task ReplayMessagesAsync(
        string persistenceId,
        long fromSequenceNr,
        long toSequenceNr,
        long max,
        Action<PersistentRepr> recoveryCallback,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ArgumentNullException.ThrowIfNull(recoveryCallback);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        ThrowIfDisposed();
        var stream = Find(persistenceId);
        if (stream is null || max == 0)
        {
            return Task.CompletedTask;
        }
        PersistentRepr[] selected;
        lock (stream)
        {
            selected = stream.Events.Values
                .Where(e => e.SequenceNr >= fromSequenceNr && e.SequenceNr <= toSequenceNr)
                .Take((int)Math.Min(max, int.MaxValue))
                .ToArray();
        }
        // Like SQLite: the callback runs on a thread-pool thread, never on the caller's stack.
        return Task.Run(
            () =>
            {
                foreach (var e in selected)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    recoveryCallback(e);
                }
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<long> ReadHighestSequenceNrAsync(string persistenceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ThrowIfDisposed();
        var stream = Find(persistenceId);
        if (stream is null)
        {
            return Task.FromResult(0L);
        }
        lock (stream)
        {
            var highestStored = stream.Events.Count == 0 ? 0 : stream.Events.Keys[^1];
            return Task.FromResult(Math.Max(highestStored, stream.HighestDeleted));
        }
    }

    /// <inheritdoc />
    public Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ThrowIfDisposed();
        var stream = Find(persistenceId);
        if (stream is not null)
        {
            lock (stream)
            {
                if (stream.Events.Count > 0)
                {
                    stream.HighestDeleted = Math.Max(stream.HighestDeleted, Math.Min(toSequenceNr, stream.Events.Keys[^1]));
                    while (stream.Events.Count > 0 && stream.Events.Keys[0] <= toSequenceNr)
                    {
                        stream.Events.RemoveAt(0);
                    }
                }
            }
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _disposed, 1);
        return ValueTask.CompletedTask;
    }

    private Exception? Write(AtomicWrite write)
    {
        foreach (ref readonly var e in write.Events)
        {
            if (e.Payload.Length > limits.MaxEventBytes)
            {
                return new EventRejectedException(
                    e.PersistenceId,
                    e.SequenceNr,
                    $"Event {e.SequenceNr} of '{e.PersistenceId}' has {e.Payload.Length} bytes, more than the journal's limit of {limits.MaxEventBytes} bytes (JournalOptions.MaxEventBytes); its atomic write was not stored.");
            }
        }
        Stream stream;
        lock (store.Streams)
        {
            if (!store.Streams.TryGetValue(write.PersistenceId, out stream!))
            {
                stream = new Stream();
                store.Streams.Add(write.PersistenceId, stream);
            }
        }
        lock (stream)
        {
            foreach (ref readonly var e in write.Events)
            {
                if (stream.Events.ContainsKey(e.SequenceNr))
                {
                    return new EventRejectedException(
                        e.PersistenceId,
                        e.SequenceNr,
                        $"Sequence number {e.SequenceNr} of '{e.PersistenceId}' is already stored in the in-memory journal; its atomic write was not stored.");
                }
            }
            foreach (ref readonly var e in write.Events)
            {
                stream.Events.Add(
                    e.SequenceNr,
                    new PersistentRepr(e.PersistenceId, e.SequenceNr, e.Payload.ToArray(), e.Manifest, e.WriterUuid, e.Timestamp));
            }
        }
        return null;
    }

    private Stream? Find(string persistenceId)
    {
        lock (store.Streams)
        {
            return store.Streams.GetValueOrDefault(persistenceId);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>The events of one persistence id; locked while read or changed.</summary>
    internal sealed class Stream
    {
        /// <summary>Stored events by sequence number.</summary>
        public SortedList<long, PersistentRepr> Events { get; } = new();

        /// <summary>The highest sequence number deleted so far; keeps the highest readable after deletes.</summary>
        public long HighestDeleted { get; set; }
    }
}
