using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCommand = KvCluster.Client.Protocol.KvCommand;
using KvResult = KvCluster.Client.Protocol.KvResult;
using KvStatus = KvCluster.Client.Protocol.KvStatus;
using KvRequest = KvCluster.Client.Protocol.KvRequest;
using KvResponse = KvCluster.Client.Protocol.KvResponse;
using ReadConsistency = KvCluster.Client.Protocol.ReadConsistency;
using ResponseCode = KvCluster.Client.Protocol.ResponseCode;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's <c>KV</c> service: each call becomes one <see cref="KvCommand"/> carrying the etcd request unchanged
/// (etcd_range, etcd_put, etcd_delete_range, etcd_txn, etcd_compact) through the router into Raft; the state machine's
/// etcd response comes back in <see cref="KvResult"/>, and the header gets this node's cluster id, member id and term.
/// A request over <see cref="Hosting.NodeOptions.MaxRequestBytes"/> is refused before it reaches the router.
/// </summary>
internal sealed class EtcdKvService : KV.KVBase
{
    private readonly EtcdGateway _gateway;

    /// <summary>Creates the service over the node's gateway.</summary>
    public EtcdKvService(EtcdGateway gateway)
    {
        _gateway = gateway;
    }

    /// <inheritdoc />
    public override async Task<RangeResponse> Range(RangeRequest request, ServerCallContext context)
    {
        _gateway.CheckSize(request);
        var result = await _gateway.ExecuteAsync(new KvCommand { EtcdRange = request }, request.Serializable, isWrite: false, context).ConfigureAwait(false);
        var response = result.EtcdRange ?? throw Missing("range");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    /// <inheritdoc />
    public override async Task<PutResponse> Put(PutRequest request, ServerCallContext context)
    {
        _gateway.CheckSize(request);
        var result = await _gateway.ExecuteAsync(new KvCommand { EtcdPut = request }, serializable: false, isWrite: true, context).ConfigureAwait(false);
        var response = result.EtcdPut ?? throw Missing("put");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    /// <inheritdoc />
    public override async Task<DeleteRangeResponse> DeleteRange(DeleteRangeRequest request, ServerCallContext context)
    {
        _gateway.CheckSize(request);
        var result = await _gateway.ExecuteAsync(new KvCommand { EtcdDeleteRange = request }, serializable: false, isWrite: true, context).ConfigureAwait(false);
        var response = result.EtcdDeleteRange ?? throw Missing("delete range");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    /// <inheritdoc />
    public override async Task<TxnResponse> Txn(TxnRequest request, ServerCallContext context)
    {
        _gateway.CheckSize(request);
        var readOnly = IsReadOnly(request);
        var serializable = readOnly && IsSerializable(request);
        var result = await _gateway.ExecuteAsync(new KvCommand { EtcdTxn = request }, serializable, isWrite: !readOnly, context).ConfigureAwait(false);
        var response = result.EtcdTxn ?? throw Missing("txn");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    /// <inheritdoc />
    public override async Task<CompactionResponse> Compact(CompactionRequest request, ServerCallContext context)
    {
        _gateway.CheckSize(request);
        var result = await _gateway.ExecuteAsync(new KvCommand { EtcdCompact = request }, serializable: false, isWrite: true, context).ConfigureAwait(false);
        var response = result.EtcdCompact ?? throw Missing("compaction");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    /// <summary>True when no branch of the txn (nested ones included) writes: etcd serves it as a read.</summary>
    internal static bool IsReadOnly(TxnRequest txn) =>
        txn.Success.Concat(txn.Failure).All(op => op.RequestCase switch
        {
            RequestOp.RequestOneofCase.RequestRange => true,
            RequestOp.RequestOneofCase.RequestTxn => IsReadOnly(op.RequestTxn),
            _ => false,
        });

    /// <summary>True when every range of a read-only txn asks for serializable reads (etcd's rule for a serializable txn).</summary>
    internal static bool IsSerializable(TxnRequest txn)
    {
        var ranges = Ranges(txn).ToList();
        return ranges.Count > 0 && ranges.All(r => r.Serializable);
    }

    private static IEnumerable<RangeRequest> Ranges(TxnRequest txn) =>
        txn.Success.Concat(txn.Failure).SelectMany(op => op.RequestCase switch
        {
            RequestOp.RequestOneofCase.RequestRange => [op.RequestRange],
            RequestOp.RequestOneofCase.RequestTxn => Ranges(op.RequestTxn),
            _ => Enumerable.Empty<RangeRequest>(),
        });

    private static RpcException Missing(string what) =>
        EtcdErrors.New(StatusCode.Unimplemented, $"etcdserver: this node's state machine answered no {what} response (does it apply etcd's commands?)");
}
