// Written by hand: no package that restores here decodes HPACK (RFC 7541); see HpackHuffman.cs.

namespace KvCluster.Node.Etcd.Hpack;

/// <summary>
/// Makes an HTTP/2 <c>:authority</c> that is a whole URL (<c>http://127.0.0.1:2379</c>) acceptable to Kestrel, in place
/// and without changing a single length. etcdctl 3.4 (grpc-go 1.33) sends the endpoint URL it was given as the
/// authority of its per-endpoint calls (<c>--endpoints http://...</c> for <c>endpoint status</c>, <c>move-leader</c>,
/// and every <c>--cluster</c> command, which dials the members' client URLs); etcd's Go server ignores it, but
/// Kestrel validates the field as a Host header (RFC 7230 §5.4) and resets the stream with PROTOCOL_ERROR, with no
/// option to relax that. Each character of the host part that a host may not contain (<c>:</c> and <c>/</c> of the
/// scheme separator, IPv6 brackets) is replaced by one that it may contain and whose Huffman code has the same length
/// (<c>http://127.0.0.1:2379</c> becomes <c>httpx--127.0.0.1:2379</c>); the port stays. So the header block, its frame
/// and HPACK's dynamic table (which accounts entries by their decoded length) keep their sizes, and an entry the client
/// added to its table is the rewritten one in the server's table too: later requests that index it need nothing.
/// Nothing in AkkaKv reads the Host of a gRPC call.
/// </summary>
internal static class UrlAuthority
{
    /// <summary>The static table's index of <c>:authority</c> (RFC 7541 Appendix A).</summary>
    private const int AuthorityIndex = 1;

    /// <summary>Longest authority value rewritten (longer ones are left to Kestrel).</summary>
    private const int MaxValueLength = 512;

    /// <summary>Per byte that may not appear in a host: a character that may (RFC 3986 unreserved), whose Huffman code
    /// has the same length; 0 when there is none.</summary>
    private static readonly byte[] s_substitutes = BuildSubstitutes();

    private static ReadOnlySpan<byte> AuthorityName => ":authority"u8;

    /// <summary>Rewrites every literal <c>:authority</c> field of <paramref name="block"/> (an HPACK header block) whose value
    /// is a URL; returns how many were rewritten. A block it cannot parse is left as it is from that point on (Kestrel's
    /// decoder reports it); this never throws.</summary>
    public static int RewriteHeaderBlock(Span<byte> block)
    {
        var rewritten = 0;
        var i = 0;
        while (i < block.Length)
        {
            var first = block[i];
            if ((first & 0x80) != 0)
            {
                // Indexed field (§6.1). An entry of the dynamic table was added by a literal, rewritten on its way in.
                if (!TryReadInteger(block, ref i, 7, out _))
                {
                    return rewritten;
                }

                continue;
            }

            if ((first & 0xE0) == 0x20)
            {
                if (!TryReadInteger(block, ref i, 5, out _)) // dynamic table size update (§6.3)
                {
                    return rewritten;
                }

                continue;
            }

            // Literal with incremental indexing (01, §6.2.1), without indexing (0000, §6.2.2), never indexed (0001, §6.2.3).
            var prefix = (first & 0x40) != 0 ? 6 : 4;
            if (!TryReadInteger(block, ref i, prefix, out var nameIndex))
            {
                return rewritten;
            }

            bool authority;
            if (nameIndex == 0)
            {
                if (!TryReadString(block, ref i, out var nameHuffman, out var name))
                {
                    return rewritten;
                }

                authority = IsAuthority(block.Slice(name.Start, name.Length), nameHuffman);
            }
            else
            {
                authority = nameIndex == AuthorityIndex;
            }

            if (!TryReadString(block, ref i, out var huffman, out var value))
            {
                return rewritten;
            }

            if (authority && RewriteValue(block.Slice(value.Start, value.Length), huffman))
            {
                rewritten++;
            }
        }

        return rewritten;
    }

    /// <summary>Rewrites one authority value if it is a URL whose host part can be made valid; false if left as it is.</summary>
    internal static bool RewriteValue(Span<byte> value, bool huffman)
    {
        if (value.Length > MaxValueLength)
        {
            return false;
        }

        // A Huffman string decodes to at most 8/5 as many symbols as it has bytes (the shortest code is 5 bits).
        Span<byte> text = stackalloc byte[huffman ? value.Length * 8 / 5 + 1 : value.Length];
        Span<int> offsets = stackalloc int[text.Length];
        int length;
        if (huffman)
        {
            length = HpackHuffman.Decode(value, text, offsets);
            if (length < 0)
            {
                return false;
            }
        }
        else
        {
            value.CopyTo(text);
            length = value.Length;
        }

        text = text[..length];
        var separator = text.IndexOf("://"u8);
        if (separator <= 0)
        {
            return false;
        }

        // The port (digits after the last colon past the scheme) stays; everything before it becomes a valid host.
        var hostEnd = text.Length;
        var colon = text.LastIndexOf((byte)':');
        if (colon > separator + 2 && colon < text.Length - 1 && text[(colon + 1)..].IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0)
        {
            hostEnd = colon;
        }

        for (var j = 0; j < hostEnd; j++)
        {
            if (!IsUnreserved(text[j]) && s_substitutes[text[j]] == 0)
            {
                return false; // one character without a substitute of its code's length: leave the whole value
            }
        }

        for (var j = 0; j < hostEnd; j++)
        {
            if (IsUnreserved(text[j]))
            {
                continue;
            }

            if (huffman)
            {
                HpackHuffman.Overwrite(value, offsets[j], s_substitutes[text[j]]);
            }
            else
            {
                value[j] = s_substitutes[text[j]];
            }
        }

        return true;
    }

    private static bool IsAuthority(ReadOnlySpan<byte> name, bool huffman)
    {
        if (!huffman)
        {
            return name.SequenceEqual(AuthorityName);
        }

        // An encoder that chose Huffman for the name wrote exactly these bytes (the code and its padding are fixed).
        return name.SequenceEqual(s_huffmanAuthorityName);
    }

    private static readonly byte[] s_huffmanAuthorityName = HpackHuffman.Encode(":authority"u8);

    /// <summary>RFC 3986's unreserved characters: always valid in a host name.</summary>
    private static bool IsUnreserved(byte c) =>
        c is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~';

    private static byte[] BuildSubstitutes()
    {
        // Preferred first: 'x' for ':' (7 bits), '-' for '/' (6), '~' for '[' and ']' (13); then any unreserved one.
        var candidates = "x-~_.".Select(c => (byte)c)
            .Concat(Enumerable.Range(0, 128).Select(c => (byte)c).Where(IsUnreserved))
            .ToArray();
        var substitutes = new byte[256];
        for (var c = 0; c < 256; c++)
        {
            if (IsUnreserved((byte)c))
            {
                continue;
            }

            foreach (var candidate in candidates)
            {
                if (HpackHuffman.CodeLength(candidate) == HpackHuffman.CodeLength(c))
                {
                    substitutes[c] = candidate;
                    break;
                }
            }
        }

        return substitutes;
    }

    /// <summary>An HPACK integer with an N-bit prefix (§5.1); false if the block ends inside it or it exceeds 2^28.</summary>
    private static bool TryReadInteger(ReadOnlySpan<byte> block, ref int i, int prefixBits, out int value)
    {
        var max = (1 << prefixBits) - 1;
        value = block[i++] & max;
        if (value < max)
        {
            return true;
        }

        for (var shift = 0; shift <= 21; shift += 7)
        {
            if (i >= block.Length)
            {
                return false;
            }

            var b = block[i++];
            value += (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A string literal (§5.2): its Huffman flag and where its octets are; false if it runs past the block.</summary>
    private static bool TryReadString(ReadOnlySpan<byte> block, ref int i, out bool huffman, out (int Start, int Length) octets)
    {
        octets = default;
        huffman = false;
        if (i >= block.Length)
        {
            return false;
        }

        huffman = (block[i] & 0x80) != 0;
        if (!TryReadInteger(block, ref i, 7, out var length) || length > block.Length - i)
        {
            return false;
        }

        octets = (i, length);
        i += length;
        return true;
    }
}
