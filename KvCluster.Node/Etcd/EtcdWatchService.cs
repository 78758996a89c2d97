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
                var request = requestStream.Current;
                _gateway.CheckSize(request);
                hub.Tell(new WatchStreamRequest(output, request, Refusal(request, context)), ActorRefs.NoSender);
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

    /// <summary>
    /// etcd's cancel reason for a create the stream's user may not read (auth enabled; checked against this node's
    /// auth store as the create arrives, as etcd's watch server checks it), or null.
    /// </summary>
    private string? Refusal(WatchRequest request, ServerCallContext context)
    {
        var auth = _gateway.Node.Auth;
        if (!auth.Enabled || request.RequestUnionCase != WatchRequest.RequestUnionOneofCase.CreateRequest)
        {
            return null;
        }

        // A stream lives long: its user is checked at the store's revision now (etcd's simple tokens do the same).
        var identity = EtcdAuthInterceptor.IdentityOf(context) ?? AuthIdentity.None;
        var revision = identity.User.Length == 0 ? 0 : auth.Revision;
        var create = request.CreateRequest;
        return auth.CheckRange(identity.User, revision, create.Key, create.RangeEnd, Client.Etcd.Authpb.Permission.Types.Type.Read) is null
            ? null
            : Kv.AuthErrors.PermissionDenied;
    }

    /// <summary>Buffers a response in the connection's output without flushing it (a later write of the batch flushes).</summary>
    private static readonly WriteOptions s_buffered = new(WriteFlags.BufferHint);

    /// <summary>
    /// Writes what the hub queued, a batch at a time: every response of a batch but the last is only buffered, so a
    /// batch costs one flush (one HTTP/2 write) rather than one per response; a client that falls behind gets its
    /// consecutive events merged into fewer responses (<see cref="WatchStreamOutput.ReadBatchesAsync"/>).
    /// </summary>
    private async Task WriteAsync(WatchStreamOutput output, IServerStreamWriter<WatchResponse> responses, CancellationToken cancelled)
    {
        await foreach (var batch in output.ReadBatchesAsync(cancelled).ConfigureAwait(false))
        {
            for (var i = 0; i < batch.Count; i++)
            {
                _gateway.Fill(batch[i].Header);
                responses.WriteOptions = i < batch.Count - 1 ? s_buffered : null;
                await responses.WriteAsync(batch[i], cancelled).ConfigureAwait(false);
            }
        }
    }
}
