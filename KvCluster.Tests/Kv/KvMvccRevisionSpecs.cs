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

/// <summary>etcd's revision rules: only successful writes move the store revision, each command by exactly one.</summary>
public sealed class KvMvccRevisionSpecs
{
    private readonly EtcdStore _store = new();

    [Fact]
    public void EmptyStore_IsAtRevisionOne_AndTheFirstPutIsTwo()
    {
        Assert.Equal(1L, _store.Revision);
        Assert.Equal(1L, _store.Range("a").EtcdRange.Header.Revision);

        var put = _store.Put("a", "1");

        Assert.Equal(2L, put.Revision);
        Assert.Equal(2L, put.EtcdPut.Header.Revision);
        var kv = _store.Get("a")!;
        Assert.Equal(2L, kv.CreateRevision);
        Assert.Equal(2L, kv.ModRevision);
        Assert.Equal(1L, kv.Version);
        Assert.Equal(0L, kv.Lease);
    }

    [Fact]
    public void Put_Again_KeepsCreateRevision_BumpsModAndVersion()
    {
        _store.Put("a", "1");
        _store.Put("b", "x");

        _store.Put("a", "2");
        _store.Put("a", "3");

        var kv = _store.Get("a")!;
        Assert.Equal(2L, kv.CreateRevision);
        Assert.Equal(5L, kv.ModRevision);
        Assert.Equal(3L, kv.Version);
        Assert.Equal(5L, _store.Revision);
    }

    [Fact]
    public void Delete_ThenPut_StartsANewGenerationAtVersionOne()
    {
        _store.Put("a", "1");
        _store.Put("a", "2");
        _store.Delete("a");

        _store.Put("a", "3");

        var kv = _store.Get("a")!;
        Assert.Equal(5L, kv.CreateRevision);
        Assert.Equal(5L, kv.ModRevision);
        Assert.Equal(1L, kv.Version);
    }

    [Fact]
    public void DeleteOfNothing_MovesNoRevision()
    {
        _store.Put("a", "1");

        var result = _store.Delete("zzz");
        var range = _store.Delete("x", "y");

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(0L, result.EtcdDeleteRange.Deleted);
        Assert.Equal(2L, result.EtcdDeleteRange.Header.Revision);
        Assert.Equal(0L, range.EtcdDeleteRange.Deleted);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void DeleteRange_ManyKeys_MovesTheRevisionOnce()
    {
        _store.Put("a", "1");
        _store.Put("b", "1");
        _store.Put("c", "1");

        var result = _store.Apply(EDelete("a", "c", prevKv: true));

        Assert.Equal(2L, result.EtcdDeleteRange.Deleted);
        Assert.Equal(["a", "b"], result.EtcdDeleteRange.PrevKvs.Select(kv => Text(kv.Key)).ToArray());
        Assert.Equal(5L, _store.Revision);
        Assert.Equal(["c"], Keys(_store.Range("\0", "\0").EtcdRange));
    }

    [Fact]
    public void Txn_ManyWrites_MovesTheRevisionOnce_AndEveryChangeCarriesIt()
    {
        _store.Put("z", "0");

        var result = _store.Txn(Txn(success: [OpPut("a", "1"), OpPut("b", "2"), OpDelete("z")]));

        Assert.True(result.EtcdTxn.Succeeded);
        Assert.Equal(3L, result.EtcdTxn.Header.Revision);
        Assert.Equal(3L, _store.Revision);
        Assert.Equal(3L, _store.Get("a")!.ModRevision);
        Assert.Equal(3L, _store.Get("b")!.ModRevision);
        Assert.Null(_store.Get("z"));
    }

    [Fact]
    public void Txn_FailedCompareWithReadOnlyBranch_MovesNoRevision()
    {
        _store.Put("a", "1");

        var result = _store.Txn(Txn([ValueIs("a", CompareResult.Equal, "other")], [OpPut("a", "2")], [OpRange("a")]));

        Assert.False(result.EtcdTxn.Succeeded);
        Assert.Equal(2L, _store.Revision);
        Assert.Equal("1", Text(_store.Get("a")!.Value));
    }

    [Fact]
    public void Txn_OnlyADeleteOfNothing_MovesNoRevision()
    {
        _store.Put("a", "1");

        var result = _store.Txn(Txn(success: [OpDelete("nothing")]));

        Assert.Equal(2L, result.EtcdTxn.Header.Revision);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void LegacyCas_Failed_MovesNoRevision_AndComparesModRevision()
    {
        _store.Apply(Put("a", "1"));
        var stale = _store.Apply(Put("a", "2", expected: 1));
        var ok = _store.Apply(Put("a", "3", expected: 2));

        Assert.Equal(KvStatus.VersionMismatch, stale.Status);
        Assert.Equal(2L, stale.ActualVersion);
        Assert.Equal(KvStatus.Ok, ok.Status);
        Assert.Equal(3L, ok.Put.Current.ModIndex);
        Assert.Equal(2L, ok.Put.Current.CreateIndex);
        Assert.Equal(2L, ok.Put.Current.Version);
        Assert.Equal(3L, _store.Revision);
    }

    [Fact]
    public void Reads_AndRejectedCommands_MoveNoRevision()
    {
        _store.Put("a", "1");

        _store.Apply(AsCommand(ERange("a")));
        _store.Apply(Get("a"));
        _store.Apply(EPut("", "x"));
        _store.Apply(new KvCommand { EtcdPut = new PutRequest { Key = B("a"), Lease = 7 } });

        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void Put_PrevKv_ReturnsThePairBefore()
    {
        _store.Put("a", "1");

        var first = _store.Apply(EPut("new", "v", prevKv: true));
        var second = _store.Apply(EPut("a", "2", prevKv: true));

        Assert.Null(first.EtcdPut.PrevKv);
        Assert.Equal("1", Text(second.EtcdPut.PrevKv.Value));
        Assert.Equal(2L, second.EtcdPut.PrevKv.ModRevision);
    }

    [Fact]
    public void Put_IgnoreValue_KeepsTheValueAndMovesTheRevision()
    {
        _store.Put("a", "1");

        var result = _store.Apply(new KvCommand { EtcdPut = new PutRequest { Key = B("a"), IgnoreValue = true } });

        Assert.Equal(KvStatus.Ok, result.Status);
        var kv = _store.Get("a")!;
        Assert.Equal("1", Text(kv.Value));
        Assert.Equal(2L, kv.Version);
        Assert.Equal(3L, kv.ModRevision);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Put_IgnoreOnMissingKey_IsKeyNotFound(bool ignoreValue, bool ignoreLease)
    {
        var result = _store.Apply(new KvCommand { EtcdPut = new PutRequest { Key = B("a"), IgnoreValue = ignoreValue, IgnoreLease = ignoreLease } });

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Equal(EtcdErrors.KeyNotFound, result.Error);
        Assert.Equal(1L, _store.Revision);
    }

    [Fact]
    public void Put_WithLease_IsLeaseNotFoundUntilLeasesExist()
    {
        var result = _store.Apply(new KvCommand { EtcdPut = new PutRequest { Key = B("a"), Value = B("v"), Lease = 42 } });

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Equal(EtcdErrors.LeaseNotFound, result.Error);
        Assert.Equal(0, _store.Store.Count);
    }

    [Fact]
    public void RandomWorkload_RevisionMovesExactlyOncePerSuccessfulWrite()
    {
        var random = new Random(11);
        for (var i = 0; i < 2_000; i++)
        {
            var key = $"k{random.Next(20)}";
            var before = _store.Revision;
            var existed = _store.Get(key) is not null;
            KvResult result;
            bool wrote;
            switch (random.Next(4))
            {
                case 0:
                    result = _store.Put(key, $"v{i}");
                    wrote = true;
                    break;
                case 1:
                    result = _store.Delete(key);
                    wrote = existed;
                    break;
                case 2:
                    result = _store.Txn(Txn([VersionIs(key, CompareResult.Greater, 0)], [OpPut(key, "t"), OpPut(key + "/x", "t")], [OpRange(key)]));
                    wrote = existed;
                    break;
                default:
                    result = _store.Apply(Put(key, "cas", expected: random.Next(0, 3) == 0 ? 0 : before));
                    wrote = result.Status == KvStatus.Ok;
                    break;
            }

            Assert.Equal(before + (wrote ? 1 : 0), _store.Revision);
            Assert.Equal(_store.Revision, result.Revision);
        }
    }
}
