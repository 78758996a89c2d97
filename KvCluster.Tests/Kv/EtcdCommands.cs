using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using static KvCluster.Tests.Kv.KvCommands;
using DeleteRangeRequest = KvCluster.Client.Etcd.DeleteRangeRequest;
using PutRequest = KvCluster.Client.Etcd.PutRequest;
using RangeRequest = KvCluster.Client.Etcd.RangeRequest;

namespace KvCluster.Tests.Kv;

/// <summary>Builders for etcd requests in specs, and a store wrapper that numbers log indexes.</summary>
internal static class EtcdCommands
{
    public static KvCommand EPut(string key, string value, bool prevKv = false) =>
        new() { EtcdPut = new PutRequest { Key = B(key), Value = B(value), PrevKv = prevKv } };

    public static KvCommand EDelete(string key, string rangeEnd = "", bool prevKv = false) =>
        new() { EtcdDeleteRange = new DeleteRangeRequest { Key = B(key), RangeEnd = B(rangeEnd), PrevKv = prevKv } };

    public static RangeRequest ERange(string key, string rangeEnd = "", long revision = 0) =>
        new() { Key = B(key), RangeEnd = B(rangeEnd), Revision = revision };

    public static KvCommand AsCommand(RangeRequest range) => new() { EtcdRange = range };

    public static KvCommand AsCommand(TxnRequest txn) => new() { EtcdTxn = txn };

    public static KvCommand Compact(long revision) => new() { EtcdCompact = new CompactionRequest { Revision = revision } };

    public static RequestOp OpPut(string key, string value) => new() { RequestPut = new PutRequest { Key = B(key), Value = B(value) } };

    public static RequestOp OpDelete(string key, string rangeEnd = "") =>
        new() { RequestDeleteRange = new DeleteRangeRequest { Key = B(key), RangeEnd = B(rangeEnd) } };

    public static RequestOp OpRange(string key, string rangeEnd = "") => new() { RequestRange = ERange(key, rangeEnd) };

    public static RequestOp OpTxn(TxnRequest txn) => new() { RequestTxn = txn };

    public static TxnRequest Txn(IEnumerable<Compare>? compares = null, IEnumerable<RequestOp>? success = null, IEnumerable<RequestOp>? failure = null)
    {
        var txn = new TxnRequest();
        txn.Compare.AddRange(compares ?? []);
        txn.Success.AddRange(success ?? []);
        txn.Failure.AddRange(failure ?? []);
        return txn;
    }

    public static Compare VersionIs(string key, Compare.Types.CompareResult result, long version, string rangeEnd = "") =>
        new() { Key = B(key), RangeEnd = B(rangeEnd), Target = Compare.Types.CompareTarget.Version, Result = result, Version = version };

    public static Compare ModIs(string key, Compare.Types.CompareResult result, long revision) =>
        new() { Key = B(key), Target = Compare.Types.CompareTarget.Mod, Result = result, ModRevision = revision };

    public static Compare CreateIs(string key, Compare.Types.CompareResult result, long revision) =>
        new() { Key = B(key), Target = Compare.Types.CompareTarget.Create, Result = result, CreateRevision = revision };

    public static Compare ValueIs(string key, Compare.Types.CompareResult result, string value, string rangeEnd = "") =>
        new() { Key = B(key), RangeEnd = B(rangeEnd), Target = Compare.Types.CompareTarget.Value, Result = result, Value = B(value) };

    public static Compare LeaseIs(string key, Compare.Types.CompareResult result, long lease) =>
        new() { Key = B(key), Target = Compare.Types.CompareTarget.Lease, Result = result, Lease = lease };

    public static string[] Keys(RangeResponse response) => response.Kvs.Select(kv => Text(kv.Key)).ToArray();

    public static ByteString Zero => B(0);
}

/// <summary>A store fed through <see cref="KvStateMachine.Apply(long, KvCommand)"/> with consecutive log indexes.</summary>
internal sealed class EtcdStore
{
    private long _index;

    public EtcdStore(KvLimits? limits = null)
    {
        Store = new KvStateMachine(limits);
    }

    public KvStateMachine Store { get; }

    public long Revision => Store.Revision;

    public KvResult Apply(KvCommand command) => Store.Apply(++_index, command);

    public KvResult Put(string key, string value) => Apply(EtcdCommands.EPut(key, value));

    public KvResult Delete(string key, string rangeEnd = "") => Apply(EtcdCommands.EDelete(key, rangeEnd));

    public KvResult Txn(TxnRequest txn) => Apply(EtcdCommands.AsCommand(txn));

    public KvResult Range(RangeRequest range) => Store.EtcdRange(range);

    public KvResult Range(string key, string rangeEnd = "", long revision = 0) => Store.EtcdRange(EtcdCommands.ERange(key, rangeEnd, revision));

    public KvCluster.Client.Etcd.Mvcc.KeyValue? Get(string key, long revision = 0)
    {
        var result = Range(key, revision: revision);
        Assert.Equal(KvStatus.Ok, result.Status);
        return result.EtcdRange.Kvs.SingleOrDefault();
    }
}
