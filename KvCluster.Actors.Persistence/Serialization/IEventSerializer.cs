namespace KvCluster.Actors.Persistence.Serialization;

/// <summary>
/// Turns events and snapshots into bytes plus a manifest (type hint) and back. The journal and
/// snapshot store only ever see bytes; the persistent actor layer calls this seam. Implementations
/// are thread-safe.
/// </summary>
public interface IEventSerializer
{
    /// <summary>Serializes <paramref name="value"/>.</summary>
    /// <param name="value">The event or snapshot.</param>
    /// <param name="manifest">The type hint that <see cref="Deserialize"/> needs to read the bytes back.</param>
    /// <returns>The payload; the caller owns it.</returns>
    /// <exception cref="SerializationException">The type of <paramref name="value"/> is not supported.</exception>
    ReadOnlyMemory<byte> Serialize(object value, out string manifest);

    /// <summary>Reads back a value written by <see cref="Serialize"/>.</summary>
    /// <param name="manifest">The type hint stored with the payload.</param>
    /// <param name="payload">The payload.</param>
    /// <returns>The value.</returns>
    /// <exception cref="SerializationException">The manifest is unknown or the bytes cannot be read.</exception>
    object Deserialize(string manifest, ReadOnlyMemory<byte> payload);
}

/// <summary>An event or snapshot could not be serialized or read back; the message names the type or manifest.</summary>
public sealed class SerializationException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, naming the type or manifest.</param>
    /// <param name="innerException">The serializer's own error, if any.</param>
    public SerializationException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
