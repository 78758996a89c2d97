using System.Collections.Concurrent;

namespace KvCluster.Actors.Persistence.Serialization;

/// <summary>
/// An <see cref="IEventSerializer"/> assembled from one (manifest, serialize, deserialize) entry per
/// type, for instance protobuf messages:
/// <c>registry.Add&lt;LogEntry&gt;("raft.entry.v1", e =&gt; e.ToByteArray(), b =&gt; LogEntry.Parser.ParseFrom(b.Span))</c>.
/// Register every type before the registry is used; lookups are lock-free afterwards.
/// </summary>
public sealed class EventSerializerRegistry : IEventSerializer
{
    /// <summary>Serializers by exact runtime type.</summary>
    private readonly ConcurrentDictionary<Type, (string Manifest, Func<object, ReadOnlyMemory<byte>> Serialize)> _byType = new();

    /// <summary>Deserializers by manifest.</summary>
    private readonly ConcurrentDictionary<string, Func<ReadOnlyMemory<byte>, object>> _byManifest = new(StringComparer.Ordinal);

    /// <summary>Registers the type <typeparamref name="T"/> under <paramref name="manifest"/>.</summary>
    /// <typeparam name="T">The exact runtime type of the values.</typeparam>
    /// <param name="manifest">A stable name for the type; stored with every payload, so never reuse one for a different format.</param>
    /// <param name="serialize">Writes a value to bytes.</param>
    /// <param name="deserialize">Reads a value back.</param>
    /// <returns>This registry, for chaining.</returns>
    /// <exception cref="ArgumentException">The type or the manifest is already registered.</exception>
    public EventSerializerRegistry Add<T>(string manifest, Func<T, ReadOnlyMemory<byte>> serialize, Func<ReadOnlyMemory<byte>, T> deserialize)
        where T : notnull
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(serialize);
        ArgumentNullException.ThrowIfNull(deserialize);
        if (!_byManifest.TryAdd(manifest, bytes => deserialize(bytes)))
        {
            throw new ArgumentException($"Manifest '{manifest}' is already registered.", nameof(manifest));
        }
        if (!_byType.TryAdd(typeof(T), (manifest, value => serialize((T)value))))
        {
            _byManifest.TryRemove(manifest, out _);
            throw new ArgumentException($"Type '{typeof(T)}' is already registered.", nameof(T));
        }
        return this;
    }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Serialize(object value, out string manifest)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!_byType.TryGetValue(value.GetType(), out var entry))
        {
            throw new SerializationException($"No serializer is registered for type '{value.GetType()}'; add it to the EventSerializerRegistry.");
        }
        manifest = entry.Manifest;
        try
        {
            return entry.Serialize(value);
        }
        catch (Exception ex)
        {
            throw new SerializationException($"Serializing a '{value.GetType()}' (manifest '{manifest}') failed: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public object Deserialize(string manifest, ReadOnlyMemory<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (!_byManifest.TryGetValue(manifest, out var deserialize))
        {
            throw new SerializationException($"No deserializer is registered for manifest '{manifest}'.");
        }
        try
        {
            return deserialize(payload);
        }
        catch (Exception ex)
        {
            throw new SerializationException($"Reading a payload of {payload.Length} bytes with manifest '{manifest}' failed: {ex.Message}", ex);
        }
    }
}
