using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Google.Protobuf;
using KvCluster.Actors.Remote.Protocol;
using KvCluster.Actors.Remote.Serialization;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>The read loop: frames, envelopes, heartbeats and injected receive faults.</summary>
internal sealed partial class InboundConnection
{
    private async Task ReadLoopAsync(CancellationToken ct)
    {
        var input = _context.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                Touch();
            }

            var ok = true;
            while (ok)
            {
                var status = FrameCodec.TryReadFrame(ref buffer, _settings.MaxFrameSize, out var kind, out var body, out var declared);
                if (status == FrameReadStatus.Incomplete)
                {
                    break;
                }

                ok = status switch
                {
                    FrameReadStatus.Oversized => Reject(ref _transport.Counters._oversizedFrames, $"a frame claims {declared} bytes, more than MaxFrameSize ({_settings.MaxFrameSize})"),
                    FrameReadStatus.Malformed => Reject(ref _transport.Counters._malformedFrames, $"malformed frame header (length {declared}, kind {(byte)kind})"),
                    _ => await ProcessFrameAsync(kind, body, ct).ConfigureAwait(false),
                };
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (!ok)
            {
                return;
            }

            if (result.IsCompleted)
            {
                _closeReason ??= $"{_peer} closed the connection";
                return;
            }
        }
    }

    private ValueTask<bool> ProcessFrameAsync(FrameKind kind, ReadOnlySequence<byte> body, CancellationToken ct)
    {
        switch (kind)
        {
            case FrameKind.Envelope:
                return new ValueTask<bool>(ProcessEnvelope(body));
            case FrameKind.Heartbeat:
                return ProcessHeartbeatAsync(body, ct);
            default:
                return new ValueTask<bool>(Reject(ref _transport.Counters._malformedFrames, $"unexpected {kind} frame after the handshake"));
        }
    }

    private async ValueTask<bool> ProcessHeartbeatAsync(ReadOnlySequence<byte> body, CancellationToken ct)
    {
        Heartbeat heartbeat;
        try
        {
            heartbeat = Heartbeat.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return Reject(ref _transport.Counters._malformedFrames, $"unreadable Heartbeat: {ex.Message}");
        }

        if (_transport.FailureInjector.ShouldDrop(_peer, send: false))
        {
            Interlocked.Increment(ref _transport.Counters._injectedDrops);
            return true;
        }

        if (UseDelayQueue())
        {
            await EnqueueDelayedAsync(null, heartbeat.Sequence, ct).ConfigureAwait(false);
            return true;
        }

        await AckHeartbeatAsync(heartbeat.Sequence, ct).ConfigureAwait(false);
        return true;
    }

    private ValueTask AckHeartbeatAsync(long sequence, CancellationToken ct)
    {
        if (_transport.FailureInjector.ShouldDrop(_peer, send: true))
        {
            Interlocked.Increment(ref _transport.Counters._injectedDrops);
            return ValueTask.CompletedTask;
        }

        return WriteControlAsync(FrameKind.HeartbeatAck, new HeartbeatAck { Sequence = sequence }, ct);
    }

    private bool ProcessEnvelope(ReadOnlySequence<byte> body)
    {
        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> span;
            if (body.IsSingleSegment)
            {
                span = body.FirstSpan;
            }
            else
            {
                rented = ArrayPool<byte>.Shared.Rent((int)body.Length);
                body.CopyTo(rented);
                span = rented.AsSpan(0, (int)body.Length);
            }

            return ProcessEnvelope(span);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private bool ProcessEnvelope(ReadOnlySpan<byte> body)
    {
        if (!EnvelopeCodec.TryParse(body, out var recipientBytes, out var senderBytes, out var typeId, out var payload))
        {
            return Reject(ref _transport.Counters._malformedFrames, "malformed envelope (bad protobuf fields or no recipient)");
        }

        string recipient;
        string sender;
        try
        {
            recipient = _recipientCache.Decode(recipientBytes);
            sender = _senderCache.Decode(senderBytes);
        }
        catch (DecoderFallbackException)
        {
            return Reject(ref _transport.Counters._malformedFrames, "an envelope path is not valid UTF-8");
        }

        if (_transport.FailureInjector.ShouldDrop(_peer, send: false))
        {
            Interlocked.Increment(ref _transport.Counters._injectedDrops);
            return true;
        }

        IMessage message;
        try
        {
            message = _transport.Registry.Deserialize(typeId, payload);
        }
        catch (UnknownMessageTypeException ex)
        {
            Interlocked.Increment(ref _transport.Counters._unknownTypeIds);
            _logger.LogWarning("Remoting {Local}: dropped a message from {Peer} to {Recipient}: {Problem}", _transport.LocalAddress, _peer, recipient, ex.Message);
            return true;
        }
        catch (InvalidProtocolBufferException ex)
        {
            Interlocked.Increment(ref _transport.Counters._malformedPayloads);
            _logger.LogWarning("Remoting {Local}: dropped a message from {Peer} to {Recipient}: its payload is not a valid message of type id {TypeId}: {Problem}", _transport.LocalAddress, _peer, recipient, typeId, ex.Message);
            return true;
        }

        var inbound = new InboundMessage(_peer, _peerUid, recipient, sender, typeId, message);
        if (UseDelayQueue())
        {
            // This path is synchronous; when 64K delayed messages already wait, the frame is
            // dropped and counted as an injected fault rather than buffered without bound.
            if (!_delayed!.Writer.TryWrite((DueTime(), inbound, 0)))
            {
                Interlocked.Increment(ref _transport.Counters._injectedDrops);
            }
            else
            {
                Interlocked.Increment(ref _delayedPending);
            }

            return true;
        }

        Deliver(inbound);
        return true;
    }

    private void Deliver(InboundMessage inbound)
    {
        Interlocked.Increment(ref _transport.Counters._envelopesReceived);
        try
        {
            _transport.Listener.OnMessage(inbound);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Remoting {Local}: the listener threw on a message from {Peer} to {Recipient}", _transport.LocalAddress, _peer, inbound.Recipient);
        }
    }

    /// <summary>True when this frame must go through the delay queue: a receive delay is
    /// injected, or earlier frames still wait there (order is kept after healing).</summary>
    private bool UseDelayQueue()
    {
        if (_transport.FailureInjector.GetDelay(_peer, send: false) <= TimeSpan.Zero && Volatile.Read(ref _delayedPending) == 0)
        {
            return false;
        }

        if (_delayed is null)
        {
            _delayed = Channel.CreateBounded<(long, InboundMessage?, long)>(new BoundedChannelOptions(65_536) { SingleReader = true, SingleWriter = true });
            _ = Task.Run(DelayLoopAsync);
        }

        return true;
    }

    private long DueTime() => Stopwatch.GetTimestamp() + (long)(_transport.FailureInjector.GetDelay(_peer, send: false).TotalSeconds * Stopwatch.Frequency);

    private async ValueTask EnqueueDelayedAsync(InboundMessage? message, long heartbeatSequence, CancellationToken ct)
    {
        await _delayed!.Writer.WriteAsync((DueTime(), message, heartbeatSequence), ct).ConfigureAwait(false);
        Interlocked.Increment(ref _delayedPending);
    }

    private async Task DelayLoopAsync()
    {
        var reader = _delayed!.Reader;
        var ct = _transport.ShutdownToken;
        try
        {
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), item.Due);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, ct).ConfigureAwait(false);
                    }

                    if (item.Message is { } message)
                    {
                        Deliver(message);
                    }
                    else
                    {
                        await AckHeartbeatAsync(item.HeartbeatSequence, ct).ConfigureAwait(false);
                    }

                    Interlocked.Decrement(ref _delayedPending);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The connection or the transport closed; undelivered delayed frames are lost, as in flight.
        }
    }
}
