using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Google.Protobuf;
using KvCluster.Actors.Remote.FailureInjection;
using KvCluster.Actors.Remote.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// The TCP transport of one actor system: accepts connections on a raw Kestrel endpoint (no HTTP
/// on this port), dials peers with sockets, and keeps one outbound association per remote address.
/// </summary>
/// <remarks>
/// <para>Each outbound association owns one TCP connection, a bounded queue and a single writer
/// loop that coalesces many envelopes per flush; messages to one address keep their order.
/// Connections are opened by a handshake and reopened with exponential backoff when lost.
/// Inbound connections deliver decoded messages to the <see cref="IRemoteTransportListener"/>.
/// Delivery is at most once, like Akka remoting: frames in flight when a connection drops are lost.</para>
/// <para>Bad input (garbage, oversized or malformed frames, silent or half-open peers, peers that
/// stop reading) closes only the offending connection, with a log line and a counter in
/// <see cref="Counters"/>; every other connection keeps serving.</para>
/// </remarks>
public sealed partial class RemoteTransport : IAsyncDisposable
{
    private readonly ConcurrentDictionary<RemoteAddress, Association> _associations = new();
    private readonly ConcurrentDictionary<InboundConnection, byte> _inbound = new();
    private const int MaxKnownPeers = 10_000;

    private readonly ConcurrentDictionary<RemoteAddress, ulong> _knownUids = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly object _associationLock = new();
    private WebApplication? _host;
    private int _disposed;

    private RemoteTransport(RemoteSettings settings, MessageSerializerRegistry registry, IRemoteTransportListener listener, ILoggerFactory loggerFactory, ulong uid)
    {
        Settings = settings;
        Registry = registry;
        Listener = listener;
        LoggerFactory = loggerFactory;
        Logger = loggerFactory.CreateLogger("KvCluster.Actors.Remote");
        Uid = uid;
        LocalAddress = new RemoteAddress(settings.SystemName, settings.Host, settings.Port);
    }

    /// <summary>The validated settings this transport runs with.</summary>
    public RemoteSettings Settings { get; }

    /// <summary>The serializer registry used for every payload.</summary>
    public MessageSerializerRegistry Registry { get; }

    /// <summary>This system's address, with the port actually bound (when 0 was asked for).</summary>
    public RemoteAddress LocalAddress { get; private set; }

    /// <summary>This system's incarnation uid, sent in every handshake.</summary>
    public ulong Uid { get; }

    /// <summary>The fault layer under every association of this transport.</summary>
    public FailureInjector FailureInjector { get; } = new();

    /// <summary>Counters of traffic and of every kind of bad input.</summary>
    public RemoteCounters Counters { get; } = new();

    internal IRemoteTransportListener Listener { get; }

    internal ILoggerFactory LoggerFactory { get; }

    internal ILogger Logger { get; }

    internal CancellationToken ShutdownToken => _shutdown.Token;

    /// <summary>
    /// Validates <paramref name="settings"/>, binds the listening port and returns the running
    /// transport. Outbound associations are created lazily by <see cref="Send"/>.
    /// </summary>
    /// <param name="settings">Remoting settings; validated here.</param>
    /// <param name="registry">Registry of every message type that may cross the network.</param>
    /// <param name="listener">Receives inbound messages, dead letters and association events.</param>
    /// <param name="loggerFactory">Where log lines go; none when null.</param>
    /// <param name="uid">The incarnation uid (normally the actor system's uid); random when 0.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    /// <exception cref="IOException">The port could not be bound.</exception>
    public static async Task<RemoteTransport> StartAsync(
        RemoteSettings settings,
        MessageSerializerRegistry registry,
        IRemoteTransportListener listener,
        ILoggerFactory? loggerFactory = null,
        ulong uid = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(listener);
        settings.Validate();
        var bindAddress = ResolveBindAddress(settings.BindHost ?? settings.Host);
        if (uid == 0)
        {
            uid = RandomUid();
        }

        var transport = new RemoteTransport(settings, registry, listener, loggerFactory ?? NullLoggerFactory.Instance, uid);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Services.AddSingleton(transport);
        // A whole frame must fit in the connection's input buffer before it is parsed, so the
        // socket transport's read-buffer pause threshold (1 MiB by default) must exceed MaxFrameSize.
        var readBuffer = Math.Max(1024L * 1024, settings.MaxFrameSize + (64L * 1024));
        builder.WebHost.UseSockets(sockets => sockets.MaxReadBufferSize = readBuffer);
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.Limits.MaxRequestBufferSize = readBuffer;
            options.Listen(bindAddress, settings.Port, listen => listen.UseConnectionHandler<InboundConnectionHandler>());
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        transport._host = host;
        var bound = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        var port = bound is null ? settings.Port : new Uri(bound).Port;
        transport.LocalAddress = transport.LocalAddress with { Port = port };
        transport.Logger.LogInformation("Remoting started: {Address} uid {Uid} listening on {Bound}", transport.LocalAddress, uid, bound);
        return transport;
    }

    /// <summary>
    /// Queues <paramref name="message"/> for the actor at <paramref name="recipientPath"/> on the
    /// system at <paramref name="to"/>. Never blocks; messages to one address are sent in call
    /// order. Anything but <see cref="SendStatus.Enqueued"/> means the message was handed to
    /// <see cref="IRemoteTransportListener.OnDeadLetter"/> and counted.
    /// </summary>
    /// <param name="to">The recipient system's address.</param>
    /// <param name="recipientPath">Full path of the recipient actor.</param>
    /// <param name="senderPath">Full path of the sender (so the peer can reply), or null.</param>
    /// <param name="message">A registered protobuf message; it must not be mutated afterwards.</param>
    public SendStatus Send(RemoteAddress to, string recipientPath, string? senderPath, IMessage message)
    {
        Association? association = null;
        return SendVia(ref association, to, recipientPath, senderPath, message);
    }

    /// <summary>
    /// <see cref="Send(RemoteAddress, string, string?, IMessage)"/> for callers that keep the
    /// association of <paramref name="to"/> (a remote ref sending many messages): it is looked up
    /// once and stored in <paramref name="association"/>.
    /// </summary>
    internal SendStatus SendVia(ref Association? association, RemoteAddress to, string recipientPath, string? senderPath, IMessage message)
    {
        ArgumentNullException.ThrowIfNull(recipientPath);
        ArgumentNullException.ThrowIfNull(message);
        if (Volatile.Read(ref _disposed) != 0)
        {
            DeadLetter(to, recipientPath, senderPath, message, "the remote transport is stopped");
            return SendStatus.Stopped;
        }

        if (!Registry.TryGetTypeId(message.GetType(), out var typeId))
        {
            DeadLetter(to, recipientPath, senderPath, message, UnknownMessageTypeException.ForType(message.GetType()).Message);
            return SendStatus.UnknownType;
        }

        var frameSize = EnvelopeCodec.MeasureFrame(recipientPath, senderPath, typeId, message, out var sizes);
        if (frameSize > Settings.MaxFrameSize)
        {
            DeadLetter(to, recipientPath, senderPath, message, $"its frame of {frameSize} bytes exceeds MaxFrameSize ({Settings.MaxFrameSize})");
            return SendStatus.TooLarge;
        }

        var item = new OutboundItem(recipientPath, senderPath, message, typeId, frameSize, sizes, System.Diagnostics.Stopwatch.GetTimestamp());
        association ??= GetOrCreateAssociation(to);
        return association.Enqueue(in item);
    }

    /// <summary>True while an outbound connection to <paramref name="peer"/> is open and handshaken.</summary>
    public bool IsConnected(RemoteAddress peer) => _associations.TryGetValue(peer, out var a) && a.IsConnected;

    /// <summary>The incarnation uid last seen for <paramref name="peer"/> in a handshake, or 0.</summary>
    public ulong GetKnownUid(RemoteAddress peer) => _knownUids.TryGetValue(peer, out var uid) ? uid : 0;

    /// <summary>
    /// Starts (or keeps) an outbound association to <paramref name="peer"/> without sending a
    /// message, so heartbeats flow and the failure detector watches it (used by remote death watch).
    /// </summary>
    public void EnsureAssociation(RemoteAddress peer) => GetOrCreateAssociation(peer);

    /// <summary>
    /// Stops the transport: closes the listening port and every connection abruptly (peers see
    /// the connection drop, as with a crashed process) and hands queued messages to dead letters.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _shutdown.Cancel();
        foreach (var connection in _inbound.Keys)
        {
            connection.Abort("the local remote transport is stopping");
        }

        await Task.WhenAll(_associations.Values.Select(a => a.DisposeAsync().AsTask())).ConfigureAwait(false);
        if (_host is not null)
        {
            using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _host.StopAsync(stopTimeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Logger.LogWarning("Remoting {Address}: the listener did not stop within 5 s; abandoning it", LocalAddress);
            }

            await _host.DisposeAsync().ConfigureAwait(false);
        }

        // _shutdown is left undisposed on purpose: late callbacks (a connection Kestrel accepted
        // while stopping, a delayed-delivery loop) may still read its token.
        Logger.LogInformation("Remoting stopped: {Address} ({Counters})", LocalAddress, Counters);
    }

    /// <summary>
    /// Stops gracefully: refuses new messages, gives every association up to
    /// <paramref name="drainTimeout"/> to flush what is queued, then disposes (see <see cref="DisposeAsync"/>).
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (drainTimeout > TimeSpan.Zero && Volatile.Read(ref _disposed) == 0)
        {
            await Task.WhenAll(_associations.Values.Select(a => a.DrainAsync(drainTimeout))).ConfigureAwait(false);
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    internal void DeadLetter(RemoteAddress to, string recipient, string? sender, IMessage message, string reason)
    {
        Interlocked.Increment(ref Counters._deadLetters);
        try
        {
            Listener.OnDeadLetter(new OutboundDeadLetter(to, recipient, sender, message, reason));
        }
        catch (Exception ex)
        {
            Logger.LogError(ex, "Remoting {Address}: the dead-letter listener threw", LocalAddress);
        }
    }

    /// <summary>Records the incarnation seen in a handshake; reports a restart when it changed.</summary>
    internal void ObserveIncarnation(RemoteAddress peer, ulong uid)
    {
        ulong previous;
        lock (_knownUids)
        {
            previous = _knownUids.TryGetValue(peer, out var known) ? known : 0;
            if (previous == 0 && _knownUids.Count >= MaxKnownPeers)
            {
                // Handshakes can claim any address: remembering every one would let a hostile
                // client grow this table without bound. Past the cap, new peers are not tracked
                // (their restarts are then not reported).
                return;
            }

            _knownUids[peer] = uid;
        }

        if (previous == 0 || previous == uid)
        {
            return;
        }

        Logger.LogWarning("Remoting {Address}: peer {Peer} restarted (uid {OldUid} -> {NewUid}); its old incarnation is dead", LocalAddress, peer, previous, uid);
        if (_associations.TryGetValue(peer, out var association))
        {
            association.OnNewIncarnation(uid);
        }

        Notify(l => l.OnPeerRestarted(peer, previous, uid));
    }

    internal void Notify(Action<IRemoteTransportListener> callback)
    {
        try
        {
            callback(Listener);
        }
        catch (Exception ex)
        {
            Logger.LogError(ex, "Remoting {Address}: a transport listener callback threw", LocalAddress);
        }
    }

    internal void Register(InboundConnection connection) => _inbound.TryAdd(connection, 0);

    internal void Unregister(InboundConnection connection) => _inbound.TryRemove(connection, out _);

    internal bool IsStopping => Volatile.Read(ref _disposed) != 0;

    private Association GetOrCreateAssociation(RemoteAddress to)
    {
        if (_associations.TryGetValue(to, out var association))
        {
            return association;
        }

        lock (_associationLock)
        {
            if (!_associations.TryGetValue(to, out association))
            {
                association = new Association(this, to);
                _associations[to] = association;
                association.Start();
            }

            return association;
        }
    }

    private static IPAddress ResolveBindAddress(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        if (IPAddress.TryParse(host, out var ip))
        {
            return ip;
        }

        throw new ArgumentException($"Remote setting Host is invalid: '{host}' is not an IP address or 'localhost'.", nameof(host));
    }

    private static ulong RandomUid()
    {
        Span<byte> bytes = stackalloc byte[8];
        ulong uid;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            uid = BitConverter.ToUInt64(bytes);
        }
        while (uid == 0);
        return uid;
    }
}

/// <summary>Kestrel's entry point for each accepted TCP connection on the remoting port.</summary>
internal sealed class InboundConnectionHandler(RemoteTransport transport) : ConnectionHandler
{
    /// <inheritdoc />
    public override Task OnConnectedAsync(ConnectionContext connection) => new InboundConnection(transport, connection).RunAsync();
}
