using System.Collections.Concurrent;
using System.Text.Json;

namespace KvCluster.Actors.Persistence.Serialization;

/// <summary>
/// The default <see cref="IEventSerializer"/>: System.Text.Json payloads, the manifest is the
/// type's assembly-qualified name without version. Convenient for tests and simple state; for
/// wire-stable formats (Raft log entries) register protobuf types in an
/// <see cref="EventSerializerRegistry"/> instead. Only types of loaded assemblies are resolved.
/// </summary>
public sealed class JsonEventSerializer : IEventSerializer
{
    /// <summary>Manifests by type, computed once.</summary>
    private readonly ConcurrentDictionary<Type, string> _manifests = new();

    /// <summary>Types by manifest, resolved once.</summary>
    private readonly ConcurrentDictionary<string, Type> _types = new(StringComparer.Ordinal);

    /// <summary>The JSON options used both ways.</summary>
    private readonly JsonSerializerOptions _options;

    /// <summary>Creates the serializer.</summary>
    /// <param name="options">JSON options; <see cref="JsonSerializerOptions.Default"/> when null.</param>
    public JsonEventSerializer(JsonSerializerOptions? options = null)
    {
        _options = options ?? JsonSerializerOptions.Default;
    }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Serialize(object value, out string manifest)
    {
        ArgumentNullException.ThrowIfNull(value);
        var type = value.GetType();
        manifest = _manifests.GetOrAdd(type, static t => $"{t.FullName}, {t.Assembly.GetName().Name}");
        try
        {
            return JsonSerializer.SerializeToUtf8Bytes(value, type, _options);
        }
        catch (Exception ex) when (ex is NotSupportedException or JsonException)
        {
            throw new SerializationException($"Type '{type}' cannot be serialized to JSON: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public object Deserialize(string manifest, ReadOnlyMemory<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var type = _types.GetOrAdd(manifest, static m => Type.GetType(m, throwOnError: false)
            ?? throw new SerializationException($"Manifest '{m}' names no loaded type; the event or snapshot cannot be read back."));
        try
        {
            return JsonSerializer.Deserialize(payload.Span, type, _options)
                ?? throw new SerializationException($"A payload with manifest '{manifest}' holds JSON null.");
        }
        catch (JsonException ex)
        {
            throw new SerializationException($"A payload of {payload.Length} bytes with manifest '{manifest}' is not valid JSON for that type: {ex.Message}", ex);
        }
    }
}
