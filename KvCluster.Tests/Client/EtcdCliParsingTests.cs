using System.Text.Json;
using Google.Protobuf;
using KvCluster.Client.Cli.Etcd;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;

namespace KvCluster.Tests.Client;

/// <summary>The pieces of <c>kv</c>'s etcd commands that need no server: txn syntax, key ranges, etcdctl's JSON.</summary>
public sealed class EtcdCliParsingTests
{
    [Fact]
    public void Parse_EtcdctlTxn_ReadsThreeSections()
    {
        var text = "mod(\"key1\") > \"0\"\nvalue(\"key2\") = \"two words\"\nver(\"k\") != \"3\"\n\nput key1 \"new value\"\nget key1 --prefix\n\ndel key2\n";

        var txn = TxnParser.Parse(new StringReader(text));

        Assert.Equal(3, txn.Compare.Count);
        Assert.Equal(Compare.Types.CompareTarget.Mod, txn.Compare[0].Target);
        Assert.Equal(Compare.Types.CompareResult.Greater, txn.Compare[0].Result);
        Assert.Equal(0, txn.Compare[0].ModRevision);
        Assert.Equal("two words", txn.Compare[1].Value.ToStringUtf8());
        Assert.Equal(Compare.Types.CompareResult.NotEqual, txn.Compare[2].Result);
        Assert.Equal(3, txn.Compare[2].Version);
        Assert.Equal("new value", txn.Success[0].RequestPut.Value.ToStringUtf8());
        Assert.Equal("key2", txn.Success[1].RequestRange.RangeEnd.ToStringUtf8()); // prefix end of key1
        Assert.Equal("key2", Assert.Single(txn.Failure).RequestDeleteRange.Key.ToStringUtf8());
    }

    [Theory]
    [InlineData("mod(\"k\") ~ \"1\"")]
    [InlineData("size(\"k\") = \"1\"")]
    [InlineData("mod(\"k\") = \"x\"")]
    public void ParseCompare_Malformed_Throws(string line) =>
        Assert.Throws<FormatException>(() => TxnParser.ParseCompare(line));

    [Theory]
    [InlineData("put onlykey")]
    [InlineData("frob a")]
    [InlineData("get a b c")]
    public void ParseOp_Malformed_Throws(string line) =>
        Assert.Throws<FormatException>(() => TxnParser.ParseOp(line));

    [Fact]
    public void PrefixEnd_IncrementsTheLastByte()
    {
        Assert.Equal(ByteString.CopyFromUtf8("abd"), EtcdKeys.PrefixEnd(ByteString.CopyFromUtf8("abc")));
        Assert.Equal(ByteString.CopyFrom(0x61, 0x80), EtcdKeys.PrefixEnd(ByteString.CopyFrom(0x61, 0x7f)));
        Assert.Equal(ByteString.CopyFrom(0x62), EtcdKeys.PrefixEnd(ByteString.CopyFrom(0x61, 0xff)));
    }

    [Fact]
    public void PrefixEnd_AllFf_IsEveryKey() =>
        Assert.Equal(ByteString.CopyFrom(0), EtcdKeys.PrefixEnd(ByteString.CopyFrom(0xff, 0xff)));

    [Fact]
    public void Resolve_EmptyPrefix_IsEveryKey()
    {
        var range = EtcdKeys.Resolve(string.Empty, null, prefix: true, fromKey: false, out _)!.Value;

        Assert.Equal(ByteString.CopyFrom(0), range.Key);
        Assert.Equal(ByteString.CopyFrom(0), range.RangeEnd);
    }

    [Fact]
    public void Resolve_PrefixAndFromKey_IsRefused()
    {
        Assert.Null(EtcdKeys.Resolve("a", null, prefix: true, fromKey: true, out var error));
        Assert.Contains("only one", error);
    }

    [Fact]
    public void Json_RangeResponse_UsesEtcdctlsNamesNumbersAndBase64()
    {
        var response = new RangeResponse
        {
            Header = new ResponseHeader { ClusterId = ulong.MaxValue, MemberId = 2, Revision = 7, RaftTerm = 3 },
            Kvs = { new KeyValue { Key = ByteString.CopyFromUtf8("k"), Value = ByteString.CopyFromUtf8("v"), CreateRevision = 5, ModRevision = 7, Version = 2 } },
            Count = 1,
        };

        var text = EtcdJson.Format(response);

        Assert.Equal(
            "{\"header\":{\"cluster_id\":18446744073709551615,\"member_id\":2,\"revision\":7,\"raft_term\":3}," +
            "\"kvs\":[{\"key\":\"aw==\",\"create_revision\":5,\"mod_revision\":7,\"version\":2,\"value\":\"dg==\"}],\"count\":1}",
            text);
        using var _ = JsonDocument.Parse(text);
    }

    [Fact]
    public void Json_MemberList_KeepsTheProtoFieldNames()
    {
        var response = new MemberListResponse { Members = { new Member { ID = 10, Name = "n1", PeerURLs = { "http://a:1" }, IsLearner = true } } };

        Assert.Equal("{\"members\":[{\"ID\":10,\"name\":\"n1\",\"peerURLs\":[\"http://a:1\"],\"isLearner\":true}]}", EtcdJson.Format(response));
    }
}
