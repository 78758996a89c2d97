using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using static KvCluster.Tests.Kv.EtcdCommands;
using static KvCluster.Tests.Kv.KvCommands;
using CompareResult = KvCluster.Client.Etcd.Compare.Types.CompareResult;
using DeleteRangeRequest = KvCluster.Client.Etcd.DeleteRangeRequest;
using PutRequest = KvCluster.Client.Etcd.PutRequest;
using RangeRequest = KvCluster.Client.Etcd.RangeRequest;

namespace KvCluster.Tests.Kv;

/// <summary>etcd's Txn: compares, branch choice, atomicity, nested txns, reads of the txn's own writes, validation.</summary>
public sealed class KvEtcdTxnSpecs
{
    private readonly EtcdStore _store = new();

    [Fact]
    public void Compare_True_RunsSuccess()
    {
        _store.Put("a", "1");

        var result = _store.Txn(Txn([ValueIs("a", CompareResult.Equal, "1")], [OpPut("b", "yes")], [OpPut("b", "no")]));

        Assert.True(result.EtcdTxn.Succeeded);
        Assert.Equal("yes", Text(_store.Get("b")!.Value));
        Assert.Single(result.EtcdTxn.Responses);
        Assert.Equal(3L, result.EtcdTxn.Responses[0].ResponsePut.Header.Revision);
    }

    [Fact]
    public void Compare_False_RunsFailure()
    {
        _store.Put("a", "1");

        var result = _store.Txn(Txn([ValueIs("a", CompareResult.Equal, "2")], [OpPut("b", "yes")], [OpPut("b", "no")]));

        Assert.False(result.EtcdTxn.Succeeded);
        Assert.Equal("no", Text(_store.Get("b")!.Value));
    }

    [Fact]
    public void AllComparesMustHold()
    {
        _store.Put("a", "1");

        var result = _store.Txn(Txn([ValueIs("a", CompareResult.Equal, "1"), VersionIs("a", CompareResult.Equal, 2)]));

        Assert.False(result.EtcdTxn.Succeeded);
    }

    [Theory]
    [InlineData(CompareResult.Equal, 2L, true)]
    [InlineData(CompareResult.NotEqual, 2L, false)]
    [InlineData(CompareResult.Greater, 1L, true)]
    [InlineData(CompareResult.Less, 3L, true)]
    [InlineData(CompareResult.Less, 2L, false)]
    public void Compare_OnModCreateVersion(CompareResult result, long operand, bool expected)
    {
        _store.Put("a", "1");
        _store.Put("x", "1");
        _store.Put("a", "2");

        // a: create 2, mod 4, version 2.
        Assert.Equal(expected, _store.Txn(Txn([VersionIs("a", result, operand)])).EtcdTxn.Succeeded);
        Assert.Equal(expected, _store.Txn(Txn([CreateIs("a", result, operand)])).EtcdTxn.Succeeded);
        Assert.Equal(expected, _store.Txn(Txn([ModIs("a", result, operand + 2)])).EtcdTxn.Succeeded);
    }

    [Fact]
    public void Compare_OnMissingKey_SeesZeros_ButValueAlwaysFails()
    {
        Assert.True(_store.Txn(Txn([VersionIs("none", CompareResult.Equal, 0)])).EtcdTxn.Succeeded);
        Assert.True(_store.Txn(Txn([CreateIs("none", CompareResult.Equal, 0)])).EtcdTxn.Succeeded);
        Assert.True(_store.Txn(Txn([LeaseIs("none", CompareResult.Equal, 0)])).EtcdTxn.Succeeded);
        Assert.False(_store.Txn(Txn([ValueIs("none", CompareResult.Equal, "")])).EtcdTxn.Succeeded);
        Assert.False(_store.Txn(Txn([ValueIs("none", CompareResult.NotEqual, "x")])).EtcdTxn.Succeeded);
    }

    [Fact]
    public void Compare_Lease_OnExistingKey()
    {
        _store.Put("a", "1");

        Assert.True(_store.Txn(Txn([LeaseIs("a", CompareResult.Equal, 0)])).EtcdTxn.Succeeded);
        Assert.False(_store.Txn(Txn([LeaseIs("a", CompareResult.Greater, 0)])).EtcdTxn.Succeeded);
    }

    [Fact]
    public void Compare_OverARange_EveryKeyMustHold()
    {
        _store.Put("p/1", "x");
        _store.Put("p/2", "x");
        _store.Put("q", "y");

        Assert.True(_store.Txn(Txn([ValueIs("p/", CompareResult.Equal, "x", "p0")])).EtcdTxn.Succeeded);
        _store.Put("p/3", "z");
        Assert.False(_store.Txn(Txn([ValueIs("p/", CompareResult.Equal, "x", "p0")])).EtcdTxn.Succeeded);
        Assert.True(_store.Txn(Txn([VersionIs("p/", CompareResult.Greater, 0, "p0")])).EtcdTxn.Succeeded);
        Assert.True(_store.Txn(Txn([VersionIs("r", CompareResult.Equal, 0, "\0")])).EtcdTxn.Succeeded);
    }

    [Fact]
    public void Compare_MismatchedTargetUnion_ComparesWithZero()
    {
        _store.Put("a", "1");
        var compare = new Compare { Key = B("a"), Target = Compare.Types.CompareTarget.Version, Result = CompareResult.Greater, ModRevision = 99 };

        Assert.True(_store.Txn(Txn([compare])).EtcdTxn.Succeeded);
    }

    [Fact]
    public void ReadsInsideTheTxn_SeeItsEarlierWrites()
    {
        _store.Put("a", "old");

        var result = _store.Txn(Txn(success: [OpRange("a"), OpPut("a", "new"), OpRange("a"), OpDelete("b"), OpRange("\0", "\0")]));

        var responses = result.EtcdTxn.Responses;
        Assert.Equal("old", Text(responses[0].ResponseRange.Kvs[0].Value));
        Assert.Equal(2L, responses[0].ResponseRange.Header.Revision);
        Assert.Equal("new", Text(responses[2].ResponseRange.Kvs[0].Value));
        Assert.Equal(3L, responses[2].ResponseRange.Kvs[0].ModRevision);
        Assert.Equal(3L, responses[2].ResponseRange.Header.Revision);
        Assert.Equal(0L, responses[3].ResponseDeleteRange.Deleted);
        Assert.Single(responses[4].ResponseRange.Kvs);
    }

    [Fact]
    public void NestedTxn_BranchesOnThePreTxnState_AndSharesTheRevision_WithAnEmptyNestedHeader()
    {
        _store.Put("a", "1");
        var nested = Txn([ValueIs("a", CompareResult.Equal, "1")], [OpPut("inner", "then")], [OpPut("inner", "else")]);

        var result = _store.Txn(Txn(success: [OpPut("outer", "x"), OpTxn(nested)]));

        Assert.True(result.EtcdTxn.Responses[1].ResponseTxn.Succeeded);
        Assert.Equal(3L, result.EtcdTxn.Header.Revision);
        Assert.Equal(new ResponseHeader(), result.EtcdTxn.Responses[1].ResponseTxn.Header); // etcd fills only the top-level header
        Assert.Equal(3L, result.EtcdTxn.Responses[1].ResponseTxn.Responses[0].ResponsePut.Header.Revision);
        Assert.Equal("then", Text(_store.Get("inner")!.Value));
        Assert.Equal(3L, _store.Get("inner")!.ModRevision);
        Assert.Equal(3L, _store.Get("outer")!.ModRevision);
        Assert.Equal(3L, _store.Revision);
    }

    [Fact]
    public void PutWithIgnoreValueOnMissingKey_RefusesTheWholeTxn()
    {
        _store.Put("a", "1");
        var ignore = new RequestOp { RequestPut = new PutRequest { Key = B("missing"), IgnoreValue = true } };

        var result = _store.Txn(Txn(success: [OpPut("b", "2"), ignore]));

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Equal(EtcdErrors.KeyNotFound, result.Error);
        Assert.Null(_store.Get("b"));
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void RangeAtAFutureRevision_RefusesTheWholeTxn()
    {
        _store.Put("a", "1");
        var future = new RequestOp { RequestRange = ERange("a", revision: 3) };

        var result = _store.Txn(Txn(success: [OpPut("b", "2"), future]));

        Assert.Equal(KvStatus.FutureRevision, result.Status);
        Assert.Equal(EtcdErrors.FutureRevision, result.Error);
        Assert.Null(_store.Get("b"));
    }

    [Fact]
    public void RefusalsInTheBranchNotTaken_DoNotMatter()
    {
        var ignore = new RequestOp { RequestPut = new PutRequest { Key = B("missing"), IgnoreValue = true } };

        var result = _store.Txn(Txn([VersionIs("a", CompareResult.Greater, 0)], [ignore], [OpPut("a", "1")]));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.False(result.EtcdTxn.Succeeded);
    }

    [Fact]
    public void DuplicatePutInTxn_IsRefusedBeforeAnythingRuns()
    {
        var result = _store.Txn(Txn(success: [OpPut("a", "1"), OpPut("a", "2")]));

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Equal(EtcdErrors.DuplicateKey, result.Error);
        Assert.Equal(1L, _store.Revision);
    }

    [Fact]
    public void PutInsideADeletedRange_IsDuplicate()
    {
        var result = _store.Txn(Txn(success: [OpDelete("a", "c"), OpPut("b", "1")]));

        Assert.Equal(EtcdErrors.DuplicateKey, result.Error);
    }

    [Fact]
    public void NestedPutOfAKeyPutOutside_IsDuplicate_ButBothNestedBranchesMayPutIt()
    {
        var nested = Txn([], [OpPut("k", "then")], [OpPut("k", "else")]);

        var twoBranches = _store.Txn(Txn(success: [OpTxn(nested)]));
        var outside = _store.Txn(Txn(success: [OpPut("k", "x"), OpTxn(nested)]));

        Assert.Equal(KvStatus.Ok, twoBranches.Status);
        Assert.Equal(EtcdErrors.DuplicateKey, outside.Error);
    }

    [Fact]
    public void OverlappingDeletes_AreAllowed()
    {
        _store.Put("b", "1");

        var result = _store.Txn(Txn(success: [OpDelete("a", "c"), OpDelete("b")]));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(1L, result.EtcdTxn.Responses[0].ResponseDeleteRange.Deleted);
        Assert.Equal(0L, result.EtcdTxn.Responses[1].ResponseDeleteRange.Deleted);
    }

    [Fact]
    public void TooManyOps_IsRefused()
    {
        var store = new EtcdStore(new KvLimits { MaxTxnOps = 3 });
        var ops = Enumerable.Range(0, 4).Select(i => OpPut($"k{i}", "v"));

        var result = store.Txn(Txn(success: ops));

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Equal(EtcdErrors.TooManyOps, result.Error);
    }

    [Fact]
    public void EmptyKeyInACompareOrOp_IsRefused()
    {
        Assert.Equal(EtcdErrors.EmptyKey, _store.Txn(Txn([VersionIs("", CompareResult.Equal, 0)])).Error);
        Assert.Equal(EtcdErrors.EmptyKey, _store.Txn(Txn(success: [OpPut("", "v")])).Error);
        Assert.Equal(EtcdErrors.KeyNotFound, _store.Txn(Txn(success: [new RequestOp()])).Error);
    }

    [Fact]
    public void ReadOnlyTxn_ServedAsAQuery_ChangesNothing()
    {
        _store.Put("a", "1");

        var result = _store.Store.Query(AsCommand(Txn([ValueIs("a", CompareResult.Equal, "1")], [OpRange("a")], [OpRange("b")])))!;
        var refused = _store.Store.Query(AsCommand(Txn(success: [OpPut("a", "2")])))!;

        Assert.True(result.EtcdTxn.Succeeded);
        Assert.Equal("1", Text(result.EtcdTxn.Responses[0].ResponseRange.Kvs[0].Value));
        Assert.Equal(KvStatus.InvalidCommand, refused.Status);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void IsReadOnly_LooksIntoNestedTxns()
    {
        Assert.True(KvEtcdRules.IsReadOnly(Txn(success: [OpRange("a"), OpTxn(Txn(failure: [OpRange("b")]))])));
        Assert.False(KvEtcdRules.IsReadOnly(Txn(success: [OpRange("a"), OpTxn(Txn(failure: [OpDelete("b")]))])));
    }
}
