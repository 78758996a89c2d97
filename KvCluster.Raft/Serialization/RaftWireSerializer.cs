using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Google.Protobuf;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;
using KvCluster.Raft.Protos;

namespace KvCluster.Raft.Serialization;

/// <summary>
/// Akka.NET serializer (id <see cref="SerializerId"/>) of every Raft message that crosses the network or goes to the
/// journal, over Google.Protobuf with stable string manifests:
/// <list type="bullet">
/// <item>the core's peer messages (every <see cref="RaftMessage"/>, <c>Protos/raft.proto</c>, through
/// <see cref="RaftWireFormat"/>, whose decoder validates what the core relies on);</item>
/// <item>the RaftActor's requests and answers a remote node, router or tool may exchange with it (<see cref="Propose"/>,
/// <see cref="ReadIndex"/>, membership, status…; <c>Protos/raft_actor.proto</c>);</item>
/// <item>the journal events (<see cref="ReadyWritten"/>, <see cref="LogCompacted"/> and the three older kinds;
/// <c>Actor/raft_journal.proto</c>). Snapshots go to the snapshot store as byte arrays (Akka's own serializer), so a
/// damaged one still loads and is refused by its checksum with a reason.</item>
/// </list>
/// Bind it with <see cref="RaftSerializationHosting.WithRaftSerializer"/> (Akka.Hosting) or the HOCON of
/// <see cref="Config"/>. A manifest this version does not know fails with a <see cref="SerializationException"/> naming it.
/// </summary>
public sealed partial class RaftWireSerializer : SerializerWithStringManifest
{
    /// <summary>The fixed serializer id of AkkaKv's Raft messages.</summary>
    public const int SerializerId = 7110;

    /// <summary>The name under which the serializer is registered in <c>akka.actor.serializers</c>.</summary>
    public const string SerializerName = "akkakv-raft";

    /// <summary>Manifest of every core <see cref="RaftMessage"/> (the body's kind is inside the protobuf oneof).</summary>
    public const string RaftMessageManifest = "raft.msg.v1";

    /// <summary>Creates the serializer; Akka calls this when the system starts.</summary>
    /// <param name="system">The actor system.</param>
    public RaftWireSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <summary>Every type (or base type) this serializer is bound to.</summary>
    public static IReadOnlyList<Type> BoundTypes { get; } =
    [
        typeof(RaftMessage),
        typeof(ReadyWritten),
        typeof(HardStateChanged),
        typeof(EntriesAppended),
        typeof(LogTruncated),
        typeof(LogCompacted),
        .. RequestTypes,
    ];

    /// <summary>
    /// HOCON registering the serializer (<c>akka.actor.serializers</c>, <c>serialization-bindings</c> for every
    /// <see cref="BoundTypes"/> entry, <c>serialization-identifiers</c>). Merge it into a system's configuration, e.g.
    /// <c>ConfigurationFactory.ParseString(...).WithFallback(RaftWireSerializer.Config)</c>.
    /// </summary>
    public static Akka.Configuration.Config Config { get; } = Akka.Configuration.ConfigurationFactory.ParseString(BuildHocon());

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        RaftMessage => RaftMessageManifest,
        ReadyWritten => RaftJournalEvents.ReadyManifest,
        HardStateChanged => RaftJournalEvents.HardStateManifest,
        EntriesAppended => RaftJournalEvents.EntriesManifest,
        LogTruncated => RaftJournalEvents.TruncatedManifest,
        LogCompacted => RaftJournalEvents.CompactedManifest,
        _ => RequestManifest(o) ?? throw new ArgumentException($"{nameof(RaftWireSerializer)} cannot serialize a {o?.GetType().FullName ?? "null"}.", nameof(o)),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) => obj switch
    {
        RaftMessage m => RaftWireFormat.Serialize(m),
        IMessage proto => proto.ToByteArray(),
        _ => RequestToBinary(obj) ?? throw new ArgumentException($"{nameof(RaftWireSerializer)} cannot serialize a {obj?.GetType().FullName ?? "null"}.", nameof(obj)),
    };

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            return manifest switch
            {
                RaftMessageManifest => RaftWireFormat.Deserialize(bytes),
                RaftJournalEvents.ReadyManifest => ReadyWritten.Parser.ParseFrom(bytes),
                RaftJournalEvents.HardStateManifest => HardStateChanged.Parser.ParseFrom(bytes),
                RaftJournalEvents.EntriesManifest => EntriesAppended.Parser.ParseFrom(bytes),
                RaftJournalEvents.TruncatedManifest => LogTruncated.Parser.ParseFrom(bytes),
                RaftJournalEvents.CompactedManifest => LogCompacted.Parser.ParseFrom(bytes),
                _ => RequestFromBinary(bytes, manifest) ?? throw new SerializationException(
                    $"{nameof(RaftWireSerializer)} (id {SerializerId}) does not know manifest '{manifest}': the message was sent by a newer or foreign version of AkkaKv."),
            };
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new SerializationException($"{nameof(RaftWireSerializer)}: the payload of a '{manifest}' message is not valid protobuf: {ex.Message}", ex);
        }
        catch (InvalidDataException ex)
        {
            throw new SerializationException($"{nameof(RaftWireSerializer)}: invalid '{manifest}' message: {ex.Message}", ex);
        }
    }

    private static string BuildHocon()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("akka.actor {");
        sb.AppendLine($"  serializers {{ {SerializerName} = \"{TypeName(typeof(RaftWireSerializer))}\" }}");
        sb.AppendLine("  serialization-bindings {");
        foreach (var type in BoundTypes)
        {
            sb.AppendLine($"    \"{TypeName(type)}\" = {SerializerName}");
        }

        sb.AppendLine("  }");
        sb.AppendLine($"  serialization-identifiers {{ \"{TypeName(typeof(RaftWireSerializer))}\" = {SerializerId} }}");
        sb.AppendLine("}");
        return sb.ToString();
    }

    /// <summary>"Namespace.Type, Assembly", the form Akka's HOCON bindings use.</summary>
    private static string TypeName(Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";
}
