using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCommand = KvCluster.Client.Protocol.KvCommand;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's <c>Lease</c> service. Grant and revoke become <see cref="KvCommand"/>s through the router into the Raft log
/// (a grant with id 0 gets an id from the node's <see cref="LeaseIdGenerator"/>, derived from its member id as etcd
/// does; its TTL raised to the minimum TTL as etcd's lessor does); keep-alives
/// and time-to-live go through the router to the leader's lessor (forwarded when this node does not lead) and never
/// reach the log; the lease list is a linearizable read. etcd's answers: keep-alive of an unknown lease gives TTL 0,
/// time-to-live of an unknown lease TTL -1, revoke of one NotFound, a TTL above 9,000,000,000 s OutOfRange.
/// </summary>
internal sealed class EtcdLeaseService : Lease.LeaseBase
{
    /// <summary>Attempts at a fresh id when the chosen one is taken (a client granted it by name).</summary>
    private const int IdAttempts = 5;

    private readonly EtcdGateway _gateway;
    private readonly LeaseIdGenerator _ids;
    private readonly long _minTtl;

    /// <summary>Creates the service over the node's gateway and lease id generator.</summary>
    public EtcdLeaseService(EtcdGateway gateway, LeaseIdGenerator ids)
    {
        _gateway = gateway;
        _ids = ids;
        _minTtl = gateway.Node.Options.LeaseSettings().MinTtlSeconds;
    }

    /// <summary>etcd's gRPC error for a lease refusal of the state machine (by its message), or null for another refusal.</summary>
    internal static RpcException? ErrorFor(string message) => message switch
    {
        Kv.EtcdErrors.LeaseNotFound => EtcdErrors.New(StatusCode.NotFound, message),
        Kv.EtcdErrors.LeaseExists => EtcdErrors.New(StatusCode.FailedPrecondition, message),
        Kv.EtcdErrors.LeaseTtlTooLarge => EtcdErrors.New(StatusCode.OutOfRange, message),
        _ => null,
    };

    /// <inheritdoc />
    public override async Task<LeaseGrantResponse> LeaseGrant(LeaseGrantRequest request, ServerCallContext context)
    {
        _gateway.CheckSize(request);
        if (request.TTL > Kv.KvStateMachine.MaxLeaseTtl)
        {
            throw ErrorFor(Kv.EtcdErrors.LeaseTtlTooLarge)!;
        }

        var ttl = Math.Max(request.TTL, _minTtl);
        for (var attempt = 1; ; attempt++)
        {
            var grant = new LeaseGrantRequest { ID = request.ID != 0 ? request.ID : _ids.Next(), TTL = ttl };
            try
            {
                var result = await _gateway.ExecuteAsync(new KvCommand { LeaseGrant = grant }, serializable: false, isWrite: true, context).ConfigureAwait(false);
                var response = result.EtcdLeaseGrant ?? throw Missing("lease grant");
                _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
                return response;
            }
            catch (RpcException e) when (request.ID == 0 && attempt < IdAttempts && e.StatusCode == StatusCode.FailedPrecondition)
            {
                // The id was taken (granted by name): take the next.
            }
        }
    }

    /// <inheritdoc />
    public override async Task<LeaseRevokeResponse> LeaseRevoke(LeaseRevokeRequest request, ServerCallContext context)
    {
        var result = await _gateway.ExecuteAsync(new KvCommand { LeaseRevoke = request }, serializable: false, isWrite: true, context).ConfigureAwait(false);
        var response = result.EtcdLeaseRevoke ?? throw Missing("lease revoke");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    /// <inheritdoc />
    public override async Task LeaseKeepAlive(IAsyncStreamReader<LeaseKeepAliveRequest> requestStream, IServerStreamWriter<LeaseKeepAliveResponse> responseStream, ServerCallContext context)
    {
        // One renewal at a time per stream, in the order sent, as etcd's server loop; a stream that asked for a leader
        // ends when the node has been without one too long.
        var cancelled = EtcdRequireLeaderInterceptor.CancellationOf(context);
        while (await requestStream.MoveNext(cancelled).ConfigureAwait(false))
        {
            var request = requestStream.Current;

            // The header is taken before the renewal, as etcd does: its revision is never above the store's at the
            // renewal, so a client cannot see a keep-alive succeed after a revoke it has seen.
            var header = _gateway.NewHeader(_gateway.Node.AppliedRevision);
            var result = await _gateway.ExecuteAsync(new KvCommand { LeaseKeepAlive = request }, serializable: false, isWrite: false, context).ConfigureAwait(false);
            var response = result.EtcdLeaseKeepAlive ?? throw Missing("lease keep-alive");
            response.Header = header;
            await responseStream.WriteAsync(response, cancelled).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override async Task<LeaseTimeToLiveResponse> LeaseTimeToLive(LeaseTimeToLiveRequest request, ServerCallContext context)
    {
        var result = await _gateway.ExecuteAsync(new KvCommand { LeaseTimeToLive = request }, serializable: false, isWrite: false, context).ConfigureAwait(false);
        var response = result.EtcdLeaseTimeToLive ?? throw Missing("lease time-to-live");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    /// <inheritdoc />
    public override async Task<LeaseLeasesResponse> LeaseLeases(LeaseLeasesRequest request, ServerCallContext context)
    {
        var result = await _gateway.ExecuteAsync(new KvCommand { LeaseLeases = request }, serializable: false, isWrite: false, context).ConfigureAwait(false);
        var response = result.EtcdLeaseLeases ?? throw Missing("lease list");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    private static RpcException Missing(string what) =>
        EtcdErrors.New(StatusCode.Unimplemented, $"etcdserver: this node's state machine answered no {what} response (does it apply lease commands?)");
}
