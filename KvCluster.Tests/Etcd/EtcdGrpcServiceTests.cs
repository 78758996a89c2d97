using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using KvCluster.Client.Etcd;

namespace KvCluster.Tests.Etcd;

/// <summary>
/// A real one-node AkkaKv answering etcd's gRPC API on its client port, through the generated etcd client stubs: the
/// headers, the errors etcd gives, the limits, and a port that survives garbage.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdGrpcServiceTests : IAsyncLifetime
{
    private KvCluster.Tests.Node.KvTestCluster _cluster = null!;
    private Grpc.Net.Client.GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _cluster = await EtcdTestNodes.StartAsync();
        _channel = _cluster.Channel();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _cluster.DisposeAsync();
    }

    private KV.KVClient Kv => new(_channel);

    private static CallOptions Bounded => new(deadline: DateTime.UtcNow.AddSeconds(20));

    [Fact]
    public async Task Put_ThenRange_AnswersTheValueWithEtcdsHeader()
    {
        var put = await Kv.PutAsync(new PutRequest { Key = Bytes("greeting"), Value = Bytes("hello") }, Bounded);
        var range = await Kv.RangeAsync(new RangeRequest { Key = Bytes("greeting") }, Bounded);

        Assert.Equal("hello", Assert.Single(range.Kvs).Value.ToStringUtf8());
        Assert.Equal(1UL, put.Header.MemberId);
        Assert.NotEqual(0UL, put.Header.ClusterId);
        Assert.Equal(put.Header.ClusterId, range.Header.ClusterId);
        Assert.True(put.Header.RaftTerm >= 1);
        Assert.Equal(put.Header.Revision, range.Header.Revision);
    }

    [Fact]
    public async Task Put_OverTheRequestLimit_IsInvalidArgumentRequestTooLarge()
    {
        var value = ByteString.CopyFrom(new byte[(int)(1.6 * 1024 * 1024)]);

        var error = await Assert.ThrowsAsync<RpcException>(() => Kv.PutAsync(new PutRequest { Key = Bytes("big"), Value = value }, Bounded).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("etcdserver: request is too large", error.Status.Detail);
        await AssertServesAsync();
    }

    [Fact]
    public async Task UnknownMethod_IsUnimplemented_AndTheNodeKeepsServing()
    {
        var method = new Method<byte[], byte[]>(MethodType.Unary, "etcdserverpb.KV", "NoSuchMethod", RawBytes, RawBytes);

        var error = await Assert.ThrowsAsync<RpcException>(() => _channel.CreateCallInvoker().AsyncUnaryCall(method, null, Bounded, [1, 2, 3]).ResponseAsync);

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        await AssertServesAsync();
    }

    [Fact]
    public async Task MalformedRequestBytes_AreAnError_AndTheNodeKeepsServing()
    {
        var method = new Method<byte[], byte[]>(MethodType.Unary, "etcdserverpb.KV", "Range", RawBytes, RawBytes);

        // Field 1 (key) as a length-delimited field that claims 100 bytes and has 2.
        var error = await Assert.ThrowsAsync<RpcException>(() => _channel.CreateCallInvoker().AsyncUnaryCall(method, null, Bounded, [0x0A, 100, 1, 2]).ResponseAsync);

        Assert.NotEqual(StatusCode.OK, error.StatusCode);
        await AssertServesAsync();
    }

    [Fact]
    public async Task GarbageOnTheClientPort_ClosesThatConnection_AndTheNodeKeepsServing()
    {
        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync("127.0.0.1", _cluster.Options[0].ClientPort);
            var stream = socket.GetStream();
            var garbage = new byte[4096];
            new Random(15).NextBytes(garbage);
            await stream.WriteAsync(garbage);
            var buffer = new byte[1024];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                while (await stream.ReadAsync(buffer, timeout.Token) > 0)
                {
                    // Whatever the server answers (400 Bad Request), it then closes the connection.
                }
            }
            catch (IOException)
            {
                // A reset is a close too.
            }
        }

        // HTTP/2's preface followed by garbage frames.
        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync("127.0.0.1", _cluster.Options[0].ClientPort);
            var stream = socket.GetStream();
            await stream.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
            await stream.WriteAsync(Enumerable.Repeat((byte)0xFF, 512).ToArray());
            var buffer = new byte[1024];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                while (await stream.ReadAsync(buffer, timeout.Token) > 0)
                {
                    // SETTINGS, then GOAWAY with a protocol error, then the close.
                }
            }
            catch (IOException)
            {
            }
        }

        await AssertServesAsync();
    }

    [Fact]
    public async Task Range_AtAFutureRevision_IsOutOfRangeWithEtcdsMessage()
    {
        var put = await Kv.PutAsync(new PutRequest { Key = Bytes("f"), Value = Bytes("1") }, Bounded);

        var error = await Assert.ThrowsAsync<RpcException>(() => Kv.RangeAsync(new RangeRequest { Key = Bytes("f"), Revision = put.Header.Revision + 100 }, Bounded).ResponseAsync);

        Assert.Equal(StatusCode.OutOfRange, error.StatusCode);
        Assert.Equal("etcdserver: mvcc: required revision is a future revision", error.Status.Detail);
    }

    [Fact]
    public async Task Range_BelowTheCompactedRevision_IsOutOfRangeCompacted()
    {
        var first = await Kv.PutAsync(new PutRequest { Key = Bytes("c"), Value = Bytes("1") }, Bounded);
        await Kv.PutAsync(new PutRequest { Key = Bytes("c"), Value = Bytes("2") }, Bounded);
        var last = await Kv.PutAsync(new PutRequest { Key = Bytes("c"), Value = Bytes("3") }, Bounded);
        await Kv.CompactAsync(new CompactionRequest { Revision = last.Header.Revision }, Bounded);

        var error = await Assert.ThrowsAsync<RpcException>(() => Kv.RangeAsync(new RangeRequest { Key = Bytes("c"), Revision = first.Header.Revision }, Bounded).ResponseAsync);

        Assert.Equal(StatusCode.OutOfRange, error.StatusCode);
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", error.Status.Detail);
    }

    [Fact]
    public async Task Put_WithAnEmptyKey_IsInvalidArgumentKeyNotProvided()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Kv.PutAsync(new PutRequest { Value = Bytes("v") }, Bounded).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("etcdserver: key is not provided", error.Status.Detail);
    }

    [Fact]
    public async Task Status_AnswersLeaderIndexesVersionAndJournalSize()
    {
        await Kv.PutAsync(new PutRequest { Key = Bytes("s"), Value = Bytes("1") }, Bounded);

        var status = await new Maintenance.MaintenanceClient(_channel).StatusAsync(new StatusRequest(), Bounded);

        Assert.Equal(1UL, status.Leader);
        Assert.StartsWith("3.", status.Version);
        Assert.True(status.DbSize > 0);
        Assert.True(status.RaftIndex >= 2);
        Assert.True(status.RaftAppliedIndex >= 2);
        Assert.True(status.RaftTerm >= 1);
        Assert.False(status.IsLearner);
        Assert.Equal(1UL, status.Header.MemberId);
    }

    [Fact]
    public async Task MemberList_OneNode_ListsItWithItsClientUrl()
    {
        var list = await new Cluster.ClusterClient(_channel).MemberListAsync(new MemberListRequest(), Bounded);

        var member = Assert.Single(list.Members);
        Assert.Equal(1UL, member.ID);
        Assert.False(member.IsLearner);
        Assert.Equal(_cluster.Url(), Assert.Single(member.ClientURLs));
        Assert.Contains($":{_cluster.Options[0].Port}", Assert.Single(member.PeerURLs));
    }

    [Fact]
    public async Task Snapshot_StreamsTheStateMachineSnapshotThenItsSha256()
    {
        await Kv.PutAsync(new PutRequest { Key = Bytes("snap"), Value = Bytes("1") }, Bounded);
        using var call = new Maintenance.MaintenanceClient(_channel).Snapshot(new SnapshotRequest(), Bounded);
        var chunks = new List<SnapshotResponse>();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync())
        {
            chunks.Add(chunk);
        }

        var data = chunks.SkipLast(1).SelectMany(c => c.Blob.ToByteArray()).ToArray();
        Assert.Equal("AKVS", System.Text.Encoding.ASCII.GetString(data, 0, 4));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), chunks[^1].Blob.ToByteArray());
        Assert.Equal(0UL, chunks[^1].RemainingBytes);
        Assert.Equal(0, data.Length % 512);
        var restored = new KvCluster.Node.Kv.KvStateMachine();
        restored.Restore(KvCluster.Client.Snapshots.KvSnapshotEnvelope.Unwrap(data.Concat(chunks[^1].Blob.ToByteArray()).ToArray()).Span);
        Assert.Equal("1", restored.EtcdRange(new RangeRequest { Key = Bytes("snap") }).EtcdRange.Kvs.Single().Value.ToStringUtf8());
    }

    [Fact]
    public async Task Defragment_CheckpointsTheJournal_AndAnswers()
    {
        var answer = await new Maintenance.MaintenanceClient(_channel).DefragmentAsync(new DefragmentRequest(), Bounded);

        Assert.Equal(1UL, answer.Header.MemberId);
        await AssertServesAsync();
    }

    private async Task AssertServesAsync()
    {
        await Kv.PutAsync(new PutRequest { Key = Bytes("alive"), Value = Bytes("yes") }, Bounded);
        var range = await Kv.RangeAsync(new RangeRequest { Key = Bytes("alive") }, Bounded);
        Assert.Equal("yes", Assert.Single(range.Kvs).Value.ToStringUtf8());
    }

    private static readonly Marshaller<byte[]> RawBytes = Marshallers.Create(b => b, b => b);

    private static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);
}
