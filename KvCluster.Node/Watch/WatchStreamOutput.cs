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
    private readonly Channel<WatchResponse> _queue = Channel.CreateUnbounded<WatchResponse>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });

    private int _pending;

    /// <summary>Responses queued and not yet taken by the writer.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Queues one response (the hub calls it); false once the stream is closed.</summary>
    public bool Enqueue(WatchResponse response)
    {
        if (!_queue.Writer.TryWrite(response))
        {
            return false;
        }

        Interlocked.Increment(ref _pending);
        return true;
    }

    /// <summary>Ends the stream: the writer stops after the queued responses.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>The responses in queue order, until <see cref="Complete"/> (the writer loop reads it).</summary>
    public async IAsyncEnumerable<WatchResponse> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var response in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            Interlocked.Decrement(ref _pending);
            yield return response;
        }
    }
}
