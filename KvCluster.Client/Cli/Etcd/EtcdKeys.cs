using Google.Protobuf;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>etcdctl's key-range forms: one key, <c>[key, range_end)</c>, <c>--prefix</c>, <c>--from-key</c>.</summary>
internal static class EtcdKeys
{
    private static readonly ByteString s_zero = ByteString.CopyFrom(0);

    /// <summary>
    /// The (key, range_end) pair of a command line: with <paramref name="prefix"/> every key starting with
    /// <paramref name="key"/> (an empty prefix: every key), with <paramref name="fromKey"/> every key &gt;= key, else
    /// <c>[key, rangeEnd)</c> or the single key. Returns null with an error for a contradictory combination.
    /// </summary>
    public static (ByteString Key, ByteString RangeEnd)? Resolve(string key, string? rangeEnd, bool prefix, bool fromKey, out string? error)
    {
        error = null;
        var count = (prefix ? 1 : 0) + (fromKey ? 1 : 0) + (rangeEnd is not null ? 1 : 0);
        if (count > 1)
        {
            error = "give only one of --prefix, --from-key and a range end";
            return null;
        }

        var keyBytes = ByteString.CopyFromUtf8(key);
        if (prefix)
        {
            return keyBytes.IsEmpty ? (s_zero, s_zero) : (keyBytes, PrefixEnd(keyBytes));
        }

        if (fromKey)
        {
            return (keyBytes.IsEmpty ? s_zero : keyBytes, s_zero);
        }

        return (keyBytes, rangeEnd is null ? ByteString.Empty : ByteString.CopyFromUtf8(rangeEnd));
    }

    /// <summary>The smallest key greater than every key with this prefix ("\0", every key, when there is none).</summary>
    public static ByteString PrefixEnd(ByteString prefix)
    {
        var end = prefix.ToByteArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return ByteString.CopyFrom(end, 0, i + 1);
            }
        }

        return s_zero;
    }
}
