using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using static KvCluster.Tests.Kv.EtcdCommands;
using static KvCluster.Tests.Kv.KvCommands;
using SortOrder = KvCluster.Client.Etcd.RangeRequest.Types.SortOrder;
using SortTarget = KvCluster.Client.Etcd.RangeRequest.Types.SortTarget;

namespace KvCluster.Tests.Kv;

/// <summary>etcd's Range: key/range_end forms, count, limit and more, sort, filters, keys_only, count_only.</summary>
public sealed class KvEtcdRangeSpecs
{
    private readonly EtcdStore _store = new();

    public KvEtcdRangeSpecs()
    {
        // Revisions: a=2, ab=3, b=4, c=5, then b again=6, c again=7 and 8.
        _store.Put("a", "3");
        _store.Put("ab", "1");
        _store.Put("b", "2");
        _store.Put("c", "0");
        _store.Put("b", "2");
        _store.Put("c", "9");
        _store.Put("c", "0");
    }

    [Fact]
    public void EmptyRangeEnd_IsOneKey()
    {
        Assert.Equal(["a"], Keys(_store.Range("a").EtcdRange));
        Assert.Empty(_store.Range("zz").EtcdRange.Kvs);
    }

    [Fact]
    public void RangeEndZero_IsEveryKeyFromKey()
    {
        Assert.Equal(["ab", "b", "c"], Keys(_store.Range("ab", "\0").EtcdRange));
    }

    [Fact]
    public void KeyZeroAndRangeEndZero_IsEveryKey()
    {
        Assert.Equal(["a", "ab", "b", "c"], Keys(_store.Range("\0", "\0").EtcdRange));
    }

    [Fact]
    public void Prefix_IsKeyToKeyPlusOne()
    {
        Assert.Equal(["a", "ab"], Keys(_store.Range("a", "b").EtcdRange));
    }

    [Fact]
    public void RangeEndNotAboveKey_IsEmpty()
    {
        Assert.Empty(_store.Range("b", "a").EtcdRange.Kvs);
        Assert.Empty(_store.Range("b", "b").EtcdRange.Kvs);
    }

    [Fact]
    public void Limit_CutsAndSetsMore_CountIsEveryKey()
    {
        var request = ERange("\0", "\0");
        request.Limit = 2;

        var response = _store.Range(request).EtcdRange;

        Assert.Equal(["a", "ab"], Keys(response));
        Assert.True(response.More);
        Assert.Equal(4L, response.Count);
        Assert.Equal(8L, response.Header.Revision);
    }

    [Fact]
    public void LimitEqualToKeys_HasNoMore()
    {
        var request = ERange("\0", "\0");
        request.Limit = 4;

        Assert.False(_store.Range(request).EtcdRange.More);
    }

    [Fact]
    public void CountOnly_ReturnsNoPairs()
    {
        var request = ERange("\0", "\0");
        request.CountOnly = true;
        request.Limit = 1;

        var response = _store.Range(request).EtcdRange;

        Assert.Empty(response.Kvs);
        Assert.Equal(4L, response.Count);
        Assert.False(response.More);
    }

    [Fact]
    public void KeysOnly_OmitsValues()
    {
        var request = ERange("a");
        request.KeysOnly = true;

        var kv = _store.Range(request).EtcdRange.Kvs.Single();

        Assert.True(kv.Value.IsEmpty);
        Assert.Equal(2L, kv.ModRevision);
    }

    [Theory]
    [InlineData(SortTarget.Key, SortOrder.None, "a,ab,b,c")]
    [InlineData(SortTarget.Key, SortOrder.Ascend, "a,ab,b,c")]
    [InlineData(SortTarget.Key, SortOrder.Descend, "c,b,ab,a")]
    [InlineData(SortTarget.Value, SortOrder.None, "c,ab,b,a")]
    [InlineData(SortTarget.Value, SortOrder.Descend, "a,b,ab,c")]
    [InlineData(SortTarget.Version, SortOrder.Ascend, "a,ab,b,c")]
    [InlineData(SortTarget.Version, SortOrder.Descend, "c,b,a,ab")]
    [InlineData(SortTarget.Create, SortOrder.Descend, "c,b,ab,a")]
    [InlineData(SortTarget.Mod, SortOrder.Ascend, "a,ab,b,c")]
    [InlineData(SortTarget.Mod, SortOrder.Descend, "c,b,ab,a")]
    public void Sort_FollowsEtcdDefaults_TiesStayInKeyOrder(SortTarget target, SortOrder order, string expected)
    {
        var request = ERange("\0", "\0");
        request.SortTarget = target;
        request.SortOrder = order;

        Assert.Equal(expected, string.Join(',', Keys(_store.Range(request).EtcdRange)));
    }

    [Fact]
    public void Sort_WithLimit_SortsBeforeCutting()
    {
        var request = ERange("\0", "\0");
        request.SortTarget = SortTarget.Mod;
        request.SortOrder = SortOrder.Descend;
        request.Limit = 1;

        var response = _store.Range(request).EtcdRange;

        Assert.Equal(["c"], Keys(response));
        Assert.True(response.More);
    }

    [Fact]
    public void ModAndCreateFilters_PruneAfterCounting()
    {
        var request = ERange("\0", "\0");
        request.MinModRevision = 3;
        request.MaxModRevision = 6;
        request.MaxCreateRevision = 4;

        var response = _store.Range(request).EtcdRange;

        Assert.Equal(["ab", "b"], Keys(response));
        Assert.Equal(4L, response.Count);
    }

    [Fact]
    public void MinCreateRevision_DropsOlderKeys()
    {
        var request = ERange("\0", "\0");
        request.MinCreateRevision = 4;

        Assert.Equal(["b", "c"], Keys(_store.Range(request).EtcdRange));
    }

    [Fact]
    public void EmptyKey_IsRefusedWithEtcdsMessage()
    {
        var result = _store.Range("");

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Equal(EtcdErrors.EmptyKey, result.Error);
    }

    [Fact]
    public void UnknownSortOption_IsRefused()
    {
        var request = ERange("a");
        request.SortTarget = (SortTarget)9;

        Assert.Equal(EtcdErrors.InvalidSortOption, _store.Range(request).Error);
    }

    [Fact]
    public void Range_ThroughTheLog_ChangesNothing()
    {
        var result = _store.Apply(AsCommand(ERange("\0", "\0")));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(4, result.EtcdRange.Kvs.Count);
        Assert.Equal(8L, _store.Revision);
    }

    [Fact]
    public void LegacyRange_SeesTheSameKeysAndRevisions()
    {
        var legacy = _store.Store.Range(Prefix("")).Range;

        Assert.Equal(["a", "ab", "b", "c"], legacy.Kvs.Select(kv => Text(kv.Key)).ToArray());
        Assert.Equal(8L, legacy.Kvs[3].ModIndex);
        Assert.Equal(5L, legacy.Kvs[3].CreateIndex);
        Assert.Equal(3L, legacy.Kvs[3].Version);
    }
}
