using System.Buffers;
using System.Text;
using KvCluster.Client.Etcd;
using KvCluster.Node.Etcd;
using KvCluster.Node.Hosting;

namespace KvCluster.Tests.Etcd;

/// <summary>The pure parts of the client port: protocol sniffing, txn classification, ids, peer URLs.</summary>
public sealed class EtcdNodeSpecs
{
    [Theory]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", true)]
    [InlineData("GET /health HTTP/1.1\r\n", false)]
    [InlineData("POST /etcdserverpb.KV/Range HTTP/1.1\r\n", false)]
    [InlineData("PROPFIND / HTTP/1.1\r\n", false)]
    [InlineData("PRI * HTTP/1.1\r\n", false)]
    [InlineData("\u0016\u0003\u0001", false)]
    [InlineData("PRI * HT", null)]
    [InlineData("", null)]
    public void Classify_FirstBytes_TellsHttp2PrefaceFromHttp1(string first, bool? expected)
    {
        Assert.Equal(expected, H2cPriorKnowledge.Classify(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(first))));
    }

    [Fact]
    public void Classify_PrefaceSplitAcrossSegments_IsHttp2()
    {
        var first = new Segment(Encoding.ASCII.GetBytes("PRI * "));
        var last = first.Append(Encoding.ASCII.GetBytes("HTTP/2.0\r\n"));

        Assert.True(H2cPriorKnowledge.Classify(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length)));
    }

    [Fact]
    public void TxnClassification_RangesOnly_IsReadOnly_AndSerializableOnlyWhenEveryRangeIs()
    {
        var reads = new TxnRequest();
        reads.Success.Add(new RequestOp { RequestRange = new RangeRequest { Serializable = true } });
        reads.Failure.Add(new RequestOp { RequestTxn = new TxnRequest { Success = { new RequestOp { RequestRange = new RangeRequest { Serializable = true } } } } });
        var mixed = reads.Clone();
        mixed.Failure.Add(new RequestOp { RequestRange = new RangeRequest() });
        var writes = reads.Clone();
        writes.Success.Add(new RequestOp { RequestPut = new PutRequest() });

        Assert.True(EtcdKvService.IsReadOnly(reads) && EtcdKvService.IsSerializable(reads));
        Assert.True(EtcdKvService.IsReadOnly(mixed) && !EtcdKvService.IsSerializable(mixed));
        Assert.False(EtcdKvService.IsReadOnly(writes));
        Assert.False(EtcdKvService.IsSerializable(new TxnRequest()));
    }

    [Fact]
    public void ClusterId_SameClusterIdentity_SameId_OtherClusterName_OtherId()
    {
        var a = EtcdGateway.ClusterIdOf(new NodeOptions { Id = 1 });
        var b = EtcdGateway.ClusterIdOf(new NodeOptions { Id = 2, Port = 4055 });
        var other = EtcdGateway.ClusterIdOf(new NodeOptions { ClusterName = "other" });

        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
        Assert.NotEqual(0UL, a);
    }

    [Theory]
    [InlineData("http://127.0.0.1:4057", "127.0.0.1", 4057)]
    [InlineData("akka.tcp://akkakv@10.0.0.5:4054", "10.0.0.5", 4054)]
    [InlineData("kv4:4054", "kv4", 4054)]
    public void TryParsePeerUrl_EveryForm_GivesTheRemotingEndpoint(string url, string host, int port)
    {
        Assert.True(EtcdClusterService.TryParsePeerUrl(url, out var endpoint));
        Assert.Equal((host, port), (endpoint.Host, endpoint.Port));
    }

    [Fact]
    public void TryParsePeerUrl_NoPort_IsRefused()
    {
        Assert.False(EtcdClusterService.TryParsePeerUrl("http://nowhere", out _));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes)
        {
            Memory = bytes;
        }

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
