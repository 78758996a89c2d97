using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Sqlite;

namespace KvCluster.Tests.Persistence;

/// <summary>
/// The child process of the crash tests: persists as fast as it can into a SQLite journal from
/// <see cref="Writers"/> concurrent writers (even writers one event per atomic write, odd ones
/// <see cref="OddBatch"/>), and prints "writer highestSeq" on stdout only AFTER each write was
/// acknowledged, i.e. after it is durable. Writers below <see cref="Writers"/>/2 wait for the
/// task of <see cref="IJournal.WriteMessagesAsync"/>, the others for the writer-thread callback of
/// <see cref="IWriteCallbackJournal.WriteMessages"/> (the path persistent actors use), so both
/// acknowledgements are checked. The journal indexes every <see cref="IndexBatchEvents"/> events,
/// so the kill lands among indexing transactions (committed with synchronous=NORMAL) and group
/// commits alike. Stops by itself after <see cref="MaxRun"/>.
/// </summary>
internal static class CrashWriterProgram
{
    public const int Writers = 8;
    public const int OddBatch = 3;
    public const int PayloadBytes = 200;
    public const int IndexBatchEvents = 50;
    public static readonly TimeSpan MaxRun = TimeSpan.FromSeconds(90);

    public static string PersistenceId(int writer) => $"crash-{writer}";

    public static byte[] Payload(int writer, long seq)
    {
        var payload = new byte[PayloadBytes];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((seq * 31) + (writer * 7) + i);
        }
        return payload;
    }

    public static int Run(string[] args)
    {
        var deadline = DateTime.UtcNow + MaxRun;
        var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        var journal = SqlitePersistence.OpenJournal(args[0], new SqliteStoreOptions { JournalIndexBatchEvents = IndexBatchEvents });
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var batch = w % 2 == 0 ? 1 : OddBatch;
            long seq = 0;
            while (DateTime.UtcNow < deadline)
            {
                var events = Enumerable.Range(1, batch)
                    .Select(i => new PersistentRepr(PersistenceId(w), seq + i, Payload(w, seq + i), "crash", "child"))
                    .ToArray();
                var results = w < Writers / 2
                    ? await journal.WriteMessagesAsync([new AtomicWrite(events)])
                    : await CallbackAcknowledgement.WriteAsync((IWriteCallbackJournal)journal, [new AtomicWrite(events)]);
                if (results[0] is not null)
                {
                    throw results[0]!;
                }
                seq += batch;
                lock (output)
                {
                    output.WriteLine($"{w} {seq}");
                }
            }
        })).ToArray();
        Task.WaitAll(writers);
        journal.DisposeAsync().AsTask().Wait();
        return 0;
    }
}

/// <summary>Turns the journal's writer-thread callback into a task, for tests that await it.</summary>
internal sealed class CallbackAcknowledgement : IWriteCallback
{
    private readonly TaskCompletionSource<IReadOnlyList<Exception?>> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The thread that ran the callback.</summary>
    public Thread? CallbackThread { get; private set; }

    /// <summary>Completes with the results, or faults with the storage error.</summary>
    public Task<IReadOnlyList<Exception?>> Task => _completion.Task;

    public static Task<IReadOnlyList<Exception?>> WriteAsync(IWriteCallbackJournal journal, IReadOnlyList<AtomicWrite> writes)
    {
        var acknowledgement = new CallbackAcknowledgement();
        journal.WriteMessages(writes, acknowledgement);
        return acknowledgement.Task;
    }

    public void Written(IReadOnlyList<Exception?> results)
    {
        CallbackThread = Thread.CurrentThread;
        _completion.TrySetResult(results);
    }

    public void Failed(Exception error)
    {
        CallbackThread = Thread.CurrentThread;
        _completion.TrySetException(error);
    }
}
