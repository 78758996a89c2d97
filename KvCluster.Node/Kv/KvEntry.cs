using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>
/// One stored key. The key never changes once the entry is in the store's indexes; the value and
/// metadata are updated in place by a put. <see cref="ByteString"/> is immutable, so values handed
/// out in results are shared, never copied.
/// </summary>
internal sealed class KvEntry
{
    /// <summary>Creates an entry; a probe for lookups has an empty value and zero metadata.</summary>
    public KvEntry(ByteString key, ByteString value, long createIndex, long modIndex, long version)
    {
        Key = key;
        Value = value;
        CreateIndex = createIndex;
        ModIndex = modIndex;
        Version = version;
    }

    /// <summary>The key (never empty for a stored entry).</summary>
    public ByteString Key { get; }

    /// <summary>The current value.</summary>
    public ByteString Value { get; set; }

    /// <summary>Index of the put that created the key.</summary>
    public long CreateIndex { get; set; }

    /// <summary>Index of the key's last change; what compare-and-set compares.</summary>
    public long ModIndex { get; set; }

    /// <summary>Number of puts since creation (1 after the create).</summary>
    public long Version { get; set; }

    /// <summary>Creates a probe used only to position range scans.</summary>
    public static KvEntry Probe(ByteString key) => new(key, ByteString.Empty, 0, 0, 0);

    /// <summary>The wire form of this entry, with or without the value.</summary>
    public KeyValue ToKeyValue(bool withValue) => new()
    {
        Key = Key,
        Value = withValue ? Value : ByteString.Empty,
        CreateIndex = CreateIndex,
        ModIndex = ModIndex,
        Version = Version,
    };
}

/// <summary>Orders entries by key as unsigned bytes (<see cref="KvKeyOrder"/>).</summary>
internal sealed class KvEntryKeyComparer : IComparer<KvEntry>
{
    /// <summary>The single instance.</summary>
    public static readonly KvEntryKeyComparer Instance = new();

    /// <inheritdoc />
    public int Compare(KvEntry? x, KvEntry? y) => KvKeyOrder.Compare(x!.Key.Span, y!.Key.Span);
}

/// <summary>
/// Content equality of keys, with a <see cref="ReadOnlySpan{T}"/> alternate so point lookups
/// do not allocate. Hashes are per-process randomized; nothing depends on dictionary order.
/// </summary>
internal sealed class KvKeyEqualityComparer : IEqualityComparer<ByteString>, IAlternateEqualityComparer<ReadOnlySpan<byte>, ByteString>
{
    /// <summary>The single instance.</summary>
    public static readonly KvKeyEqualityComparer Instance = new();

    /// <inheritdoc />
    public bool Equals(ByteString? x, ByteString? y) => x!.Span.SequenceEqual(y!.Span);

    /// <inheritdoc />
    public int GetHashCode(ByteString obj) => Hash(obj.Span);

    /// <inheritdoc />
    public bool Equals(ReadOnlySpan<byte> alternate, ByteString other) => alternate.SequenceEqual(other.Span);

    /// <inheritdoc />
    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

    /// <inheritdoc />
    public ByteString Create(ReadOnlySpan<byte> alternate) => ByteString.CopyFrom(alternate);

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }
}
