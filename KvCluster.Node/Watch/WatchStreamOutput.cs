using System.Threading.Channels;
using KvCluster.Client.Etcd;

namespace KvCluster.Node.Watch;

/// <summary>
/// The responses of one watch stream (one gRPC Watch call) waiting to be written: the <see cref="WatchHub"/> is the only
/// producer, the stream's writer loop the only consumer. Unbounded as a channel; the hub bounds it by
/// <see cref="Pending"/> (a watcher whose stream has <see cref="WatchHubSettings.MaxPendingResponses"/> responses queued
/// is cancelled), so a slow client never blocks the hub and never grows it without limit. Thread-safe.
/// </summary>
public sealed class WatchStreamOutput
{
    /// <summary>Responses one batch takes at most (one flush of the stream).</summary>
    public const int MaxBatchResponses = 256;

    /// <summary>Events a merged response holds at most (etcd sends up to 1,000 revisions in one catch-up response).</summary>
    public const int MaxMergedEvents = 1_000;

    private readonly Channel<Queued> _queue = Channel.CreateUnbounded<Queued>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });

    private int _pending;

    /// <summary>Responses queued and not yet taken by the writer.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>
    /// Queues one response (the hub calls it); false once the stream is closed. A <paramref name="mergeable"/> response
    /// holds only events (whole revisions) of a watcher that did not ask for fragments: when the writer finds it right
    /// behind another mergeable one of the same watcher, both go out as one response.
    /// </summary>
    public bool Enqueue(WatchResponse response, bool mergeable = false)
    {
        if (!_queue.Writer.TryWrite(new Queued(response, mergeable)))
        {
            return false;
        }

        Interlocked.Increment(ref _pending);
        return true;
    }

    /// <summary>Ends the stream: the writer stops after the queued responses.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>The responses one by one in queue order, until <see cref="Complete"/>.</summary>
    public async IAsyncEnumerable<WatchResponse> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var queued in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            Interlocked.Decrement(ref _pending);
            yield return queued.Response;
        }
    }

    /// <summary>
    /// The writer loop's reading: each time responses are queued, everything queued then (at most
    /// <see cref="MaxBatchResponses"/>) in queue order, to be written with one flush. Consecutive mergeable responses of
    /// one watcher become one response (their events in order, up to <see cref="MaxMergedEvents"/>, with the later
    /// header), so a client that falls behind gets fewer, bigger responses; the events, their order and each revision's
    /// grouping are unchanged. Each batch is a new list, never empty.
    /// </summary>
    public async IAsyncEnumerable<List<WatchResponse>> ReadBatchesAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var batch = new List<WatchResponse>();
            var lastMergeable = false;
            while (batch.Count < MaxBatchResponses && _queue.Reader.TryRead(out var queued))
            {
                Interlocked.Decrement(ref _pending);
                var response = queued.Response;
                if (lastMergeable && queued.Mergeable && batch[^1] is var last && last.WatchId == response.WatchId
                    && last.Events.Count + response.Events.Count <= MaxMergedEvents)
                {
                    last.Events.Add(response.Events);
                    last.Header = response.Header;
                    continue;
                }

                batch.Add(response);
                lastMergeable = queued.Mergeable;
            }

            if (batch.Count > 0)
            {
                yield return batch;
            }
        }
    }

    private readonly record struct Queued(WatchResponse Response, bool Mergeable);
}
