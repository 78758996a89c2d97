using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Akka.Serialization;
using Google.Protobuf;
using KvCluster.Client.Protocol;
using KvCluster.Client.Serialization;

namespace KvCluster.Tests.Client;

public sealed class KvProtocolSerializerTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("serializer-spec", KvProtocolSerializer.Config
        .WithFallback(ConfigurationFactory.ParseString("akka.loglevel = WARNING"))
        .WithFallback(DistributedPubSub.DefaultConfig()));

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    public static TheoryData<string> BoundTypeNames()
    {
        var data = new TheoryData<string>();
        foreach (var type in KvProtocolSerializer.BoundTypes)
        {
            data.Add(type.FullName!);
        }

        return data;
    }

    [Fact]
    public void BoundTypes_EveryMessageOfBothProtos_AreBound()
    {
        var expected = KvReflection.Descriptor.MessageTypes.Concat(KvClientReflection.Descriptor.MessageTypes).Select(m => m.ClrType).ToHashSet();
        Assert.Equal(26, expected.Count);
        Assert.True(expected.SetEquals(KvProtocolSerializer.BoundTypes));
    }

    [Theory]
    [MemberData(nameof(BoundTypeNames))]
    public void FindSerializerFor_EveryBoundType_IsThisSerializerWithId7120(string typeName)
    {
        var type = KvProtocolSerializer.BoundTypes.Single(t => t.FullName == typeName);
        var serializer = _system.Serialization.FindSerializerForType(type);
        Assert.IsType<KvProtocolSerializer>(serializer);
        Assert.Equal(7120, serializer.Identifier);
    }

    [Theory]
    [MemberData(nameof(BoundTypeNames))]
    public void RoundTrip_EveryBoundType_ComesBackEqual(string typeName)
    {
        var type = KvProtocolSerializer.BoundTypes.Single(t => t.FullName == typeName);
        var message = Sample(type);
        var serializer = (SerializerWithStringManifest)_system.Serialization.FindSerializerFor(message);
        var bytes = serializer.ToBinary(message);
        var manifest = serializer.Manifest(message);
        var back = _system.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        Assert.Equal(message, back);
    }

    [Fact]
    public void Manifest_IsTheProtobufFullName_Stable()
    {
        Assert.Equal("akkakv.client.KvRequest", KvProtocolSerializer.ManifestOf(typeof(KvRequest)));
        Assert.Equal("akkakv.client.KvResponse", KvProtocolSerializer.ManifestOf(typeof(KvResponse)));
        Assert.Equal("akkakv.client.GetContacts", KvProtocolSerializer.ManifestOf(typeof(GetContacts)));
        Assert.Equal("akkakv.client.Contacts", KvProtocolSerializer.ManifestOf(typeof(Contacts)));
        Assert.Equal("akkakv.kv.KvCommand", KvProtocolSerializer.ManifestOf(typeof(KvCommand)));
        Assert.Equal("akkakv.kv.KvResult", KvProtocolSerializer.ManifestOf(typeof(KvResult)));
    }

    [Fact]
    public void FromBinary_UnknownManifest_ThrowsSerializationExceptionNamingIt()
    {
        var serializer = (SerializerWithStringManifest)_system.Serialization.FindSerializerForType(typeof(KvRequest));
        var e = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary([], "akkakv.client.Nope"));
        Assert.Contains("akkakv.client.Nope", e.Message);
    }

    [Fact]
    public void ToBinary_ForeignType_ThrowsArgumentException()
    {
        var serializer = (SerializerWithStringManifest)_system.Serialization.FindSerializerForType(typeof(KvRequest));
        Assert.Throws<ArgumentException>(() => serializer.ToBinary("not a kv message"));
    }

    [Fact]
    public void ClusterClientSendEnvelope_WithKvRequest_RoundTripsThroughPubSubSerializer()
    {
        var request = (KvRequest)Sample(typeof(KvRequest));
        var send = new Akka.Cluster.Tools.PublishSubscribe.Send("/user/kv-router", request, localAffinity: true);
        var serializer = _system.Serialization.FindSerializerFor(send);
        var bytes = serializer.ToBinary(send);
        var manifest = serializer is SerializerWithStringManifest m ? m.Manifest(send) : string.Empty;
        var back = Assert.IsType<Akka.Cluster.Tools.PublishSubscribe.Send>(_system.Serialization.Deserialize(bytes, serializer.Identifier, manifest));
        Assert.Equal(request, back.Message);
        Assert.True(back.LocalAffinity);
    }

    [Fact]
    public void Hocon_BindsEveryTypeByAssemblyQualifiedName()
    {
        foreach (var type in KvProtocolSerializer.BoundTypes)
        {
            Assert.Contains($"\"{type.FullName}, kv\" = kv-protocol", KvProtocolSerializer.Hocon);
        }

        Assert.Contains("= 7120", KvProtocolSerializer.Hocon);
    }

    /// <summary>A message of <paramref name="type"/> with every field set to something other than its default.</summary>
    internal static IMessage Sample(Type type)
    {
        var kv = new KeyValue { Key = Bytes("k"), Value = Bytes("v"), CreateIndex = 3, ModIndex = 7, Version = 2 };
        var put = new PutRequest { Key = Bytes("k"), Value = Bytes("v"), ExpectedVersion = 0, PrevKv = true };
        var range = new RangeRequest { Interval = new KeyInterval { Start = Bytes("a"), End = Bytes("z") }, Limit = 10, KeysOnly = true };
        var result = new KvResult { Status = KvStatus.VersionMismatch, Revision = 42, ActualVersion = 7, Error = "e", Put = new PutResult { Previous = kv, Current = kv } };
        IMessage message = type.Name switch
        {
            nameof(KvCommand) => new KvCommand { Put = put },
            nameof(PutRequest) => put,
            nameof(GetRequest) => new GetRequest { Key = Bytes("k") },
            nameof(DeleteRequest) => new DeleteRequest { Key = Bytes("k"), ExpectedVersion = 5 },
            nameof(DeleteRangeRequest) => new DeleteRangeRequest { Prefix = Bytes("p/") },
            nameof(KeyInterval) => new KeyInterval { Start = Bytes("a"), End = Bytes("b") },
            nameof(RangeRequest) => range,
            nameof(KeyValue) => kv,
            nameof(PutResult) => new PutResult { Previous = kv, Current = kv },
            nameof(GetResult) => new GetResult { Kv = kv },
            nameof(DeleteResult) => new DeleteResult { Previous = kv },
            nameof(DeleteRangeResult) => new DeleteRangeResult { Deleted = 9 },
            nameof(RangeResult) => new RangeResult { Kvs = { kv, kv }, More = true, Count = 12 },
            nameof(KvResult) => result,
            nameof(KvRequest) => new KvRequest { Command = new KvCommand { Range = range }, Consistency = ReadConsistency.Serializable, TimeoutMs = 1500, Hops = 1 },
            nameof(KvResponse) => new KvResponse { Code = ResponseCode.Unavailable, Result = result, Error = "no leader", LeaderEndpoint = "127.0.0.1:4055", Indeterminate = true },
            nameof(LeaseTableRequest) => new LeaseTableRequest(),
            nameof(LeaseTableEntry) => new LeaseTableEntry { Id = 0x694d77aa9e38260fL, Ttl = 10 },
            nameof(LeaseTable) => new LeaseTable { Leases = { new LeaseTableEntry { Id = 7, Ttl = 3 } }, AppliedIndex = 42 },
            nameof(WatchHistoryRequest) => new WatchHistoryRequest { Key = Bytes("w/"), RangeEnd = Bytes("w0"), StartRevision = 5, MaxEvents = 100 },
            nameof(WatchHistoryResult) => new WatchHistoryResult
            {
                Events = { new KvCluster.Client.Etcd.Mvcc.Event { Type = KvCluster.Client.Etcd.Mvcc.Event.Types.EventType.Delete, Kv = new KvCluster.Client.Etcd.Mvcc.KeyValue { Key = Bytes("w/a"), ModRevision = 6 } } },
                Revision = 9,
                CompactRevision = 2,
                NextRevision = 10,
            },
            nameof(AuthCommand) => new AuthCommand
            {
                UserAdd = new KvCluster.Client.Etcd.AuthUserAddRequest { Name = "alice" },
                PasswordHash = Bytes("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"),
            },
            nameof(AuthResult) => new AuthResult { UserList = new KvCluster.Client.Etcd.AuthUserListResponse { Users = { "alice", "root" } } },
            nameof(AuthImage) => new AuthImage
            {
                Enabled = true,
                Revision = 7,
                TokenKey = Bytes("key"),
                Users = { new KvCluster.Client.Etcd.Authpb.User { Name = Bytes("root"), Roles = { "root" } } },
                Roles = { new KvCluster.Client.Etcd.Authpb.Role { Name = Bytes("r"), KeyPermission = { new KvCluster.Client.Etcd.Authpb.Permission { Key = Bytes("a"), RangeEnd = Bytes("b") } } } },
            },
            nameof(GetContacts) => new GetContacts(),
            nameof(Contacts) => new Contacts { Endpoints = { "127.0.0.1:4054", "127.0.0.1:4055" }, LeaderEndpoint = "127.0.0.1:4055", NodeId = 2 },
            _ => throw new ArgumentException($"No sample for {type.Name}: add one."),
        };
        return message;
    }

    private static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);
}
