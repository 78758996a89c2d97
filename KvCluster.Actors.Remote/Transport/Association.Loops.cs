using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using Google.Protobuf;
using KvCluster.Actors.Remote.Protocol;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>The handshake, writer, reader and timer loops of an association.</summary>
internal sealed partial class Association
{
    /// <summary>Steps 2–3 of the life cycle; returns the accepted answer, or null.</summary>
    private async Task<HandshakeAck?> HandshakeAsync(PipeWriter output, PipeReader input, CancellationToken ct)
    {
        var local = _transport.LocalAddress;
        var hello = new Handshake
        {
            ProtocolVersion = RemoteSettings.ProtocolVersion,
            ClusterName = _settings.ClusterName,
            SystemName = local.System,
            Host = local.Host,
            Port = local.Port,
            Uid = _transport.Uid,
            ExpectedSystemName = Peer.System,
        };
        if (_transport.FailureInjector.ShouldDrop(Peer, send: true))
        {
            Interlocked.Increment(ref _transport.Counters._injectedDrops);
        }
        else
        {
            FrameCodec.WriteControl(output, FrameKind.Handshake, hello);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_settings.HandshakeTimeout);
        try
        {
            await output.FlushAsync(timeout.Token).ConfigureAwait(false);
            while (true)
            {
                var result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var status = FrameCodec.TryReadFrame(ref buffer, _settings.MaxFrameSize, out var kind, out var body, out var declared);
                if (status == FrameReadStatus.Incomplete)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        return Fail($"{Peer} closed the connection during the handshake");
                    }

                    continue;
                }

                if (status != FrameReadStatus.Frame || kind != FrameKind.HandshakeAck)
                {
                    input.AdvanceTo(buffer.Start);
                    Interlocked.Increment(ref _transport.Counters._malformedFrames);
                    return Fail($"{Peer} answered the handshake with a {status} frame of kind {kind} ({declared} bytes) instead of a HandshakeAck");
                }

                HandshakeAck ack;
                try
                {
                    ack = HandshakeAck.Parser.ParseFrom(body);
                }
                catch (InvalidProtocolBufferException ex)
                {
                    Interlocked.Increment(ref _transport.Counters._malformedFrames);
                    return Fail($"{Peer} sent an unreadable HandshakeAck: {ex.Message}");
                }
                finally
                {
                    input.AdvanceTo(buffer.Start);
                }

                if (_transport.FailureInjector.ShouldDrop(Peer, send: false))
                {
                    Interlocked.Increment(ref _transport.Counters._injectedDrops);
                    continue;
                }

                return Validate(ack);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Interlocked.Increment(ref _transport.Counters._handshakeTimeouts);
            return Fail($"no HandshakeAck from {Peer} within {_settings.HandshakeTimeout}");
        }
    }

    private HandshakeAck? Validate(HandshakeAck ack)
    {
        var remote = $"{RemoteAddress.Scheme}://{ack.SystemName}@{ack.Host}:{ack.Port} (uid {ack.Uid}, cluster '{ack.ClusterName}', protocol {ack.ProtocolVersion})";
        string? problem = null;
        if (!ack.Accepted)
        {
            problem = $"it refused us: {ack.Reason}";
        }
        else if (ack.ProtocolVersion != RemoteSettings.ProtocolVersion)
        {
            problem = $"it speaks protocol {ack.ProtocolVersion}, we speak {RemoteSettings.ProtocolVersion}";
        }
        else if (!string.Equals(ack.ClusterName, _settings.ClusterName, StringComparison.Ordinal))
        {
            problem = $"it belongs to cluster '{ack.ClusterName}', we belong to '{_settings.ClusterName}'";
        }
        else if (!string.Equals(ack.SystemName, Peer.System, StringComparison.Ordinal))
        {
            problem = $"it is system '{ack.SystemName}', we expected '{Peer.System}'";
        }

        if (problem is null)
        {
            return ack;
        }

        Interlocked.Increment(ref _transport.Counters._handshakesRejected);
        _logger.LogWarning("Remoting {Local} (uid {Uid}, cluster '{Cluster}'): handshake with {Peer} = {Remote} failed: {Problem}", _transport.LocalAddress, _transport.Uid, _settings.ClusterName, Peer, remote, problem);
        return null;
    }

    private HandshakeAck? Fail(string reason)
    {
        Interlocked.Increment(ref _transport.Counters._connectFailures);
        _logger.LogWarning("Remoting {Local}: handshake with {Peer} failed: {Reason}", _transport.LocalAddress, Peer, reason);
        return null;
    }

    /// <summary>Drains the queue, many envelopes per flush, until the connection fails.</summary>
    private async Task WriterLoopAsync(PipeWriter output, Connection connection)
    {
        var ct = connection.Token;
        var reader = _queue.Reader;
        var injector = _transport.FailureInjector;
        var counters = _transport.Counters;
        var flushTimeout = new CancellationTokenSource();
        using var flushLinked = CancellationTokenSource.CreateLinkedTokenSource(ct, flushTimeout.Token);
        try
        {
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                var buffered = 0;
                var sent = 0;
                while (buffered < _settings.MaxBatchBytes && reader.TryRead(out var item))
                {
                    if (item.Message is null)
                    {
                        continue;
                    }

                    var delay = injector.GetDelay(Peer, send: true);
                    if (delay > TimeSpan.Zero)
                    {
                        var wait = delay - Stopwatch.GetElapsedTime(item.EnqueuedAt);
                        if (wait > TimeSpan.Zero)
                        {
                            if (buffered > 0)
                            {
                                await FlushAsync(output, flushTimeout, flushLinked.Token, connection).ConfigureAwait(false);
                                buffered = 0;
                            }

                            await Task.Delay(wait, ct).ConfigureAwait(false);
                        }
                    }

                    if (injector.ShouldDrop(Peer, send: true))
                    {
                        Interlocked.Increment(ref counters._injectedDrops);
                        continue;
                    }

                    EnvelopeCodec.Write(output, item.FrameSize, item.Sizes, item.Recipient, item.Sender, item.TypeId, item.Message);
                    buffered += item.FrameSize;
                    sent++;
                }

                if (Interlocked.Exchange(ref _heartbeatDue, 0) == 1)
                {
                    if (injector.ShouldDrop(Peer, send: true))
                    {
                        Interlocked.Increment(ref counters._injectedDrops);
                    }
                    else
                    {
                        FrameCodec.WriteControl(output, FrameKind.Heartbeat, new Heartbeat { Sequence = Interlocked.Increment(ref _heartbeatSequence) });
                        buffered++;
                    }
                }

                if (buffered > 0)
                {
                    await FlushAsync(output, flushTimeout, flushLinked.Token, connection).ConfigureAwait(false);
                    Interlocked.Add(ref counters._envelopesSent, sent);
                }
            }

            // The queue was completed and everything in it is flushed (a graceful stop).
            _drained.TrySetResult();
        }
        finally
        {
            flushTimeout.Dispose();
        }
    }

    private async ValueTask FlushAsync(PipeWriter output, CancellationTokenSource flushTimeout, CancellationToken token, Connection connection)
    {
        flushTimeout.CancelAfter(_settings.WriteTimeout);
        try
        {
            var result = await output.FlushAsync(token).ConfigureAwait(false);
            if (result.IsCompleted || result.IsCanceled)
            {
                throw new IOException($"the connection to {Peer} is closed");
            }
        }
        catch (Exception ex) when (flushTimeout.IsCancellationRequested && !connection.Token.IsCancellationRequested && ex is OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref _transport.Counters._writeTimeouts);
            _logger.LogWarning("Remoting {Local}: {Peer} did not take our data within {Timeout} (it stopped reading); closing the connection", _transport.LocalAddress, Peer, _settings.WriteTimeout);
            connection.Abort($"write timeout after {_settings.WriteTimeout}");
            throw;
        }

        flushTimeout.CancelAfter(Timeout.InfiniteTimeSpan);
        Interlocked.Increment(ref _transport.Counters._batchesFlushed);
    }

    /// <summary>Reads heartbeat acknowledgements until the connection fails.</summary>
    private async Task ReaderLoopAsync(PipeReader input, Connection connection)
    {
        var ct = connection.Token;
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            while (true)
            {
                var status = FrameCodec.TryReadFrame(ref buffer, _settings.MaxFrameSize, out var kind, out _, out var declared);
                if (status == FrameReadStatus.Incomplete)
                {
                    break;
                }

                if (status != FrameReadStatus.Frame || kind != FrameKind.HeartbeatAck)
                {
                    ref var counter = ref status == FrameReadStatus.Oversized ? ref _transport.Counters._oversizedFrames : ref _transport.Counters._malformedFrames;
                    Interlocked.Increment(ref counter);
                    _logger.LogWarning("Remoting {Local}: {Peer} sent a {Status} frame (kind {Kind}, {Declared} bytes) on our outbound connection; closing it", _transport.LocalAddress, Peer, status, kind, declared);
                    connection.Abort($"bad frame from {Peer}");
                    return;
                }

                if (_transport.FailureInjector.ShouldDrop(Peer, send: false))
                {
                    Interlocked.Increment(ref _transport.Counters._injectedDrops);
                    continue;
                }

                var delay = _transport.FailureInjector.GetDelay(Peer, send: false);
                if (delay > TimeSpan.Zero)
                {
                    _ = Task.Delay(delay, ct).ContinueWith(_ => OnHeartbeatAck(connection), TaskScheduler.Default);
                }
                else
                {
                    OnHeartbeatAck(connection);
                }
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                connection.Abort($"{Peer} closed the connection");
                return;
            }
        }
    }

    private void OnHeartbeatAck(Connection connection)
    {
        connection.Touch();
        lock (_detectorLock)
        {
            _detector.Heartbeat(Environment.TickCount64);
        }
    }

    /// <summary>Every heartbeat interval: ask the writer for a heartbeat, close an idle
    /// connection, and evaluate the failure detector (also while disconnected).</summary>
    private async Task TimerLoopAsync()
    {
        using var timer = new PeriodicTimer(_settings.HeartbeatInterval);
        var ct = _stop.Token;
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var connection = _connection;
                if (connection is not null)
                {
                    if (connection.SinceLastReceived > _settings.IdleTimeout)
                    {
                        Interlocked.Increment(ref _transport.Counters._idleTimeouts);
                        _logger.LogWarning("Remoting {Local}: nothing from {Peer} for {Idle} (half-open?); closing the connection", _transport.LocalAddress, Peer, _settings.IdleTimeout);
                        connection.Abort($"idle for {_settings.IdleTimeout}");
                    }
                    else
                    {
                        Volatile.Write(ref _heartbeatDue, 1);
                        _queue.Writer.TryWrite(OutboundItem.WakeUp);
                    }
                }

                CheckFailureDetector();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void CheckFailureDetector()
    {
        ulong unreachableUid = 0;
        double phi;
        lock (_detectorLock)
        {
            if (_detectorReset)
            {
                _detectorReset = false;
                _detector = NewDetector();
            }

            phi = _detector.Phi(Environment.TickCount64);
            if (_detector.IsMonitoring && !_detector.IsAvailable(Environment.TickCount64) && _peerUid != 0 && _terminatedUid != _peerUid)
            {
                _terminatedUid = _peerUid;
                unreachableUid = _peerUid;
            }
        }

        if (unreachableUid != 0)
        {
            _logger.LogWarning("Remoting {Local}: {Peer} uid {Uid} is unreachable (phi {Phi:F1} > {Threshold}); its actors are considered terminated", _transport.LocalAddress, Peer, unreachableUid, phi, _settings.FailureDetectorThreshold);
            _transport.Notify(l => l.OnAddressTerminated(Peer, unreachableUid));
        }
    }
}
