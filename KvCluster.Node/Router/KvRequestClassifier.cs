using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;

namespace KvCluster.Node.Router;

/// <summary>How the router serves a request.</summary>
public enum KvRequestPath
{
    /// <summary>Proposed to the Raft log (through the leader).</summary>
    Write,

    /// <summary>A read confirmed by ReadIndex with the leader, then served from the local applied state.</summary>
    LinearizableRead,

    /// <summary>A read served at once from the local applied state (serializable: possibly stale).</summary>
    LocalRead,

    /// <summary>Served by the leader's lessor, never logged (lease keep-alive and time-to-live): forwarded to the leader like a write.</summary>
    Lessor,
}

/// <summary>
/// Classifies a request: writes (put, delete, delete_range, etcd put, etcd delete range, etcd compact,
/// an etcd txn holding any put or delete) go through the log; reads (get, range, etcd range, an etcd
/// txn whose operations are all ranges, nested ones included) are linearizable unless the request or
/// the etcd request asks for a serializable read (an etcd txn is serializable when all its ranges
/// are, as in etcd); etcd HashKV is always local (it describes the node asked). Lease grant and revoke are writes; lease
/// keep-alive and time-to-live go to the leader's lessor; the lease list is a read and the lease table a local read. Auth
/// changes are writes, the auth store's status, gets and lists reads.
/// </summary>
public static class KvRequestClassifier
{
    /// <summary>The path of <paramref name="request"/>; its command must be set.</summary>
    public static KvRequestPath Classify(KvRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var command = request.Command;
        var serializable = request.Consistency == ReadConsistency.Serializable;
        return command.OpCase switch
        {
            KvCommand.OpOneofCase.Get or KvCommand.OpOneofCase.Range => Read(serializable),
            KvCommand.OpOneofCase.EtcdRange => Read(serializable || command.EtcdRange.Serializable),
            KvCommand.OpOneofCase.EtcdTxn when KvEtcdRules.IsReadOnly(command.EtcdTxn) =>
                Read(serializable || KvEtcdRules.IsSerializable(command.EtcdTxn)),
            KvCommand.OpOneofCase.EtcdHashKv or KvCommand.OpOneofCase.LeaseTable => KvRequestPath.LocalRead,
            KvCommand.OpOneofCase.LeaseKeepAlive or KvCommand.OpOneofCase.LeaseTimeToLive => KvRequestPath.Lessor,
            KvCommand.OpOneofCase.LeaseLeases => Read(serializable),
            KvCommand.OpOneofCase.Auth when KvAuthState.IsRead(command.Auth) => Read(serializable),
            _ => KvRequestPath.Write,
        };
    }

    private static KvRequestPath Read(bool serializable) => serializable ? KvRequestPath.LocalRead : KvRequestPath.LinearizableRead;
}
