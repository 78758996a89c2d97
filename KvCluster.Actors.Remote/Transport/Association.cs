using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using KvCluster.Actors.Remote.Protocol;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// The outbound side of the link to one remote address: a bounded queue, one TCP connection at a
/// time, a single writer loop that coalesces envelopes into few flushes, and a timer loop for
/// heartbeats, the idle check and the φ-accrual failure detector.
/// </summary>
/// <remarks>
/// Connection life cycle (each step failing leads to 6):
/// 1. Connect a socket (bounded by HandshakeTimeout).
/// 2. Send Handshake (own address, uid, protocol version, cluster name, expected peer name).
/// 3. Read HandshakeAck within HandshakeTimeout; refused or mismatched → log naming both sides.
/// 4. Record the peer's uid (a new uid means the peer restarted).
/// 5. Serve: writer loop drains the queue; reader loop reads HeartbeatAcks; the timer sends
///    heartbeats and closes the connection when nothing arrived for IdleTimeout.
/// 6. Close the socket, wait the backoff (doubling from ReconnectBackoffMin up to
///    ReconnectBackoffMax, reset after a successful handshake) and go to 1.
/// </remarks>
internal sealed partial class Association : IAsyncDisposable
{
    private readonly RemoteTransport _transport;
    private readonly RemoteSettings _settings;
    private readonly ILogger _logger;
    private readonly Channel<OutboundItem> _queue;
    private readonly CancellationTokenSource _stop;
    private PhiAccrualFailureDetector _detector;
    private readonly object _detectorLock = new();
    private Task _run = Task.CompletedTask;
    private Task _timer = Task.CompletedTask;
    private volatile Connection? _connection;
    private int _heartbeatDue;
    private long _heartbeatSequence;
    private ulong _peerUid;
    private ulong _terminatedUid;

    public Association(RemoteTransport transport, RemoteAddress peer)
    {
        _transport = transport;
        _settings = transport.Settings;
        _logger = transport.Logger;
        Peer = peer;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(transport.ShutdownToken);
        _queue = Channel.CreateBounded<OutboundItem>(new BoundedChannelOptions(_settings.OutboundQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
        _detector = NewDetector();
    }

    /// <summary>The remote address this association sends to.</summary>
    public RemoteAddress Peer { get; }

    /// <summary>True while a handshaken connection is open.</summary>
    public bool IsConnected => _connection is not null;

    public void Start()
    {
        _run = Task.Run(RunAsync);
        _timer = Task.Run(TimerLoopAsync);
    }

    /// <summary>Queues an item; a full queue sends it to dead letters (never blocks, never grows).</summary>
    public SendStatus Enqueue(in OutboundItem item)
    {
        if (_queue.Writer.TryWrite(item))
        {
            return SendStatus.Enqueued;
        }

        if (_stop.IsCancellationRequested || _closing)
        {
            _transport.DeadLetter(Peer, item.Recipient, item.Sender, item.Message!, "the remote transport is stopped");
            return SendStatus.Stopped;
        }

        Interlocked.Increment(ref _transport.Counters._queueOverflows);
        _transport.DeadLetter(Peer, item.Recipient, item.Sender, item.Message!, $"the outbound queue to {Peer} is full ({_settings.OutboundQueueCapacity} messages)");
        return SendStatus.QueueFull;
    }

    /// <summary>Stops accepting messages and waits (bounded) until the writer flushed the rest.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        _closing = true;
        _queue.Writer.TryComplete();
        if (!IsConnected && _queue.Reader.Count == 0)
        {
            return;
        }

        await Task.WhenAny(_drained.Task, Task.Delay(timeout)).ConfigureAwait(false);
    }

    /// <summary>The peer restarted: forget the old incarnation's heartbeat history.</summary>
    public void OnNewIncarnation(ulong uid)
    {
        lock (_detectorLock)
        {
            _peerUid = uid;
            _detectorReset = true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _queue.Writer.TryComplete();
        _connection?.Abort();
        try
        {
            await Task.WhenAll(_run, _timer).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        while (_queue.Reader.TryRead(out var item))
        {
            if (item.Message is not null)
            {
                _transport.DeadLetter(Peer, item.Recipient, item.Sender, item.Message, "the remote transport stopped before it was sent");
            }
        }

        _stop.Dispose();
    }

    private bool _detectorReset;
    private volatile bool _closing;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private PhiAccrualFailureDetector NewDetector() => new(
        _settings.FailureDetectorThreshold,
        _settings.FailureDetectorMinStdDeviation.TotalMilliseconds,
        _settings.AcceptableHeartbeatPause.TotalMilliseconds,
        _settings.HeartbeatInterval.TotalMilliseconds);

    private async Task RunAsync()
    {
        var ct = _stop.Token;
        var attempt = 0;
        while (!ct.IsCancellationRequested)
        {
            var handshaken = false;
            try
            {
                handshaken = await ConnectAndServeAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                _logger.LogWarning("Remoting {Local}: association to {Peer} failed: {Reason}", _transport.LocalAddress, Peer, ex.Message);
            }

            attempt = handshaken ? 0 : attempt + 1;
            var backoff = Backoff(attempt);
            try
            {
                await Task.Delay(backoff, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        var min = _settings.ReconnectBackoffMin.TotalMilliseconds;
        var ms = Math.Min(_settings.ReconnectBackoffMax.TotalMilliseconds, min * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>One connection's life; returns true when its handshake succeeded.</summary>
    private async Task<bool> ConnectAndServeAsync(CancellationToken ct)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (!await ConnectAsync(socket, ct).ConfigureAwait(false))
        {
            return false;
        }

        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var output = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
        var input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, leaveOpen: true));
        using var connectionCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var connection = new Connection(socket, connectionCts);
        try
        {
            var ack = await HandshakeAsync(output, input, ct).ConfigureAwait(false);
            if (ack is null)
            {
                return false;
            }

            Interlocked.Increment(ref _transport.Counters._connectionsDialed);
            _transport.ObserveIncarnation(Peer, ack.Uid);
            lock (_detectorLock)
            {
                _peerUid = ack.Uid;

                // The answer to our handshake is the first sign of life: the detector starts
                // monitoring now, so a peer that dies before its first heartbeat is still noticed.
                _detector.Heartbeat(Environment.TickCount64);
            }

            connection.Touch();
            _connection = connection;
            _logger.LogInformation("Remoting {Local}: associated with {Peer} uid {Uid}", _transport.LocalAddress, Peer, ack.Uid);
            _transport.Notify(l => l.OnAssociated(Peer, ack.Uid));
            var writer = WriterLoopAsync(output, connection);
            var reader = ReaderLoopAsync(input, connection);
            await Task.WhenAny(writer, reader).ConfigureAwait(false);
            connection.Abort();
            await Task.WhenAll(Quiet(writer), Quiet(reader)).ConfigureAwait(false);
            if (!ct.IsCancellationRequested)
            {
                _logger.LogInformation("Remoting {Local}: connection to {Peer} closed: {Reason}", _transport.LocalAddress, Peer, connection.CloseReason ?? "the peer closed it");
            }

            return true;
        }
        finally
        {
            _connection = null;
            connection.Abort();
            await output.CompleteAsync().ConfigureAwait(false);
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task<bool> ConnectAsync(Socket socket, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_settings.HandshakeTimeout);
        try
        {
            var endpoint = IPAddress.TryParse(Peer.Host, out var ip)
                ? new IPEndPoint(ip, Peer.Port)
                : (EndPoint)new DnsEndPoint(Peer.Host, Peer.Port);
            await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is SocketException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            Interlocked.Increment(ref _transport.Counters._connectFailures);
            _logger.LogDebug("Remoting {Local}: cannot connect to {Peer}: {Reason}", _transport.LocalAddress, Peer, ex.Message);
            return false;
        }
    }

    private static async Task Quiet(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The connection is being torn down; its close reason is already recorded.
        }
    }

    /// <summary>State of one open connection, shared by its loops.</summary>
    private sealed class Connection(Socket socket, CancellationTokenSource cts)
    {
        private long _lastReceived = Stopwatch.GetTimestamp();

        public CancellationToken Token => cts.Token;

        public string? CloseReason { get; private set; }

        public TimeSpan SinceLastReceived => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived));

        public void Touch() => Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());

        public void Abort(string? reason = null)
        {
            CloseReason ??= reason;
            try
            {
                cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception)
            {
                // Already closed or never connected.
            }

            socket.Close();
        }
    }
}
