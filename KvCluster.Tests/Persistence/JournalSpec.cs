using System.Text;
using KvCluster.Actors.Persistence.Journal;

namespace KvCluster.Tests.Persistence;

/// <summary>
/// The conformance spec every <see cref="IJournal"/> implementation inherits (after Akka.Persistence.TCK's
/// JournalSpec): ordering, replay ranges, highest sequence number across deletes, all-or-nothing
/// atomic writes, concurrency and reopening.
/// </summary>
public abstract class JournalSpec : IAsyncLifetime
{
    protected IJournal Journal { get; private set; } = null!;

    /// <summary>Opens the journal under test; called again by <see cref="ReopenAsync"/> on the same storage.</summary>
    protected abstract IJournal OpenJournal(JournalOptions options);

    /// <summary>The limits the spec opens journals with.</summary>
    protected static JournalOptions Options { get; } = new() { MaxEventBytes = 1024 };

    public Task InitializeAsync()
    {
        Journal = OpenJournal(Options);
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync() => await Journal.DisposeAsync();

    protected async Task ReopenAsync()
    {
        await Journal.DisposeAsync();
        Journal = OpenJournal(Options);
    }

    protected static PersistentRepr Event(string pid, long seq, string? text = null) =>
        new(pid, seq, Encoding.UTF8.GetBytes(text ?? $"{pid}-{seq}"), "test.event", "writer-1", 1_700_000_000_000 + seq);

    protected async Task WriteAsync(string pid, long from, long to)
    {
        var writes = new List<AtomicWrite>();
        for (var seq = from; seq <= to; seq++)
        {
            writes.Add(new AtomicWrite(Event(pid, seq)));
        }
        var results = await Journal.WriteMessagesAsync(writes);
        Assert.All(results, Assert.Null);
    }

    protected async Task<List<PersistentRepr>> ReplayAsync(string pid, long from = 1, long to = long.MaxValue, long max = long.MaxValue)
    {
        var replayed = new List<PersistentRepr>();
        await Journal.ReplayMessagesAsync(pid, from, to, max, e => replayed.Add(e));
        return replayed;
    }

    protected static long[] Seqs(IEnumerable<PersistentRepr> events) => events.Select(e => e.SequenceNr).ToArray();

    protected static long[] Range(long from, long to) => Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => (long)i).ToArray();

    [Fact]
    public async Task WriteMessages_SingleEvents_ReplayedInOrderWithAllFields()
    {
        await WriteAsync("a", 1, 5);

        var replayed = await ReplayAsync("a");

        Assert.Equal(Range(1, 5), Seqs(replayed));
        var third = replayed[2];
        Assert.Equal("a", third.PersistenceId);
        Assert.Equal("a-3", Encoding.UTF8.GetString(third.Payload.Span));
        Assert.Equal("test.event", third.Manifest);
        Assert.Equal("writer-1", third.WriterUuid);
        Assert.Equal(1_700_000_000_003, third.Timestamp);
    }

    [Fact]
    public async Task WriteMessages_EmptyBatch_ReturnsNoResults()
    {
        var results = await Journal.WriteMessagesAsync([]);

        Assert.Empty(results);
    }

    [Fact]
    public async Task ReplayMessages_FromSequenceNr_SkipsEarlierEvents()
    {
        await WriteAsync("a", 1, 5);

        Assert.Equal(Range(3, 5), Seqs(await ReplayAsync("a", from: 3)));
    }

    [Fact]
    public async Task ReplayMessages_ToSequenceNr_StopsInclusive()
    {
        await WriteAsync("a", 1, 5);

        Assert.Equal(Range(2, 4), Seqs(await ReplayAsync("a", from: 2, to: 4)));
    }

    [Fact]
    public async Task ReplayMessages_Max_LimitsCount()
    {
        await WriteAsync("a", 1, 5);

        Assert.Equal(Range(2, 3), Seqs(await ReplayAsync("a", from: 2, max: 2)));
    }

    [Fact]
    public async Task ReplayMessages_MaxZeroOrEmptyRange_ReplaysNothing()
    {
        await WriteAsync("a", 1, 5);

        Assert.Empty(await ReplayAsync("a", max: 0));
        Assert.Empty(await ReplayAsync("a", from: 4, to: 3));
        Assert.Empty(await ReplayAsync("a", from: 6));
    }

    [Fact]
    public async Task ReplayMessages_UnknownPersistenceId_ReplaysNothing()
    {
        await WriteAsync("a", 1, 3);

        Assert.Empty(await ReplayAsync("b"));
    }

    [Fact]
    public async Task ReplayMessages_CallbackThrows_TaskFaultsWithThatException()
    {
        await WriteAsync("a", 1, 3);
        var seen = 0;

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Journal.ReplayMessagesAsync("a", 1, long.MaxValue, long.MaxValue, _ =>
            {
                if (++seen == 2)
                {
                    throw new InvalidOperationException("boom");
                }
            }));

        Assert.Equal("boom", ex.Message);
        Assert.Equal(2, seen);
    }

    [Fact]
    public async Task ReadHighestSequenceNr_UnknownPersistenceId_IsZero()
    {
        Assert.Equal(0, await Journal.ReadHighestSequenceNrAsync("nobody"));
    }

    [Fact]
    public async Task ReadHighestSequenceNr_AfterWrites_IsLastWritten()
    {
        await WriteAsync("a", 1, 7);
        await WriteAsync("b", 1, 2);

        Assert.Equal(7, await Journal.ReadHighestSequenceNrAsync("a"));
        Assert.Equal(2, await Journal.ReadHighestSequenceNrAsync("b"));
    }

    [Fact]
    public async Task DeleteMessagesTo_Prefix_ReplayStartsAfterAndHighestKept()
    {
        await WriteAsync("a", 1, 5);

        await Journal.DeleteMessagesToAsync("a", 3);

        Assert.Equal(Range(4, 5), Seqs(await ReplayAsync("a")));
        Assert.Equal(5, await Journal.ReadHighestSequenceNrAsync("a"));
    }

    [Fact]
    public async Task DeleteMessagesTo_Everything_HighestSequenceNrKept()
    {
        await WriteAsync("a", 1, 5);

        await Journal.DeleteMessagesToAsync("a", 5);

        Assert.Empty(await ReplayAsync("a"));
        Assert.Equal(5, await Journal.ReadHighestSequenceNrAsync("a"));
    }

    [Fact]
    public async Task DeleteMessagesTo_BeyondHighest_HighestIsLastWritten()
    {
        await WriteAsync("a", 1, 5);

        await Journal.DeleteMessagesToAsync("a", long.MaxValue);

        Assert.Empty(await ReplayAsync("a"));
        Assert.Equal(5, await Journal.ReadHighestSequenceNrAsync("a"));
    }

    [Fact]
    public async Task DeleteMessagesTo_OtherPersistenceId_Untouched()
    {
        await WriteAsync("a", 1, 3);
        await WriteAsync("b", 1, 3);

        await Journal.DeleteMessagesToAsync("a", long.MaxValue);

        Assert.Equal(Range(1, 3), Seqs(await ReplayAsync("b")));
    }

    [Fact]
    public async Task WriteMessages_AfterDeletingEverything_ContinueTheSequence()
    {
        await WriteAsync("a", 1, 3);
        await Journal.DeleteMessagesToAsync("a", 3);

        await WriteAsync("a", 4, 6);

        Assert.Equal(Range(4, 6), Seqs(await ReplayAsync("a")));
        Assert.Equal(6, await Journal.ReadHighestSequenceNrAsync("a"));
    }

    [Fact]
    public async Task WriteMessages_AtomicWriteOfSeveralEvents_StoredTogether()
    {
        var results = await Journal.WriteMessagesAsync([new AtomicWrite([Event("a", 1), Event("a", 2), Event("a", 3)])]);

        Assert.Null(Assert.Single(results));
        Assert.Equal(Range(1, 3), Seqs(await ReplayAsync("a")));
    }

    [Fact]
    public async Task WriteMessages_AtomicWriteWithUsedSequenceNr_RejectedEntirelyOthersStored()
    {
        await WriteAsync("b", 1, 2);
        await WriteAsync("b", 5, 5);
        AtomicWrite[] batch =
        [
            new AtomicWrite(Event("a", 1)),
            new AtomicWrite([Event("b", 3), Event("b", 4), Event("b", 5, "duplicate")]),
            new AtomicWrite(Event("c", 1)),
        ];

        var results = await Journal.WriteMessagesAsync(batch);

        Assert.Null(results[0]);
        var rejection = Assert.IsType<EventRejectedException>(results[1]);
        Assert.Equal("b", rejection.PersistenceId);
        Assert.Equal(5, rejection.SequenceNr);
        Assert.Contains("already stored", rejection.Message);
        Assert.Null(results[2]);
        var b = await ReplayAsync("b");
        Assert.Equal(new long[] { 1, 2, 5 }, Seqs(b));
        Assert.Equal("b-5", Encoding.UTF8.GetString(b[2].Payload.Span));
        Assert.Equal(new long[] { 1 }, Seqs(await ReplayAsync("a")));
        Assert.Equal(new long[] { 1 }, Seqs(await ReplayAsync("c")));
    }

    [Fact]
    public async Task WriteMessages_OversizedEvent_RejectedWithoutFailingOthers()
    {
        var tooLarge = new PersistentRepr("big", 2, new byte[Options.MaxEventBytes + 1], "blob");
        AtomicWrite[] batch =
        [
            new AtomicWrite(Event("a", 1)),
            new AtomicWrite([Event("big", 1), tooLarge]),
            new AtomicWrite(Event("a", 2)),
        ];

        var results = await Journal.WriteMessagesAsync(batch);

        Assert.Null(results[0]);
        var rejection = Assert.IsType<EventRejectedException>(results[1]);
        Assert.Equal(2, rejection.SequenceNr);
        Assert.Contains($"{Options.MaxEventBytes + 1} bytes", rejection.Message);
        Assert.Null(results[2]);
        Assert.Empty(await ReplayAsync("big"));
        Assert.Equal(0, await Journal.ReadHighestSequenceNrAsync("big"));
        Assert.Equal(Range(1, 2), Seqs(await ReplayAsync("a")));
    }

    [Fact]
    public async Task WriteMessages_EventAtSizeLimit_Stored()
    {
        var atLimit = new PersistentRepr("a", 1, new byte[Options.MaxEventBytes], "blob");

        var results = await Journal.WriteMessagesAsync([new AtomicWrite(atLimit)]);

        Assert.Null(Assert.Single(results));
        Assert.Equal(Options.MaxEventBytes, Assert.Single(await ReplayAsync("a")).Payload.Length);
    }

    [Fact]
    public async Task WriteMessages_ManyConcurrentWriters_EveryStreamGapFreeAndOrdered()
    {
        const int writers = 16;
        const int eventsEach = 100;

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var pid = $"p{w}";
            for (var seq = 1; seq <= eventsEach; seq++)
            {
                var results = await Journal.WriteMessagesAsync([new AtomicWrite(Event(pid, seq))]);
                Assert.Null(results[0]);
            }
        })));

        for (var w = 0; w < writers; w++)
        {
            var replayed = await ReplayAsync($"p{w}");
            Assert.Equal(Range(1, eventsEach), Seqs(replayed));
            Assert.All(replayed, e => Assert.Equal($"p{w}-{e.SequenceNr}", Encoding.UTF8.GetString(e.Payload.Span)));
        }
    }

    [Fact]
    public async Task WriteMessages_ConcurrentBatchesOfOneStream_StoredInSubmissionOrder()
    {
        // Submitted without awaiting: each write's events follow the previous write's.
        var tasks = Enumerable.Range(0, 50)
            .Select(i => Journal.WriteMessagesAsync([new AtomicWrite([Event("a", (2 * i) + 1), Event("a", (2 * i) + 2)])]))
            .ToList();

        foreach (var results in await Task.WhenAll(tasks))
        {
            Assert.Null(Assert.Single(results));
        }
        Assert.Equal(Range(1, 100), Seqs(await ReplayAsync("a")));
    }

    [Fact]
    public async Task WriteMessages_PayloadSlice_StoresOnlyTheSlice()
    {
        var buffer = Encoding.UTF8.GetBytes("xxhelloxx");

        await Journal.WriteMessagesAsync([new AtomicWrite(new PersistentRepr("a", 1, buffer.AsMemory(2, 5)))]);

        Assert.Equal("hello", Encoding.UTF8.GetString(Assert.Single(await ReplayAsync("a")).Payload.Span));
    }

    [Fact]
    public async Task Reopen_AfterDispose_EventsAndHighestSequenceNrSurvive()
    {
        await WriteAsync("a", 1, 5);
        await Journal.DeleteMessagesToAsync("a", 5);
        await WriteAsync("b", 1, 3);

        await ReopenAsync();

        Assert.Empty(await ReplayAsync("a"));
        Assert.Equal(5, await Journal.ReadHighestSequenceNrAsync("a"));
        Assert.Equal(Range(1, 3), Seqs(await ReplayAsync("b")));
    }

    [Fact]
    public async Task WriteMessages_AfterDispose_ThrowsObjectDisposed()
    {
        await Journal.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => Journal.WriteMessagesAsync([new AtomicWrite(Event("a", 1))]));
    }
}
