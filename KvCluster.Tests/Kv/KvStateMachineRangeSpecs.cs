using Google.Protobuf;
using KvCluster.Node.Kv;
using KvCluster.Client.Protocol;
using static KvCluster.Tests.Kv.KvCommands;

namespace KvCluster.Tests.Kv;

public sealed class KvStateMachineRangeSpecs
{
    private readonly KvStateMachine _store = new();

    public KvStateMachineRangeSpecs()
    {
        long i = 0;
        foreach (var key in new[] { "b", "a/2", "a/1", "a", "a/3", "c", "a0" })
        {
            _store.Apply(++i, Put(key, "v-" + key));
        }
    }

    [Fact]
    public void Range_Prefix_ReturnsMatchingKeysInByteOrder()
    {
        var result = _store.Range(Prefix("a/"));

        Assert.Equal(["a/1", "a/2", "a/3"], Keys(result));
        Assert.Equal(3L, result.Range.Count);
        Assert.False(result.Range.More);
        Assert.Equal("v-a/1", Text(result.Range.Kvs[0].Value));
    }

    [Fact]
    public void Range_EmptyPrefix_ReturnsEveryKey()
    {
        var result = _store.Range(Prefix(""));

        Assert.Equal(["a", "a/1", "a/2", "a/3", "a0", "b", "c"], Keys(result));
    }

    [Fact]
    public void Range_Interval_IncludesStartExcludesEnd()
    {
        var result = _store.Range(Interval("a/1", "a/3"));

        Assert.Equal(["a/1", "a/2"], Keys(result));
    }

    [Fact]
    public void Range_IntervalBetweenKeys_ReturnsKeysInside()
    {
        var result = _store.Range(Interval("a/15", "a1"));

        Assert.Equal(["a/2", "a/3", "a0"], Keys(result));
    }

    [Fact]
    public void Range_IntervalWithEmptyEnd_HasNoUpperBound()
    {
        var result = _store.Range(Interval("a0", ""));

        Assert.Equal(["a0", "b", "c"], Keys(result));
    }

    [Fact]
    public void Range_IntervalPastLastKey_IsEmpty()
    {
        var result = _store.Range(Interval("d", "z"));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Empty(result.Range.Kvs);
        Assert.Equal(0L, result.Range.Count);
    }

    [Fact]
    public void Range_EmptyInterval_IsEmpty()
    {
        var result = _store.Range(Interval("b", "b"));

        Assert.Empty(result.Range.Kvs);
    }

    [Fact]
    public void Range_Limit_CutsAnswerAndReportsMoreAndCount()
    {
        var result = _store.Range(Prefix("a", limit: 2));

        Assert.Equal(["a", "a/1"], Keys(result));
        Assert.True(result.Range.More);
        Assert.Equal(5L, result.Range.Count);
    }

    [Fact]
    public void Range_LimitEqualToCount_HasNoMore()
    {
        var result = _store.Range(Prefix("a/", limit: 3));

        Assert.Equal(3, result.Range.Kvs.Count);
        Assert.False(result.Range.More);
    }

    [Fact]
    public void Range_KeysOnly_OmitsValues()
    {
        var request = Prefix("a/");
        request.KeysOnly = true;

        var result = _store.Range(request);

        Assert.All(result.Range.Kvs, kv => Assert.True(kv.Value.IsEmpty));
        Assert.Equal(3, result.Range.Kvs.Count);
    }

    [Fact]
    public void Range_EndBeforeStart_IsInvalidArgument()
    {
        var result = _store.Range(Interval("c", "a"));

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Contains("sorts before its start", result.Error);
    }

    [Fact]
    public void Range_NegativeLimit_IsInvalidArgument()
    {
        var result = _store.Range(Prefix("a", limit: -1));

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Contains("limit is -1", result.Error);
    }

    [Fact]
    public void Range_WithoutBounds_IsInvalidArgument()
    {
        var result = _store.Range(new RangeRequest { Limit = 3 });

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Contains("neither a prefix nor an interval", result.Error);
    }

    [Fact]
    public void Range_ThroughLog_MatchesLocalRange()
    {
        var viaLog = _store.Apply(100, new KvCommand { Range = Prefix("a/") });

        Assert.Equal(Keys(_store.Range(Prefix("a/"))), Keys(viaLog));
    }

    [Fact]
    public void Keys_ComparedAsUnsignedBytes_HighBytesSortLast()
    {
        var store = new KvStateMachine();
        store.Apply(1, Put(B(0x80), B("hi")));
        store.Apply(2, Put(B(0x7F), B("lo")));
        store.Apply(3, Put(B(0xFF, 0x00), B("max")));
        store.Apply(4, Put(B(0x7F, 0x00), B("lo0")));
        store.Apply(5, Put(B(0x01), B("one")));

        var result = store.Range(Interval(ByteString.Empty, ByteString.Empty));

        byte[][] expected = [[0x01], [0x7F], [0x7F, 0x00], [0x80], [0xFF, 0x00]];
        Assert.Equal(expected, result.Range.Kvs.Select(kv => kv.Key.ToByteArray()).ToArray());
    }

    [Fact]
    public void Range_PrefixOfHighBytes_HasNoUpperBoundOverflow()
    {
        var store = new KvStateMachine();
        store.Apply(1, Put(B(0xFF), B("a")));
        store.Apply(2, Put(B(0xFF, 0xFF), B("b")));
        store.Apply(3, Put(B(0xFE), B("c")));

        var result = store.Range(new RangeRequest { Prefix = B(0xFF) });

        Assert.Equal(2L, result.Range.Count);
    }

    [Theory]
    [InlineData(new byte[] { 0x61 }, new byte[] { 0x62 })]
    [InlineData(new byte[] { 0x61, 0xFF }, new byte[] { 0x62 })]
    [InlineData(new byte[] { 0xFF, 0xFF }, new byte[0])]
    [InlineData(new byte[0], new byte[0])]
    public void PrefixEnd_Prefix_IsSmallestKeyAfterAllExtensions(byte[] prefix, byte[] expected)
    {
        Assert.Equal(expected, KvKeyOrder.PrefixEnd(prefix));
    }
}
