using KvCluster.Actors.Persistence.Journal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Persistence.Sqlite;

/// <summary>
/// The group-commit writer. One thread owns the writer connection. It waits for the first queued
/// operation, begins a transaction, stores it and everything else already queued (up to
/// <see cref="JournalOptions.MaxEventsPerTransaction"/> events), keeps the transaction open for the
/// writers of the last batch (see <see cref="ExecuteBatch"/>), commits with ONE fsync, then
/// completes every operation of the batch. Operations queued while a commit is in flight go into
/// the next transaction, so throughput rises with the number of concurrent writers.
/// </summary>
internal sealed partial class SqliteJournal
{
    /// <summary>The only connection that writes; used by the writer thread alone.</summary>
    private readonly SqliteConnection _writer;

    /// <summary>Where storage failures are logged.</summary>
    private readonly ILogger _logger;

    /// <summary>Runs <see cref="WriterLoop"/>.</summary>
    private readonly Thread _writerThread;

    /// <summary>The batch being executed; reused across transactions.</summary>
    private readonly List<Operation> _batch = new(64);

    /// <summary>Transactions begun; see <see cref="TransactionCount"/>.</summary>
    private long _transactionCount;

    /// <summary>See <see cref="WriterIdleTicks"/>.</summary>
    private long _idleTicks;

    /// <summary>The least the writer waits for the writers of the previous batch to submit again.</summary>
    private static readonly TimeSpan MinStragglerWait = TimeSpan.FromMicroseconds(100);

    /// <summary>The most the writer waits for the writers of the previous batch to submit again.</summary>
    private static readonly TimeSpan MaxStragglerWait = TimeSpan.FromMilliseconds(2);

    /// <summary>How long the last transaction took, from BEGIN to the end of its commit; bounds the straggler wait.</summary>
    private TimeSpan _lastTransaction;

    /// <summary>The number of operations in the last transaction; see <see cref="ExecuteBatch"/>.</summary>
    private int _lastBatchOperations;

    // Prepared once, reused for every transaction (the writer thread owns them).
    private SqliteCommand _begin = null!;
    private SqliteCommand _commit = null!;
    private SqliteCommand _rollback = null!;
    private SqliteCommand _savepoint = null!;
    private SqliteCommand _release = null!;
    private SqliteCommand _rollbackToSavepoint = null!;

    private void PrepareWriterStatements()
    {
        _begin = Prepare("BEGIN IMMEDIATE;");
        _commit = Prepare("COMMIT;");
        _rollback = Prepare("ROLLBACK;");
        _savepoint = Prepare("SAVEPOINT atomic_write;");
        _release = Prepare("RELEASE atomic_write;");
        _rollbackToSavepoint = Prepare("ROLLBACK TO atomic_write;");
    }

    private SqliteCommand Prepare(string sql, params (string Name, SqliteType Type)[] parameters)
    {
        var command = _writer.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, type) in parameters)
        {
            command.Parameters.Add(name, type);
        }
        command.Prepare();
        return command;
    }

    private void WriterLoop()
    {
        var queue = _queue;
        long idleFrom = 0;
        try
        {
            while (true)
            {
                if (!queue.TryDequeue(out var first))
                {
                    if (!queue.WaitForWork())
                    {
                        return;
                    }
                    continue;
                }
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                if (idleFrom != 0)
                {
                    Interlocked.Add(ref _idleTicks, started - idleFrom);
                }
                ExecuteBatch(first);
                _lastBatchOperations = _batch.Count;
                _batch.Clear();
                idleFrom = System.Diagnostics.Stopwatch.GetTimestamp();
                IndexIfDue();
            }
        }
        finally
        {
            foreach (var command in IndexStatements().Concat<IDisposable>([_begin, _commit, _rollback, _savepoint, _release, _rollbackToSavepoint]))
            {
                command.Dispose();
            }
            SqliteDatabase.Close(_writer);
        }
    }

    /// <summary>How long the open transaction waits for the writers of the last batch: as long as the last transaction took, clamped.</summary>
    private TimeSpan StragglerLimit() =>
        _lastTransaction < MinStragglerWait ? MinStragglerWait : _lastTransaction > MaxStragglerWait ? MaxStragglerWait : _lastTransaction;

    /// <summary>Takes the next operation into the open transaction and runs it; false when none is queued or the transaction is full.</summary>
    private bool TakeNext(ref int events)
    {
        if (events >= _limits.MaxEventsPerTransaction || !_queue.TryDequeue(out var next))
        {
            return false;
        }
        _batch.Add(next);
        events += next.EventCount;
        next.Execute(this);
        return true;
    }

    private void ExecuteBatch(Operation first)
    {
        Interlocked.Increment(ref _transactionCount);
        var indexedBefore = _indexedTo;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // In the batch before anything can fail, so that a failed BEGIN fails it too.
        _batch.Add(first);
        var events = first.EventCount;
        try
        {
            // Never begin a group that would commit without its fsync.
            RestoreFullSync(throwOnFailure: true);
            _begin.ExecuteNonQuery();
            first.Execute(this);
            while (TakeNext(ref events))
            {
            }
            // After a batch of N concurrent writers, their next writes arrive one by one a moment
            // later (each writer's result has to reach it first). Committing with only the first
            // arrivals would spend one fsync on a handful of events; so the transaction stays open,
            // storing each arrival at once (its insert overlaps the other writers' work), until as
            // many operations are in it as the last batch held, or as long as the last transaction took
            // (clamped to [MinStragglerWait, MaxStragglerWait]). A lone writer (batch of 1) never
            // waits; when writers leave, the batches shrink to 1 and the waiting stops by itself.
            if (_lastBatchOperations > 1)
            {
                var limit = StragglerLimit();
                while (_batch.Count < _lastBatchOperations && events < _limits.MaxEventsPerTransaction
                    && System.Diagnostics.Stopwatch.GetElapsedTime(started) < limit)
                {
                    if (!TakeNext(ref events))
                    {
                        Thread.Yield();
                    }
                }
            }
            _commit.ExecuteNonQuery();
            _lastTransaction = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        }
        catch (Exception ex)
        {
            _lastTransaction = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            // Some errors (I/O, disk full) already rolled the transaction back; a second rollback then fails harmlessly.
            try
            {
                _rollback.ExecuteNonQuery();
            }
            catch (SqliteException)
            {
            }
            // The rolled-back transaction may have moved the watermark (out-of-order writes, deletes).
            _indexedTo = indexedBefore;
            var error = ex as PersistenceStoreException ?? SqliteDatabase.Wrap(_path, Kind, "committing a group of writes", ex);
            _logger.LogError(ex, "Journal transaction of {Count} operations on {Path} failed; every write in it is failed.", _batch.Count, _path);
            Interlocked.Add(ref _outstanding, -_batch.Count);
            foreach (var operation in _batch)
            {
                operation.Fail(error);
            }
            return;
        }
        Interlocked.Add(ref _outstanding, -_batch.Count);
        foreach (var operation in _batch)
        {
            operation.Complete();
        }
    }

    /// <summary>One queued unit of work for the writer thread.</summary>
    private abstract class Operation
    {
        /// <summary>The number of events it writes, to bound a transaction.</summary>
        public abstract int EventCount { get; }

        /// <summary>Runs inside the open transaction; throwing fails the whole transaction.</summary>
        public abstract void Execute(SqliteJournal journal);

        /// <summary>Completes the caller's task after the commit.</summary>
        public abstract void Complete();

        /// <summary>Faults the caller's task after a failed transaction.</summary>
        public abstract void Fail(Exception error);
    }

    /// <summary>Inserts a batch of atomic writes; subclasses say how the caller learns the outcome.</summary>
    private abstract class InsertOperation(IReadOnlyList<AtomicWrite> writes) : Operation
    {
        /// <summary>One entry per atomic write, set by <see cref="Execute"/>: null when stored, else its rejection.</summary>
        protected Exception?[] Results { get; } = new Exception?[writes.Count];

        public override int EventCount
        {
            get
            {
                var count = 0;
                for (var i = 0; i < writes.Count; i++)
                {
                    count += writes[i].Count;
                }
                return count;
            }
        }

        public override void Execute(SqliteJournal journal)
        {
            for (var i = 0; i < writes.Count; i++)
            {
                Results[i] = journal.Insert(writes[i]);
            }
        }
    }

    private sealed class WriteOperation(IReadOnlyList<AtomicWrite> writes) : InsertOperation(writes)
    {
        public TaskCompletionSource<IReadOnlyList<Exception?>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Complete() => Completion.TrySetResult(Results);

        public override void Fail(Exception error) => Completion.TrySetException(error);
    }

    /// <summary>Reports to an <see cref="IWriteCallback"/> on the writer thread; a throwing callback is logged, never allowed to stop the writer.</summary>
    private sealed class CallbackWriteOperation(IReadOnlyList<AtomicWrite> writes, IWriteCallback callback, ILogger logger) : InsertOperation(writes)
    {
        public override void Complete()
        {
            try
            {
                callback.Written(Results);
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "A journal write callback threw after its commit; the writes are stored.");
            }
        }

        public override void Fail(Exception error)
        {
            try
            {
                callback.Failed(error);
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "A journal write callback threw while being told of a failed write.");
            }
        }
    }

    private sealed class DeleteOperation(string persistenceId, long toSequenceNr) : Operation
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override int EventCount => 1;

        public override void Execute(SqliteJournal journal) => journal.Delete(persistenceId, toSequenceNr);

        public override void Complete() => Completion.TrySetResult();

        public override void Fail(Exception error) => Completion.TrySetException(error);
    }

    private sealed class SqlOperation(string sql) : Operation
    {
        private object? _result;

        public TaskCompletionSource<object?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override int EventCount => 1;

        public override void Execute(SqliteJournal journal)
        {
            using var command = journal._writer.CreateCommand();
            command.CommandText = sql;
            _result = command.ExecuteScalar();
        }

        public override void Complete() => Completion.TrySetResult(_result);

        public override void Fail(Exception error) => Completion.TrySetException(error);
    }
}
