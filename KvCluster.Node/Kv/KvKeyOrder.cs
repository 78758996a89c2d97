using System.Text;

namespace KvCluster.Node.Kv;

/// <summary>
/// The order of keys in the store: lexicographic over unsigned bytes, a shorter key before any
/// longer key it is a prefix of (the order etcd uses). Range scans, snapshots and deletes by
/// prefix all follow it.
/// </summary>
public static class KvKeyOrder
{
    /// <summary>Compares two keys as unsigned byte strings.</summary>
    /// <returns>Negative when <paramref name="x"/> sorts first, zero when equal, positive otherwise.</returns>
    public static int Compare(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y) => x.SequenceCompareTo(y);

    /// <summary>
    /// The smallest key greater than every key that starts with <paramref name="prefix"/>, so that
    /// the keys with that prefix are exactly the interval [prefix, end). Returns an empty array when
    /// there is no such key (the prefix is empty or all 0xFF bytes): the interval has no upper bound.
    /// The caller owns the returned array.
    /// </summary>
    public static byte[] PrefixEnd(ReadOnlySpan<byte> prefix)
    {
        for (var i = prefix.Length - 1; i >= 0; i--)
        {
            if (prefix[i] != 0xFF)
            {
                var end = prefix[..(i + 1)].ToArray();
                end[i]++;
                return end;
            }
        }

        return [];
    }

    /// <summary>
    /// A short printable form of a key for error messages and logs: UTF-8 text with control and
    /// invalid bytes escaped as <c>\xNN</c>, cut to about 64 characters.
    /// </summary>
    public static string Describe(ReadOnlySpan<byte> key)
    {
        const int MaxChars = 64;
        var builder = new StringBuilder();
        builder.Append('"');
        var rest = key;
        while (!rest.IsEmpty && builder.Length < MaxChars)
        {
            var status = Rune.DecodeFromUtf8(rest, out var rune, out var consumed);
            if (status == System.Buffers.OperationStatus.Done && !Rune.IsControl(rune))
            {
                builder.Append(rune.ToString());
                rest = rest[consumed..];
            }
            else
            {
                builder.Append("\\x").Append(rest[0].ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                rest = rest[1..];
            }
        }

        builder.Append('"');
        if (!rest.IsEmpty)
        {
            builder.Append($"... ({key.Length} bytes)");
        }

        return builder.ToString();
    }
}
