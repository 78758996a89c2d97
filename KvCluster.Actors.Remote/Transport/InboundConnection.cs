using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using System.Threading.Channels;
using Google.Protobuf;
using KvCluster.Actors.Remote.Protocol;
using KvCluster.Actors.Remote.Serialization;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// One accepted TCP connection: reads the dialer's handshake, answers it, then reads envelopes
/// and heartbeats until the connection ends or misbehaves.
/// </summary>
/// <remarks>
/// Scenarios:
/// 1. First frame within HandshakeTimeout must be a Handshake; garbage, another kind, an
///    oversized length or silence closes the connection (counted as malformed / oversized /
///    handshake timeout).
/// 2. Protocol version, cluster name and expected system name are checked; a mismatch is
///    answered with a refusing HandshakeAck and a log line naming both sides, then closed.
/// 3. Accepted: the dialer's incarnation is recorded; each Heartbeat is answered with a
///    HeartbeatAck; each Envelope is decoded and handed to the listener in arrival order.
/// 4. An envelope with an unknown type id or an unparsable payload is dropped and counted; the
///    connection stays (the framing is intact). A malformed envelope or frame closes it.
/// 5. Nothing received for IdleTimeout (half-open peer): closed and counted.
/// </remarks>
internal sealed partial class InboundConnection
{
    private readonly RemoteTransport _transport;
    private readonly ConnectionContext _context;
    private readonly RemoteSettings _settings;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private long _lastReceived = Stopwatch.GetTimestamp();
    private RemoteAddress _peer;
    private ulong _peerUid;
    private string? _closeReason;
    private Channel<(long Due, InboundMessage? Message, long HeartbeatSequence)>? _delayed;
    private int _delayedPending;
    private PathCache _recipientCache;
    private PathCache _senderCache;

    public InboundConnection(RemoteTransport transport, ConnectionContext context)
    {
        _transport = transport;
        _context = context;
        _settings = transport.Settings;
        _logger = transport.Logger;
    }

    private string Remote => _peerUid == 0 ? $"{_context.RemoteEndPoint} (before handshake)" : $"{_peer} ({_context.RemoteEndPoint})";

    public void Abort(string reason)
    {
        _closeReason ??= reason;
        _context.Abort(new ConnectionAbortedException(reason));
    }

    public async Task RunAsync()
    {
        Interlocked.Increment(ref _transport.Counters._connectionsAccepted);
        _transport.Register(this);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_transport.ShutdownToken, _context.ConnectionClosed);
        var watchdog = Task.CompletedTask;
        try
        {
            if (!await HandshakeAsync(cts.Token).ConfigureAwait(false))
            {
                return;
            }

            watchdog = WatchdogAsync(cts.Token);
            await ReadLoopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Closed by the watchdog, the peer or shutdown.
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException)
        {
            _closeReason ??= ex.Message;
        }
        finally
        {
            await cts.CancelAsync().ConfigureAwait(false);
            try
            {
                await watchdog.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            _delayed?.Writer.TryComplete();
            _transport.Unregister(this);
            _logger.LogDebug("Remoting {Local}: inbound connection from {Remote} closed: {Reason}", _transport.LocalAddress, Remote, _closeReason ?? "the peer closed it");
        }
    }

    private void Touch() => Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());

    private bool Reject(ref long counter, string problem)
    {
        Interlocked.Increment(ref counter);
        _logger.LogWarning("Remoting {Local}: closing inbound connection from {Remote}: {Problem}", _transport.LocalAddress, Remote, problem);
        Abort(problem);
        return false;
    }

    private async Task<bool> HandshakeAsync(CancellationToken ct)
    {
        var input = _context.Transport.Input;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_settings.HandshakeTimeout);
        Handshake hello;
        try
        {
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
                        _closeReason = "closed before its handshake";
                        return false;
                    }

                    continue;
                }

                if (status == FrameReadStatus.Oversized)
                {
                    input.AdvanceTo(buffer.Start);
                    return Reject(ref _transport.Counters._oversizedFrames, $"first frame claims {declared} bytes, more than MaxFrameSize ({_settings.MaxFrameSize})");
                }

                if (status == FrameReadStatus.Malformed || kind != FrameKind.Handshake)
                {
                    input.AdvanceTo(buffer.Start);
                    return Reject(ref _transport.Counters._malformedFrames, $"expected a Handshake frame, got a {status} frame of kind {(byte)kind} ({declared} bytes)");
                }

                try
                {
                    hello = Handshake.Parser.ParseFrom(body);
                }
                catch (InvalidProtocolBufferException ex)
                {
                    return Reject(ref _transport.Counters._malformedFrames, $"unreadable Handshake: {ex.Message}");
                }
                finally
                {
                    input.AdvanceTo(buffer.Start);
                }

                var claimed = new RemoteAddress(hello.SystemName, hello.Host, hello.Port);
                if (_transport.FailureInjector.ShouldDrop(claimed, send: false))
                {
                    Interlocked.Increment(ref _transport.Counters._injectedDrops);
                    continue;
                }

                break;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Reject(ref _transport.Counters._handshakeTimeouts, $"no handshake within {_settings.HandshakeTimeout}");
        }

        return await AnswerHandshakeAsync(hello, ct).ConfigureAwait(false);
    }

    private async Task<bool> AnswerHandshakeAsync(Handshake hello, CancellationToken ct)
    {
        var local = _transport.LocalAddress;
        string? problem = null;
        if (hello.ProtocolVersion != RemoteSettings.ProtocolVersion)
        {
            problem = $"protocol version {hello.ProtocolVersion} is not ours ({RemoteSettings.ProtocolVersion})";
        }
        else if (!string.Equals(hello.ClusterName, _settings.ClusterName, StringComparison.Ordinal))
        {
            problem = $"cluster '{hello.ClusterName}' is not ours ('{_settings.ClusterName}')";
        }
        else if (!string.Equals(hello.ExpectedSystemName, local.System, StringComparison.Ordinal))
        {
            problem = $"it expected system '{hello.ExpectedSystemName}' but this is '{local.System}'";
        }
        else if (hello.Uid == 0 || string.IsNullOrEmpty(hello.SystemName) || hello.Port is < 1 or > 65535 || string.IsNullOrEmpty(hello.Host))
        {
            problem = "its own address or uid is missing";
        }

        var ack = new HandshakeAck
        {
            Accepted = problem is null,
            Reason = problem ?? string.Empty,
            SystemName = local.System,
            Host = local.Host,
            Port = local.Port,
            Uid = _transport.Uid,
            ProtocolVersion = RemoteSettings.ProtocolVersion,
            ClusterName = _settings.ClusterName,
        };
        var peer = new RemoteAddress(hello.SystemName, hello.Host, hello.Port);
        if (problem is not null)
        {
            Interlocked.Increment(ref _transport.Counters._handshakesRejected);
            _logger.LogWarning(
                "Remoting {Local} (uid {Uid}, cluster '{Cluster}', protocol {Version}): refused handshake from {Peer} (uid {PeerUid}, cluster '{PeerCluster}', protocol {PeerVersion}) at {Endpoint}: {Problem}",
                local, _transport.Uid, _settings.ClusterName, RemoteSettings.ProtocolVersion, peer, hello.Uid, hello.ClusterName, hello.ProtocolVersion, _context.RemoteEndPoint, problem);
            await WriteControlAsync(FrameKind.HandshakeAck, ack, ct).ConfigureAwait(false);

            // Returning closes the connection gracefully, after the refusal reaches the dialer.
            _closeReason = $"handshake refused: {problem}";
            return false;
        }

        _peer = peer;
        _peerUid = hello.Uid;
        _transport.ObserveIncarnation(peer, hello.Uid);
        if (_transport.FailureInjector.ShouldDrop(peer, send: true))
        {
            Interlocked.Increment(ref _transport.Counters._injectedDrops);
        }
        else
        {
            await WriteControlAsync(FrameKind.HandshakeAck, ack, ct).ConfigureAwait(false);
        }

        Touch();
        _logger.LogDebug("Remoting {Local}: accepted {Peer} uid {Uid} from {Endpoint}", local, peer, hello.Uid, _context.RemoteEndPoint);
        return true;
    }

    private async ValueTask WriteControlAsync(FrameKind kind, IMessage message, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_settings.WriteTimeout);
        await _writeLock.WaitAsync(timeout.Token).ConfigureAwait(false);
        try
        {
            FrameCodec.WriteControl(_context.Transport.Output, kind, message);
            await _context.Transport.Output.FlushAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Interlocked.Increment(ref _transport.Counters._writeTimeouts);
            Abort($"{Remote} did not read our {kind} within {_settings.WriteTimeout}");
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task WatchdogAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_settings.HeartbeatInterval);
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived)) > _settings.IdleTimeout)
            {
                Reject(ref _transport.Counters._idleTimeouts, $"nothing received for {_settings.IdleTimeout} (half-open or stalled peer)");
                return;
            }
        }
    }
}
