using KvCluster.Actors.Persistence.Sqlite;

namespace KvCluster.Tests.Persistence;

/// <summary>The SQLite journal's operation queue: many submitters, one writer thread.</summary>
public sealed class WriterQueueTests
{
    [Fact]
    public void TryEnqueue_AfterComplete_RefusedButQueuedItemsStillHandedOut()
    {
        var queue = new WriterQueue<string>(TimeSpan.Zero);
        Assert.True(queue.TryEnqueue("a"));

        queue.Complete();

        Assert.False(queue.TryEnqueue("b"));
        Assert.True(queue.WaitForWork());
        Assert.True(queue.TryDequeue(out var item));
        Assert.Equal("a", item);
        Assert.False(queue.TryDequeue(out _));
        Assert.False(queue.WaitForWork());
    }

    [Fact]
    public async Task WaitForWork_ParkedWriter_WokenBySubmitterAndCompletion()
    {
        var queue = new WriterQueue<string>(TimeSpan.FromMicroseconds(50));
        var received = new List<string>();
        var writer = Task.Factory.StartNew(
            () =>
            {
                while (queue.WaitForWork())
                {
                    while (queue.TryDequeue(out var item))
                    {
                        received.Add(item);
                    }
                }
            },
            TaskCreationOptions.LongRunning);

        Assert.True(queue.TryEnqueue("a"));
        Assert.True(queue.TryEnqueue("b"));
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["a", "b"], received);
    }

    [Fact]
    public async Task TryEnqueue_ManyConcurrentSubmitters_EveryItemOnceInEachSubmittersOrder()
    {
        const int submitters = 8;
        const int each = 5000;
        var queue = new WriterQueue<Tuple<int, int>>(TimeSpan.FromMicroseconds(50));
        var next = new int[submitters];
        var writer = Task.Factory.StartNew(
            () =>
            {
                while (queue.WaitForWork())
                {
                    while (queue.TryDequeue(out var item))
                    {
                        var (submitter, index) = item;
                        Assert.Equal(next[submitter]++, index);
                    }
                }
            },
            TaskCreationOptions.LongRunning);

        await Task.WhenAll(Enumerable.Range(0, submitters).Select(s => Task.Run(async () =>
        {
            for (var i = 0; i < each; i++)
            {
                Assert.True(queue.TryEnqueue(Tuple.Create(s, i)));
                if (i % 100 == 0)
                {
                    await Task.Yield();
                }
            }
        })));
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(next, n => Assert.Equal(each, n));
    }
}
