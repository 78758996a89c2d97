using System.Buffers.Binary;
using Akka.Actor;
using Akka.Serialization;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// One journal event carrying a batch of entries: the Raft pattern (one row per Ready, the whole batch in it).
/// </summary>
/// <param name="Entries">The entries, each an opaque payload.</param>
public sealed record BatchEvent(byte[][] Entries);

/// <summary>
/// Hand-written serializer of <see cref="BatchEvent"/> (count, then length-prefixed entries), so the batch mode pays
/// a realistic encode/decode per row. Bench-only id 7191.
/// </summary>
public sealed class BatchEventSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>The serializer id stored in each journal row.</summary>
    public const int Id = 7191;

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <inheritdoc />
    public override string Manifest(object o) => o is BatchEvent ? "B" : throw new ArgumentException($"Cannot serialize {o.GetType()}", nameof(o));

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        var batch = (BatchEvent)obj;
        var size = sizeof(int) + batch.Entries.Sum(e => sizeof(int) + e.Length);
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, batch.Entries.Length);
        span = span[sizeof(int)..];
        foreach (var entry in batch.Entries)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span, entry.Length);
            entry.CopyTo(span[sizeof(int)..]);
            span = span[(sizeof(int) + entry.Length)..];
        }
        return bytes;
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        ReadOnlySpan<byte> span = bytes;
        var entries = new byte[BinaryPrimitives.ReadInt32LittleEndian(span)][];
        span = span[sizeof(int)..];
        for (var i = 0; i < entries.Length; i++)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(span);
            entries[i] = span.Slice(sizeof(int), length).ToArray();
            span = span[(sizeof(int) + length)..];
        }
        return new BatchEvent(entries);
    }
}
