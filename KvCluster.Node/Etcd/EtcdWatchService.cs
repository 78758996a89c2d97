using Akka.Actor;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Node.Watch;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's <c>Watch</c> service: one bidirectional stream carries many watchers. The requests (create, cancel, progress)
/// go to the node's <see cref="WatchHub"/> in the order received; the hub's responses (created, events, cancels,
/// progress) are written in the order it queued them, each header completed with this node's cluster id, member id and
/// term. As etcd, the call stays open after the client closes its side (events keep coming) until the client cancels
/// it or the node stops.
/// </summary>
internal sealed class EtcdWatchService : Client.Etcd.Watch.WatchBase
{
    private readonly EtcdGateway _gateway;

    /// <summary>Creates the service over the node's gateway.</summary>
    public EtcdWatchService(EtcdGateway gateway)
    {
        _gateway = gateway;
    }

    /// <inheritdoc />
    public override async Task Watch(IAsyncStreamReader<WatchRequest> requestStream, IServerStreamWriter<WatchResponse> responseStream, ServerCallContext context)
    {
        var hub = _gateway.Node.WatchHub;
        var output = new WatchStreamOutput();
        var cancelled = EtcdRequireLeaderInterceptor.CancellationOf(context);
        hub.Tell(new OpenWatchStream(output), ActorRefs.NoSender);
        var writer = WriteAsync(output, responseStream, cancelled);
        try
        {
            while (await requestStream.MoveNext(cancelled).ConfigureAwait(false))
            {
                _gateway.CheckSize(requestStream.Current);
                hub.Tell(new WatchStreamRequest(output, requestStream.Current), ActorRefs.NoSender);
            }

            // The client closed its side: etcd keeps sending until the call ends.
            await writer.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancelled.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (IOException) when (cancelled.IsCancellationRequested)
        {
            // The connection dropped under the read.
        }
        finally
        {
            hub.Tell(new CloseWatchStream(output), ActorRefs.NoSender);
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
            {
                // The stream is gone; nothing more can be written.
            }
        }
    }

    private async Task WriteAsync(WatchStreamOutput output, IServerStreamWriter<WatchResponse> responses, CancellationToken cancelled)
    {
        await foreach (var response in output.ReadAllAsync(cancelled).ConfigureAwait(false))
        {
            _gateway.Fill(response.Header);
            await responses.WriteAsync(response, cancelled).ConfigureAwait(false);
        }
    }
}
