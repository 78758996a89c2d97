using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using static KvCluster.Tests.Kv.EtcdCommands;
using static KvCluster.Tests.Kv.KvCommands;
using DeleteRangeRequest = KvCluster.Client.Etcd.DeleteRangeRequest;
using PutRequest = KvCluster.Client.Etcd.PutRequest;
using RangeRequest = KvCluster.Client.Etcd.RangeRequest;

namespace KvCluster.Tests.Kv;

/// <summary>The checks made before the log (router's validator) on etcd requests, with etcd's messages.</summary>
public sealed class KvEtcdRulesSpecs
{
    private readonly KvRequestValidator _validator = new(new KvLimits { MaxKeyBytes = 8, MaxValueBytes = 16, MaxRequestBytes = 100, MaxTxnOps = 4 });

    [Fact]
    public void ValidRequests_Pass()
    {
        Assert.Null(_validator.Validate(EPut("k", "v")));
        Assert.Null(_validator.Validate(AsCommand(ERange("k", "\0"))));
        Assert.Null(_validator.Validate(EDelete("k")));
        Assert.Null(_validator.Validate(AsCommand(Txn(success: [OpPut("a", "1"), OpDelete("b")]))));
        Assert.Null(_validator.Validate(Compact(5)));
        Assert.Null(_validator.Validate(new KvCommand { EtcdHashKv = new HashKVRequest() }));
    }

    [Fact]
    public void EmptyKeys_AreRefused()
    {
        Assert.Equal(EtcdErrors.EmptyKey, _validator.Validate(EPut("", "v"))!.Message);
        Assert.Equal(EtcdErrors.EmptyKey, _validator.Validate(AsCommand(ERange("")))!.Message);
        Assert.Equal(EtcdErrors.EmptyKey, _validator.Validate(EDelete(""))!.Message);
    }

    [Fact]
    public void OversizedKeyValueOrRequest_IsTooLarge()
    {
        Assert.Equal(EtcdErrors.RequestTooLarge, _validator.Validate(EPut("123456789", "v"))!.Message);
        Assert.Equal(EtcdErrors.RequestTooLarge, _validator.Validate(EPut("k", new string('v', 17)))!.Message);
        var ops = Enumerable.Range(0, 4).Select(i => OpPut($"k{i}", new string('v', 16)));
        var big = _validator.Validate(AsCommand(Txn(success: ops)))!;
        Assert.Equal(KvStatus.InvalidArgument, big.Status);
        Assert.Equal(EtcdErrors.RequestTooLarge, big.Message);
    }

    [Fact]
    public void IgnoreValueWithAValue_AndIgnoreLeaseWithALease_AreRefused()
    {
        var value = new KvCommand { EtcdPut = new PutRequest { Key = B("k"), Value = B("v"), IgnoreValue = true } };
        var lease = new KvCommand { EtcdPut = new PutRequest { Key = B("k"), Lease = 3, IgnoreLease = true } };

        Assert.Equal(EtcdErrors.ValueProvided, _validator.Validate(value)!.Message);
        Assert.Equal(EtcdErrors.LeaseProvided, _validator.Validate(lease)!.Message);
    }

    [Fact]
    public void TxnRules_TooManyOpsAndDuplicates()
    {
        var five = Enumerable.Range(0, 5).Select(i => OpRange($"k{i}"));

        Assert.Equal(EtcdErrors.TooManyOps, _validator.Validate(AsCommand(Txn(failure: five)))!.Message);
        Assert.Equal(EtcdErrors.DuplicateKey, _validator.Validate(AsCommand(Txn(failure: [OpPut("a", "1"), OpDelete("\0", "\0")])))!.Message);
        Assert.Null(_validator.Validate(AsCommand(Txn(success: [OpPut("a", "1")], failure: [OpPut("a", "2")]))));
    }
}
