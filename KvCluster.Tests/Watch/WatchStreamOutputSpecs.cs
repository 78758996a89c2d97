using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;
using KvCluster.Node.Watch;
using static KvCluster.Tests.Watch.WatchSpecSupport;

namespace KvCluster.Tests.Watch;

/// <summary>
/// How a watch stream's writer reads its queue: everything queued at once in one batch (one flush), consecutive event
/// responses of one watcher merged into one, and nothing else changed (order, revisions, the responses that must stay
/// alone: created, cancel, progress, fragments).
/// </summary>
public sealed class WatchStreamOutputSpecs
{
    [Fact]
    public async Task ConsecutiveEventsOfOneWatcher_GoOutAsOneResponse_InOrder_WithTheLaterHeader()
    {
        var output = new WatchStreamOutput();
        output.Enqueue(new WatchResponse { WatchId = 1, Created = true, Header = Header(10) });
        for (var revision = 11; revision <= 14; revision++)
        {
            output.Enqueue(Events(1, revision, events: revision == 12 ? 2 : 1), mergeable: true);
        }

        var batch = await NextBatchAsync(output);

        Assert.Equal(2, batch.Count);
        Assert.True(batch[0].Created);
        Assert.Empty(batch[0].Events);
        Assert.Equal([11L, 12, 12, 13, 14], batch[1].Events.Select(e => e.Kv.ModRevision));
        Assert.Equal(["k11/0", "k12/0", "k12/1", "k13/0", "k14/0"], batch[1].Events.Select(e => Text(e.Kv.Key)));
        Assert.Equal(14, batch[1].Header.Revision);
        Assert.Equal(0, output.Pending);
    }

    [Fact]
    public async Task OtherWatchers_Cancels_Progress_AndFragments_AreNeverMerged()
    {
        var output = new WatchStreamOutput();
        output.Enqueue(Events(1, 5), mergeable: true);
        output.Enqueue(Events(2, 5), mergeable: true);
        output.Enqueue(Events(1, 6), mergeable: true);
        output.Enqueue(new WatchResponse { WatchId = 1, Header = Header(6) }); // progress
        output.Enqueue(Events(1, 7), mergeable: true);
        output.Enqueue(Events(1, 8, fragment: true));
        output.Enqueue(Events(1, 9), mergeable: true);
        output.Enqueue(new WatchResponse { WatchId = 1, Canceled = true, Header = Header(9) });

        var batch = await NextBatchAsync(output);

        Assert.Equal(
            ["1:5", "2:5", "1:6", "1:progress", "1:7", "1:8 fragment", "1:9", "1:canceled"],
            batch.Select(r => $"{r.WatchId}:" + (r.Canceled ? "canceled" : r.Events.Count == 0 ? "progress" : string.Join(',', r.Events.Select(e => e.Kv.ModRevision)) + (r.Fragment ? " fragment" : string.Empty))));
    }

    [Fact]
    public async Task AMergedResponse_StopsAtTheEventLimit_AndABatchAtTheResponseLimit()
    {
        var output = new WatchStreamOutput();
        var revisions = WatchStreamOutput.MaxMergedEvents + 5;
        for (var revision = 1; revision <= revisions; revision++)
        {
            output.Enqueue(Events(1, revision), mergeable: true);
        }

        for (var i = 0; i < WatchStreamOutput.MaxBatchResponses + 3; i++)
        {
            output.Enqueue(new WatchResponse { WatchId = 9, Header = Header(revisions) });
        }

        var first = await NextBatchAsync(output);
        var second = await NextBatchAsync(output);

        Assert.Equal(WatchStreamOutput.MaxMergedEvents, first[0].Events.Count);
        Assert.Equal(Enumerable.Range(WatchStreamOutput.MaxMergedEvents + 1, 5).Select(r => (long)r), first[1].Events.Select(e => e.Kv.ModRevision));
        Assert.Equal(WatchStreamOutput.MaxBatchResponses, first.Count);
        Assert.Equal(5, second.Count);
        Assert.All(second, r => Assert.Equal(9, r.WatchId));
        Assert.Equal(0, output.Pending);
    }

    [Fact]
    public async Task ABatchIsWhatIsQueued_AndTheReadingEndsAfterComplete()
    {
        var output = new WatchStreamOutput();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var batches = output.ReadBatchesAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);

        output.Enqueue(Events(1, 1), mergeable: true);
        Assert.True(await batches.MoveNextAsync());
        var first = batches.Current;
        output.Enqueue(Events(1, 2), mergeable: true);
        Assert.True(await batches.MoveNextAsync());
        var second = batches.Current;
        output.Complete();

        Assert.Equal([1L], first.Single().Events.Select(e => e.Kv.ModRevision));
        Assert.Equal([2L], second.Single().Events.Select(e => e.Kv.ModRevision));
        Assert.False(await batches.MoveNextAsync());
        Assert.False(output.Enqueue(Events(1, 3), mergeable: true));
    }

    private static async Task<List<WatchResponse>> NextBatchAsync(WatchStreamOutput output)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var batch in output.ReadBatchesAsync(cancel.Token))
        {
            return batch;
        }

        throw new InvalidOperationException("the output ended without a batch");
    }

    private static ResponseHeader Header(long revision) => new() { Revision = revision };

    private static WatchResponse Events(long watchId, long revision, int events = 1, bool fragment = false)
    {
        var response = new WatchResponse { WatchId = watchId, Header = Header(revision), Fragment = fragment };
        for (var i = 0; i < events; i++)
        {
            response.Events.Add(new Event { Type = Event.Types.EventType.Put, Kv = new KeyValue { Key = B($"k{revision}/{i}"), ModRevision = revision } });
        }

        return response;
    }
}
