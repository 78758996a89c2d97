using System.Collections.Frozen;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using KvCluster.Client.Protocol;

namespace KvCluster.Client.Serialization;

/// <summary>
/// The wire format of the client/router protocol: every message of <c>kv.proto</c> and <c>kv_client.proto</c>
/// (<see cref="KvRequest"/>, <see cref="KvResponse"/>, <see cref="GetContacts"/>, <see cref="Contacts"/>, the
/// commands and results they carry) as its Google.Protobuf encoding. The manifest is the message's protobuf full
/// name (<c>akkakv.client.KvRequest</c>), which is stable across renames of the C# types. Serializer id
/// <see cref="SerializerId"/> (7120) is fixed: nodes and clients of every version must agree on it.
/// <para>
/// KvClient sends its requests through Akka's ClusterClient, which wraps them in its own Send envelope; the payload
/// inside is serialized by the serializer bound to its type, this one. Bind it on every actor system that sends or
/// receives these messages: with <see cref="Config"/> (HOCON) or, through Akka.Hosting,
/// <c>builder.WithCustomSerializer(KvProtocolSerializer.Name, KvProtocolSerializer.BoundTypes, s =&gt; new KvProtocolSerializer(s))</c>.
/// </para>
/// </summary>
public sealed class KvProtocolSerializer : SerializerWithStringManifest
{
    /// <summary>The fixed serializer id of the client/router protocol.</summary>
    public const int SerializerId = 7120;

    /// <summary>The serializer's name in <c>akka.actor.serializers</c>.</summary>
    public const string Name = "kv-protocol";

    /// <summary>Manifest by message type.</summary>
    private static readonly FrozenDictionary<Type, string> s_manifests;

    /// <summary>Parser by manifest.</summary>
    private static readonly FrozenDictionary<string, MessageParser> s_parsers;

    static KvProtocolSerializer()
    {
        var messages = KvReflection.Descriptor.MessageTypes
            .Concat(KvClientReflection.Descriptor.MessageTypes)
            .SelectMany(Flatten)
            .ToArray();
        s_manifests = messages.ToFrozenDictionary(m => m.ClrType, m => m.FullName);
        s_parsers = messages.ToFrozenDictionary(m => m.FullName, m => m.Parser);
        BoundTypes = messages.Select(m => m.ClrType).ToArray();
        Hocon = BuildHocon(BoundTypes);
        Config = ConfigurationFactory.ParseString(Hocon);
    }

    /// <summary>Creates the serializer (Akka calls this constructor).</summary>
    /// <param name="system">The actor system it serves.</param>
    public KvProtocolSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <summary>Every message type this serializer is bound to (the messages of kv.proto and kv_client.proto).</summary>
    public static IReadOnlyList<Type> BoundTypes { get; }

    /// <summary>
    /// The HOCON that registers this serializer under <see cref="Name"/>, fixes its id and binds every type of
    /// <see cref="BoundTypes"/> to it (<c>akka.actor.serializers</c>, <c>serialization-identifiers</c>,
    /// <c>serialization-bindings</c>).
    /// </summary>
    public static string Hocon { get; }

    /// <summary><see cref="Hocon"/>, parsed: layer it over (or under) an actor system's configuration.</summary>
    public static Config Config { get; }

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <summary>The manifest of <paramref name="messageType"/>, or null when this serializer does not handle it.</summary>
    public static string? ManifestOf(Type messageType) => s_manifests.GetValueOrDefault(messageType);

    /// <inheritdoc />
    public override string Manifest(object o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return s_manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{nameof(KvProtocolSerializer)} cannot serialize {o.GetType().FullName}: it is not a message of kv.proto or kv_client.proto.", nameof(o));
    }

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return obj is IMessage message && s_manifests.ContainsKey(obj.GetType())
            ? message.ToByteArray()
            : throw new ArgumentException($"{nameof(KvProtocolSerializer)} cannot serialize {obj.GetType().FullName}: it is not a message of kv.proto or kv_client.proto.", nameof(obj));
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (manifest is null || !s_parsers.TryGetValue(manifest, out var parser))
        {
            throw new SerializationException($"{nameof(KvProtocolSerializer)} (id {SerializerId}) does not know the manifest '{manifest}': the sender runs a newer protocol, or the binding is wrong.");
        }

        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new SerializationException($"{nameof(KvProtocolSerializer)}: a '{manifest}' of {bytes.Length} bytes is malformed: {e.Message}", e);
        }
    }

    private static IEnumerable<MessageDescriptor> Flatten(MessageDescriptor message) =>
        message.NestedTypes.SelectMany(Flatten).Prepend(message);

    private static string BuildHocon(IEnumerable<Type> types)
    {
        var type = typeof(KvProtocolSerializer);
        var qualified = $"{type.FullName}, {type.Assembly.GetName().Name}";
        var hocon = new StringBuilder();
        hocon.AppendLine("akka.actor {");
        hocon.AppendLine($"  serializers {{ {Name} = \"{qualified}\" }}");
        hocon.AppendLine($"  serialization-identifiers {{ \"{qualified}\" = {SerializerId} }}");
        hocon.AppendLine("  serialization-bindings {");
        foreach (var bound in types)
        {
            hocon.AppendLine($"    \"{bound.FullName}, {bound.Assembly.GetName().Name}\" = {Name}");
        }

        hocon.AppendLine("  }");
        hocon.AppendLine("}");
        return hocon.ToString();
    }
}
