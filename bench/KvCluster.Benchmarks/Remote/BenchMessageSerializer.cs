using System.Buffers.Binary;
using Akka.Actor;
using Akka.Serialization;

namespace KvCluster.Benchmarks.Remote;

/// <summary>Marker of the remoting benchmark's messages, bound to <see cref="BenchMessageSerializer"/>.</summary>
public interface IBenchMessage;

/// <summary>The ping, echo and stream message: an opaque payload of fixed size.</summary>
/// <param name="Bytes">The payload; not copied by the sender, so one instance can be sent many times.</param>
public sealed record BenchPayload(byte[] Bytes) : IBenchMessage;

/// <summary>The sink's running count of received payloads, sent back every <c>--ack-every</c> messages.</summary>
/// <param name="Count">Payloads received so far.</param>
public sealed record BenchAck(long Count) : IBenchMessage;

/// <summary>
/// A hand-written <see cref="SerializerWithStringManifest"/> for the benchmark's messages: the fast path
/// DESIGN.md recommends (one manifest character, no reflection, the payload as its bytes), the same shape as
/// AkkaKv's serializers minus Google.Protobuf. Bench-only id 7190 (AkkaKv's own are 7110 and 7120).
/// </summary>
public sealed class BenchMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>The serializer id written into every remote envelope.</summary>
    public const int Id = 7190;

    private const string PayloadManifest = "P";
    private const string AckManifest = "A";

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        BenchPayload => PayloadManifest,
        BenchAck => AckManifest,
        _ => throw new ArgumentException($"Cannot serialize {o.GetType()}", nameof(o)),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        switch (obj)
        {
            case BenchPayload payload:
                // Akka copies the returned array into the envelope, so no defensive copy here.
                return payload.Bytes;
            case BenchAck ack:
                var bytes = new byte[sizeof(long)];
                BinaryPrimitives.WriteInt64LittleEndian(bytes, ack.Count);
                return bytes;
            default:
                throw new ArgumentException($"Cannot serialize {obj.GetType()}", nameof(obj));
        }
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest) => manifest switch
    {
        PayloadManifest => new BenchPayload(bytes),
        AckManifest => new BenchAck(BinaryPrimitives.ReadInt64LittleEndian(bytes)),
        _ => throw new System.Runtime.Serialization.SerializationException($"Unknown manifest '{manifest}'"),
    };
}
