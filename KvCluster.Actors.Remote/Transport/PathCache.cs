namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// Remembers the last decoded path of one connection: a stream of messages between one pair of
/// actors repeats the same recipient and sender, so comparing bytes (vectorised) replaces decoding
/// and allocating a string, and the layer above sees the same string instance again.
/// Owned by one connection's read loop; not thread-safe.
/// </summary>
internal struct PathCache
{
    private byte[]? _bytes;
    private string? _text;

    /// <summary>Returns the path for <paramref name="utf8"/>, reusing the previous string when equal.</summary>
    public string Decode(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return string.Empty;
        }

        if (_text is not null && utf8.SequenceEqual(_bytes))
        {
            return _text;
        }

        var text = EnvelopeCodec.DecodePath(utf8);
        _bytes = utf8.ToArray();
        _text = text;
        return text;
    }
}
