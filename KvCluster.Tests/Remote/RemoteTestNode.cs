using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Actors.Remote.Transport;
using Microsoft.Extensions.Logging;

namespace KvCluster.Tests.Remote;

/// <summary>A running transport on a loopback ephemeral port that records what reaches it.</summary>
internal sealed class RemoteTestNode : IRemoteTransportListener, IAsyncDisposable
{
    public const int Int64TypeId = 1000;
    public const int BytesTypeId = 1001;
    public const int StringTypeId = 1002;

    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(15);

    private readonly Channel<InboundMessage> _messages = Channel.CreateUnbounded<InboundMessage>();

    private RemoteTestNode()
    {
    }

    public RemoteTransport Transport { get; private set; } = null!;

    public RemoteAddress Address => Transport.LocalAddress;

    public ConcurrentQueue<OutboundDeadLetter> DeadLetters { get; } = new();

    public ConcurrentQueue<(RemoteAddress Peer, ulong Old, ulong New)> Restarts { get; } = new();

    public ConcurrentQueue<(RemoteAddress Peer, ulong Uid)> Terminated { get; } = new();

    public CapturingLoggerProvider Logs { get; } = new();

    /// <summary>Settings fast enough for tests on a loaded machine, still generous.</summary>
    public static RemoteSettings FastSettings(string system, int port = 0) => new()
    {
        SystemName = system,
        Host = "127.0.0.1",
        Port = port,
        HandshakeTimeout = TimeSpan.FromSeconds(2),
        HeartbeatInterval = TimeSpan.FromMilliseconds(100),
        IdleTimeout = TimeSpan.FromSeconds(2),
        WriteTimeout = TimeSpan.FromSeconds(1),
        ReconnectBackoffMin = TimeSpan.FromMilliseconds(50),
        ReconnectBackoffMax = TimeSpan.FromMilliseconds(400),
        AcceptableHeartbeatPause = TimeSpan.FromMilliseconds(500),
    };

    public static MessageSerializerRegistry NewRegistry(bool withStrings = true)
    {
        var registry = new MessageSerializerRegistry();
        registry.Register<Int64Value>(Int64TypeId);
        registry.Register<BytesValue>(BytesTypeId);
        if (withStrings)
        {
            registry.Register<StringValue>(StringTypeId);
        }

        return registry;
    }

    public static async Task<RemoteTestNode> StartAsync(string system, Func<RemoteSettings, RemoteSettings>? configure = null, MessageSerializerRegistry? registry = null, int port = 0)
    {
        var node = new RemoteTestNode();
        var settings = FastSettings(system, port);
        settings = configure?.Invoke(settings) ?? settings;
        var factory = LoggerFactory.Create(b => b.AddProvider(node.Logs).SetMinimumLevel(LogLevel.Debug));
        node.Transport = await RemoteTransport.StartAsync(settings, registry ?? NewRegistry(), node, factory);
        return node;
    }

    public string PathOf(string actor) => $"{Address}/user/{actor}";

    public SendStatus Send(RemoteTestNode to, string actor, IMessage message, string? sender = null) =>
        Transport.Send(to.Address, to.PathOf(actor), sender, message);

    public async Task<InboundMessage> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? WaitTimeout);
        return await _messages.Reader.ReadAsync(cts.Token);
    }

    public bool TryReceive(out InboundMessage message) => _messages.Reader.TryRead(out message);

    /// <summary>Awaits <paramref name="condition"/> by polling; fails with <paramref name="what"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? WaitTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}");
            }

            await Task.Delay(20);
        }
    }

    public void OnMessage(InboundMessage message) => _messages.Writer.TryWrite(message);

    public void OnDeadLetter(OutboundDeadLetter deadLetter) => DeadLetters.Enqueue(deadLetter);

    public void OnPeerRestarted(RemoteAddress peer, ulong oldUid, ulong newUid) => Restarts.Enqueue((peer, oldUid, newUid));

    public void OnAddressTerminated(RemoteAddress peer, ulong peerUid) => Terminated.Enqueue((peer, peerUid));

    public ValueTask DisposeAsync() => Transport.DisposeAsync();
}

/// <summary>Collects formatted log lines so tests can check a bad input was named.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public bool Contains(params string[] fragments) => Lines.Any(l => fragments.All(f => l.Contains(f, StringComparison.Ordinal)));

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
