using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Router;
using static KvCluster.Tests.Kv.EtcdCommands;
using static KvCluster.Tests.Kv.KvCommands;

namespace KvCluster.Tests.Router;

public sealed class KvRequestClassifierSpecs
{
    [Fact]
    public void Writes_GoThroughTheLog()
    {
        Assert.Equal(KvRequestPath.Write, Classify(Put("a", "1")));
        Assert.Equal(KvRequestPath.Write, Classify(Delete("a")));
        Assert.Equal(KvRequestPath.Write, Classify(DeleteRange("a")));
        Assert.Equal(KvRequestPath.Write, Classify(EPut("a", "1")));
        Assert.Equal(KvRequestPath.Write, Classify(EDelete("a")));
        Assert.Equal(KvRequestPath.Write, Classify(Compact(3)));
        Assert.Equal(KvRequestPath.Write, Classify(AsCommand(Txn(success: [OpRange("a")], failure: [OpTxn(Txn(success: [OpPut("b", "1")]))]))));
    }

    [Fact]
    public void Reads_AreLinearizableByDefault()
    {
        Assert.Equal(KvRequestPath.LinearizableRead, Classify(Get("a")));
        Assert.Equal(KvRequestPath.LinearizableRead, Classify(AsCommand(ERange("a"))));
        Assert.Equal(KvRequestPath.LinearizableRead, Classify(AsCommand(Txn(success: [OpRange("a"), OpTxn(Txn(failure: [OpRange("b")]))]))));
    }

    [Fact]
    public void SerializableReads_AreLocal()
    {
        var range = ERange("a");
        range.Serializable = true;
        var txn = Txn(success: [new RequestOp { RequestRange = range }]);

        Assert.Equal(KvRequestPath.LocalRead, Classify(AsCommand(range)));
        Assert.Equal(KvRequestPath.LocalRead, Classify(AsCommand(txn)));
        Assert.Equal(KvRequestPath.LocalRead, Classify(Get("a"), ReadConsistency.Serializable));
        Assert.Equal(KvRequestPath.Write, Classify(EPut("a", "1"), ReadConsistency.Serializable));
    }

    [Fact]
    public void HashKv_IsAlwaysLocal()
    {
        Assert.Equal(KvRequestPath.LocalRead, Classify(new KvCommand { EtcdHashKv = new HashKVRequest() }));
    }

    private static KvRequestPath Classify(KvCommand command, ReadConsistency consistency = ReadConsistency.Linearizable) =>
        KvRequestClassifier.Classify(new KvRequest { Command = command, Consistency = consistency });
}
