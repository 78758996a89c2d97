// Written by hand: no package that restores here parses HTTP/2 frames or HPACK outside Kestrel (whose parser is
// internal and runs after the check this works around); see UrlAuthority.cs.

using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace KvCluster.Node.Etcd.Hpack;

/// <summary>
/// The input of a cleartext HTTP/2 connection (it starts with the client preface) as Kestrel reads it, with every
/// header block passed through <see cref="UrlAuthority.RewriteHeaderBlock"/> before Kestrel sees it. It copies nothing:
/// the bytes Kestrel gets are the socket's, patched in place, and a header block is held back only until its last frame
/// (END_HEADERS) has arrived; every other frame goes through as it arrives. A connection whose frames it cannot follow
/// (a malformed frame sequence, a header block over <see cref="MaxHeldBackBytes"/>) goes through unchanged from there on,
/// so Kestrel's own checks answer it as they would without this reader.
/// </summary>
internal sealed class UrlAuthorityReader : PipeReader
{
    /// <summary>Largest header block held back while its frames arrive (Kestrel refuses far smaller ones by default).</summary>
    internal const int MaxHeldBackBytes = 256 * 1024;

    private const int PrefaceLength = 24;
    private const int FrameHeaderLength = 9;
    private const byte HeadersFrame = 0x1;
    private const byte ContinuationFrame = 0x9;
    private const byte EndHeadersFlag = 0x4;
    private const byte PaddedFlag = 0x8;
    private const byte PriorityFlag = 0x20;

    private readonly PipeReader _inner;

    /// <summary>The inner reader's buffer of the last read, and the stream offset of its start.</summary>
    private ReadOnlySequence<byte> _buffer;
    private long _bufferStart;

    /// <summary>Stream offset up to which bytes are checked and may be handed out.</summary>
    private long _released;

    /// <summary>Bytes after <see cref="_released"/> that go through unparsed: the rest of the preface or of a frame's payload.</summary>
    private long _skip = PrefaceLength;

    /// <summary>Set once the frames cannot be followed: everything goes through unchanged.</summary>
    private bool _passthrough;

    /// <summary>Header fields rewritten on this connection (for tests and the log).</summary>
    public int Rewritten { get; private set; }

    private UrlAuthorityReader(PipeReader inner) => _inner = inner;

    /// <summary>Connection middleware for a TLS endpoint (after <c>UseHttps</c>): a connection whose ALPN chose HTTP/2 is
    /// read through this reader; HTTP/1.1 ones go on as they are.</summary>
    public static ConnectionDelegate Middleware(ConnectionDelegate next) => connection =>
    {
        if (connection.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol.Span.SequenceEqual("h2"u8) == true)
        {
            connection.Transport = Wrap(connection.Transport);
        }

        return next(connection);
    };

    /// <summary>The transport of an HTTP/2 connection with its input read through this reader.</summary>
    public static IDuplexPipe Wrap(IDuplexPipe transport) => new Transport(new UrlAuthorityReader(transport.Input), transport.Output);

    /// <summary>A reader over <paramref name="inner"/> (which starts with the client preface).</summary>
    internal static UrlAuthorityReader Over(PipeReader inner) => new(inner);

    /// <inheritdoc />
    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var pending = _inner.ReadAsync(cancellationToken);
        if (pending.IsCompletedSuccessfully && TryRelease(pending.Result, out var released))
        {
            return new ValueTask<ReadResult>(released);
        }

        return ReadSlowAsync(pending, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> ReadSlowAsync(ValueTask<ReadResult> pending, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await pending.ConfigureAwait(false);
            if (TryRelease(result, out var released))
            {
                return released;
            }

            // Only an incomplete header block is there: examined all, consumed nothing, so the next read waits for more.
            _inner.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            pending = _inner.ReadAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public override bool TryRead(out ReadResult result)
    {
        if (!_inner.TryRead(out var inner))
        {
            result = default;
            return false;
        }

        if (TryRelease(inner, out result))
        {
            return true;
        }

        _inner.AdvanceTo(inner.Buffer.Start, inner.Buffer.End);
        result = default;
        return false;
    }

    /// <inheritdoc />
    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    /// <inheritdoc />
    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        _bufferStart += _buffer.Slice(_buffer.Start, consumed).Length;
        _buffer = default;
        _inner.AdvanceTo(consumed, examined);
    }

    /// <inheritdoc />
    public override void CancelPendingRead() => _inner.CancelPendingRead();

    /// <inheritdoc />
    public override void Complete(Exception? exception = null) => _inner.Complete(exception);

    /// <inheritdoc />
    public override ValueTask CompleteAsync(Exception? exception = null) => _inner.CompleteAsync(exception);

    /// <summary>What of <paramref name="result"/> may go to the reader now; false when nothing may yet (more must arrive).</summary>
    private bool TryRelease(ReadResult result, out ReadResult released)
    {
        _buffer = result.Buffer;
        Scan();
        var ready = _released - _bufferStart;
        if (ready == 0 && result.Buffer.Length > 0 && !result.IsCompleted && !result.IsCanceled)
        {
            released = default;
            return false;
        }

        if (result.IsCompleted && ready < result.Buffer.Length)
        {
            // The peer closed inside a header block: hand over what there is; Kestrel reports the truncated frame.
            _passthrough = true;
            _released = _bufferStart + result.Buffer.Length;
            ready = result.Buffer.Length;
        }

        released = new ReadResult(result.Buffer.Slice(0, ready), result.IsCanceled, result.IsCompleted && ready == result.Buffer.Length);
        return true;
    }

    /// <summary>Moves <see cref="_released"/> over every frame of <see cref="_buffer"/> that may go through now,
    /// rewriting header blocks that are complete.</summary>
    private void Scan()
    {
        var buffer = _buffer;
        var reader = new SequenceReader<byte>(buffer.Slice(_released - _bufferStart));
        Span<byte> header = stackalloc byte[FrameHeaderLength];
        while (!_passthrough)
        {
            if (_skip > 0)
            {
                var passed = Math.Min(_skip, reader.Remaining);
                reader.Advance(passed);
                _skip -= passed;
                if (_skip > 0)
                {
                    break;
                }

                continue;
            }

            if (!reader.TryCopyTo(header))
            {
                break;
            }

            var (length, type, _) = ParseFrameHeader(header);
            if (type != HeadersFrame)
            {
                reader.Advance(FrameHeaderLength);
                _skip = length;
                continue;
            }

            var blockLength = TryRewriteHeaderBlock(reader.UnreadSequence);
            if (blockLength == 0)
            {
                if (reader.Remaining > MaxHeldBackBytes)
                {
                    _passthrough = true;
                }

                break; // its last frame has not arrived yet
            }

            if (blockLength < 0)
            {
                _passthrough = true;
                break;
            }

            reader.Advance(blockLength);
        }

        _released = _bufferStart + (_passthrough ? buffer.Length : buffer.Length - reader.Remaining);
    }

    /// <summary>
    /// The header block that starts with the HEADERS frame at the start of <paramref name="frames"/>: rewritten in place
    /// if all its frames are there; returns the length of its frames, 0 if a frame is still missing, -1 if the frames are
    /// malformed (a frame other than CONTINUATION inside the block, padding longer than the payload).
    /// </summary>
    private long TryRewriteHeaderBlock(ReadOnlySequence<byte> frames)
    {
        // First pass: every frame there? how long are the fragments together?
        var reader = new SequenceReader<byte>(frames);
        Span<byte> header = stackalloc byte[FrameHeaderLength];
        var total = 0L;
        var count = 0;
        while (true)
        {
            if (!reader.TryCopyTo(header))
            {
                return 0;
            }

            var (length, type, flags) = ParseFrameHeader(header);
            if (count > 0 && type != ContinuationFrame)
            {
                return -1;
            }

            if (reader.Remaining - FrameHeaderLength < length)
            {
                return 0;
            }

            var (_, fragmentLength) = Fragment(reader.UnreadSequence, length, type, flags);
            if (fragmentLength < 0)
            {
                return -1;
            }

            total += fragmentLength;
            count++;
            reader.Advance(FrameHeaderLength + length);
            if ((flags & EndHeadersFlag) != 0)
            {
                break;
            }

            if (reader.Consumed > MaxHeldBackBytes)
            {
                return -1;
            }
        }

        var blockLength = reader.Consumed;
        if (count == 1)
        {
            var (length, type, flags) = ParseFrameHeader(header);
            var (start, fragmentLength) = Fragment(frames, length, type, flags);
            if (frames.Slice(start, fragmentLength) is { IsSingleSegment: true } single)
            {
                // The usual case: one HEADERS frame in one segment of the socket's buffer, rewritten where it lies.
                Rewritten += UrlAuthority.RewriteHeaderBlock(MemoryMarshal.AsMemory(single.First).Span);
                return blockLength;
            }
        }

        // The block spans frames or buffer segments: rewritten in a copy, written back fragment by fragment if it changed.
        var copy = ArrayPool<byte>.Shared.Rent((int)total);
        try
        {
            var fragments = new List<ReadOnlySequence<byte>>(count);
            reader = new SequenceReader<byte>(frames);
            var filled = 0;
            for (var i = 0; i < count; i++)
            {
                reader.TryCopyTo(header);
                var (length, type, flags) = ParseFrameHeader(header);
                var (start, fragmentLength) = Fragment(reader.UnreadSequence, length, type, flags);
                var fragment = reader.UnreadSequence.Slice(start, fragmentLength);
                fragment.CopyTo(copy.AsSpan(filled));
                fragments.Add(fragment);
                filled += fragmentLength;
                reader.Advance(FrameHeaderLength + length);
            }

            var rewritten = UrlAuthority.RewriteHeaderBlock(copy.AsSpan(0, filled));
            if (rewritten > 0)
            {
                Rewritten += rewritten;
                var from = 0;
                foreach (var fragment in fragments)
                {
                    foreach (var segment in fragment)
                    {
                        copy.AsSpan(from, segment.Length).CopyTo(MemoryMarshal.AsMemory(segment).Span);
                        from += segment.Length;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }

        return blockLength;
    }

    /// <summary>Where the header block fragment of the HEADERS or CONTINUATION frame at the start of <paramref name="frame"/>
    /// lies, as an offset into it (RFC 9113 §6.2, §6.10): after the pad length and priority fields, before the padding.
    /// A negative length: the padding does not fit.</summary>
    private static (long Start, int Length) Fragment(ReadOnlySequence<byte> frame, int length, byte type, byte flags)
    {
        long start = FrameHeaderLength;
        if (type != HeadersFrame)
        {
            return (start, length);
        }

        var padding = 0;
        if ((flags & PaddedFlag) != 0)
        {
            if (length < 1)
            {
                return (start, -1);
            }

            padding = frame.Slice(start, 1).FirstSpan[0];
            start++;
            length -= 1;
        }

        if ((flags & PriorityFlag) != 0)
        {
            start += 5;
            length -= 5;
        }

        length -= padding;
        return (start, length < 0 ? -1 : length);
    }

    private static (int Length, byte Type, byte Flags) ParseFrameHeader(ReadOnlySpan<byte> header) =>
        ((header[0] << 16) | (header[1] << 8) | header[2], header[3], header[4]);

    private sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
