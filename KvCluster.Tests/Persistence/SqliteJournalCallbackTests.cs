using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Sqlite;

namespace KvCluster.Tests.Persistence;

/// <summary>The SQLite journal's callback write path (<see cref="ICallbackJournal"/>), which PersistentActor uses.</summary>
public sealed class SqliteJournalCallbackTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static PersistentRepr Event(string pid, long seq, int size = 16) => new(pid, seq, new byte[size], "e");

    [Fact]
    public async Task WriteMessages_StoredAndRejectedWrites_CompletesOnceWithOneResultPerWrite()
    {
        var path = _directory.File("journal.db");
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(path);
        var first = new RecordingCompletion();
        journal.WriteMessages([new AtomicWrite(Event("a", 1))], first);
        await first.Outcome;
        var completion = new RecordingCompletion();

        journal.WriteMessages([new AtomicWrite(Event("a", 2)), new AtomicWrite(Event("a", 1)), new AtomicWrite(Event("b", 1))], completion);
        var results = await completion.Outcome;

        Assert.Equal(1, completion.Calls);
        Assert.Equal(3, results.Count);
        Assert.Null(results[0]);
        Assert.IsType<EventRejectedException>(results[1]);
        Assert.Null(results[2]);
        Assert.Equal(2, await journal.ReadHighestSequenceNrAsync("a"));
        Assert.Equal(1, await journal.ReadHighestSequenceNrAsync("b"));
    }

    [Fact]
    public async Task WriteMessages_StorageFull_CallsWriteFailedForEveryWriteOfTheTransaction()
    {
        var path = _directory.File("journal.db");
        await using var journal = (SqliteJournal)SqlitePersistence.OpenJournal(path);
        await journal.WriteMessagesAsync([new AtomicWrite(Event("a", 1))]);
        await journal.ExecuteOnWriterAsync("PRAGMA max_page_count = 1;");
        var completions = Enumerable.Range(0, 5).Select(_ => new RecordingCompletion()).ToList();

        for (var i = 0; i < completions.Count; i++)
        {
            journal.WriteMessages([new AtomicWrite(Event($"big{i}", 1, size: 8000))], completions[i]);
        }

        foreach (var completion in completions)
        {
            var ex = await Assert.ThrowsAsync<PersistenceStoreException>(() => completion.Outcome);
            Assert.Contains(path, ex.Message);
            Assert.Equal(1, completion.Calls);
        }
    }

    [Fact]
    public async Task WriteMessages_AfterDispose_ThrowsAndNeverCallsBack()
    {
        var journal = (SqliteJournal)SqlitePersistence.OpenJournal(_directory.File("journal.db"));
        await journal.DisposeAsync();
        var completion = new RecordingCompletion();

        Assert.Throws<ObjectDisposedException>(() => journal.WriteMessages([new AtomicWrite(Event("a", 1))], completion));

        Assert.Equal(0, completion.Calls);
    }

    /// <summary>Records the journal's callbacks; the outcome task completes on the first one.</summary>
    private sealed class RecordingCompletion : IWriteCompletion
    {
        private readonly TaskCompletionSource<IReadOnlyList<Exception?>> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public Task<IReadOnlyList<Exception?>> Outcome => _outcome.Task;

        public int Calls => Volatile.Read(ref _calls);

        public void WriteCompleted(IReadOnlyList<Exception?> results)
        {
            Interlocked.Increment(ref _calls);
            _outcome.TrySetResult(results.ToArray());
        }

        public void WriteFailed(Exception error)
        {
            Interlocked.Increment(ref _calls);
            _outcome.TrySetException(error);
        }
    }
}
