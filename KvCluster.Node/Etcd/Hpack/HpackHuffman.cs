// Written by hand: no package that restores here decodes HPACK (RFC 7541). Kestrel's and System.Net.Http's codecs
// are internal, and nuget.tsv lists no HPACK package. Only what the URL-authority shim needs is here: the Huffman code
// (to read and rewrite one string in place) and the header block's framing (to find the field); no dynamic table.

namespace KvCluster.Node.Etcd.Hpack;

/// <summary>
/// HPACK's static Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical (codes of one length are consecutive
/// numbers, in symbol order, after those of the shorter lengths), so the length of each symbol's code determines it; the
/// codes are built from the lengths once.
/// </summary>
internal static class HpackHuffman
{
    /// <summary>The end-of-string symbol; a decoder must refuse it inside a string.</summary>
    public const int Eos = 256;

    /// <summary>The longest code, in bits (the EOS symbol's).</summary>
    public const int MaxCodeBits = 30;

    /// <summary>Code length in bits of symbols 0-255 and of EOS (256), RFC 7541 Appendix B.</summary>
    private static readonly byte[] s_lengths =
    {
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    };

    /// <summary>Each symbol's code, right-aligned.</summary>
    private static readonly uint[] s_codes = new uint[257];

    /// <summary>Symbols in code order (by length, then symbol).</summary>
    private static readonly short[] s_ordered = new short[257];

    /// <summary>Per code length: the first code, how many codes there are, and where the first one is in <see cref="s_ordered"/>.</summary>
    private static readonly uint[] s_firstCode = new uint[MaxCodeBits + 1];
    private static readonly int[] s_count = new int[MaxCodeBits + 1];
    private static readonly int[] s_offset = new int[MaxCodeBits + 1];

    static HpackHuffman()
    {
        var symbols = Enumerable.Range(0, 257).OrderBy(s => s_lengths[s]).ThenBy(s => s).ToArray();
        uint code = 0;
        var previousLength = s_lengths[symbols[0]];
        for (var i = 0; i < symbols.Length; i++)
        {
            var symbol = symbols[i];
            var length = s_lengths[symbol];
            if (i > 0)
            {
                code = (code + 1) << (length - previousLength);
            }

            if (s_count[length] == 0)
            {
                s_firstCode[length] = code;
                s_offset[length] = i;
            }

            s_count[length]++;
            s_codes[symbol] = code;
            s_ordered[i] = (short)symbol;
            previousLength = length;
        }
    }

    /// <summary>The length in bits of <paramref name="symbol"/>'s code.</summary>
    public static int CodeLength(int symbol) => s_lengths[symbol];

    /// <summary>
    /// Decodes <paramref name="encoded"/> into <paramref name="symbols"/>, with the bit at which each symbol's code starts
    /// in <paramref name="bitOffsets"/>. Returns the number of symbols, or -1 when the string is not valid HPACK Huffman
    /// (an EOS inside it, padding longer than 7 bits or not all ones) or has more symbols than <paramref name="symbols"/> holds.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> encoded, Span<byte> symbols, Span<int> bitOffsets)
    {
        var count = 0;
        var bit = 0;
        var bits = encoded.Length * 8;

        // Every code is at least 5 bits long: take 5 at once, then one more at a time until a code of that length matches.
        while (bits - bit >= MinCodeBits)
        {
            var code = Bits(encoded, bit, MinCodeBits);
            var length = MinCodeBits;
            while (s_count[length] == 0 || code < s_firstCode[length] || code - s_firstCode[length] >= (uint)s_count[length])
            {
                if (length == MaxCodeBits || bit + length == bits)
                {
                    // No whole code left: what remains must be padding (checked below).
                    return Padding(encoded, bit, bits) ? count : -1;
                }

                code = (code << 1) | (uint)((encoded[(bit + length) >> 3] >> (7 - ((bit + length) & 7))) & 1);
                length++;
            }

            var symbol = s_ordered[s_offset[length] + (int)(code - s_firstCode[length])];
            if (symbol == Eos || count == symbols.Length)
            {
                return -1;
            }

            symbols[count] = (byte)symbol;
            bitOffsets[count] = bit;
            count++;
            bit += length;
        }

        return Padding(encoded, bit, bits) ? count : -1;
    }

    /// <summary>The shortest code, in bits.</summary>
    private const int MinCodeBits = 5;

    /// <summary>§5.2: the bits after the last symbol are padding, the most significant bits of EOS (all ones), fewer than 8.</summary>
    private static bool Padding(ReadOnlySpan<byte> encoded, int bit, int bits) =>
        bits - bit <= 7 && (bits == bit || Bits(encoded, bit, bits - bit) == (1u << (bits - bit)) - 1);

    /// <summary><paramref name="count"/> bits (at most 8) from <paramref name="bit"/> on, most significant first.</summary>
    private static uint Bits(ReadOnlySpan<byte> encoded, int bit, int count)
    {
        var index = bit >> 3;
        var pair = (uint)encoded[index] << 8 | (index + 1 < encoded.Length ? encoded[index + 1] : 0u);
        return (pair >> (16 - (bit & 7) - count)) & ((1u << count) - 1);
    }

    /// <summary>Writes <paramref name="symbol"/>'s code at <paramref name="bitOffset"/> of <paramref name="encoded"/>,
    /// over a code of the same length (the caller's to check); the bits around it stay as they are.</summary>
    public static void Overwrite(Span<byte> encoded, int bitOffset, byte symbol)
    {
        var code = s_codes[symbol];
        var length = s_lengths[symbol];
        for (var i = 0; i < length; i++)
        {
            var position = bitOffset + i;
            var mask = (byte)(0x80 >> (position & 7));
            if (((code >> (length - 1 - i)) & 1) != 0)
            {
                encoded[position >> 3] |= mask;
            }
            else
            {
                encoded[position >> 3] &= (byte)~mask;
            }
        }
    }

    /// <summary>Encodes <paramref name="text"/> (padding with ones to a byte), as an HPACK encoder that chose Huffman would.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> text)
    {
        var bits = 0L;
        foreach (var b in text)
        {
            bits += s_lengths[b];
        }

        var encoded = new byte[(bits + 7) / 8];
        Array.Fill(encoded, (byte)0xFF);
        var offset = 0;
        foreach (var b in text)
        {
            Overwrite(encoded, offset, b);
            offset += s_lengths[b];
        }

        return encoded;
    }
}
