using KvCluster.Actors.Remote.FailureInjection;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Actors.Remote.Transport;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Remote.Actors;

/// <summary>
/// Starts remoting-enabled actor systems: binds the TCP port first (so an ephemeral port is
/// known), then creates the <see cref="ActorSystem"/> with a provider whose address is
/// <c>kv://name@host:port</c>, and hangs a <see cref="RemoteExtension"/> on it.
/// </summary>
/// <example>
/// <code>
/// var registry = new MessageSerializerRegistry();
/// registry.Register&lt;AppendEntries&gt;(100);
/// var system = await RemoteActorSystem.CreateAsync(new RemoteSettings { SystemName = "kv", Port = 0 }, registry: registry);
/// var remote = RemoteExtension.Get(system);            // remote.Address has the bound port
/// var peer = await system.ActorSelection("kv://kv@10.0.0.2:4053/user/raft").ResolveOne(TimeSpan.FromSeconds(3));
/// peer.Tell(new AppendEntries { ... }, self);
/// await RemoteActorSystem.TerminateAsync(system);      // stops actors, flushes, closes the port
/// </code>
/// </example>
public static class RemoteActorSystem
{
    /// <summary>How long <see cref="TerminateAsync"/> lets queued messages (e.g. death-watch
    /// notifications of the stopping actors) flush before closing connections.</summary>
    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Creates an actor system named <see cref="RemoteSettings.SystemName"/>, reachable at
    /// <c>kv://name@host:port</c>. <paramref name="setup"/>'s provider factory is replaced;
    /// its logger factory is used by remoting too.
    /// </summary>
    /// <param name="settings">Remoting settings (validated; an invalid value names the setting).</param>
    /// <param name="setup">Actor system settings; null for the defaults.</param>
    /// <param name="registry">Registry of every protobuf message type that will cross the network;
    /// null for one holding only remoting's own messages.</param>
    /// <param name="cancellationToken">Cancels binding the port.</param>
    /// <exception cref="ArgumentException">A setting or the system name is invalid.</exception>
    /// <exception cref="IOException">The port could not be bound.</exception>
    public static async Task<ActorSystem> CreateAsync(
        RemoteSettings settings,
        ActorSystemSetup? setup = null,
        MessageSerializerRegistry? registry = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!Address.IsValidSystemName(settings.SystemName))
        {
            throw new ArgumentException($"Remote setting SystemName is invalid: '{settings.SystemName}' must use letters, digits, '-' and '_', starting with a letter or digit.", nameof(settings));
        }

        setup ??= ActorSystemSetup.Default;
        var remoting = await PrepareAsync(settings, registry, setup.LoggerFactory, cancellationToken).ConfigureAwait(false);
        try
        {
            return ActorSystem.Create(settings.SystemName, remoting.ApplyTo(setup));
        }
        catch
        {
            await remoting.Transport.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Binds the remoting port and returns a <see cref="RemotingSetup"/> whose
    /// <see cref="RemotingSetup.ApplyTo"/> makes any <see cref="ActorSystemSetup"/> remoting-enabled.
    /// For hosts that create the system themselves (a TestKit: <c>base(setup: remoting.ApplyTo(setup),
    /// systemName: settings.SystemName)</c>). The system must be created with
    /// <see cref="RemoteSettings.SystemName"/> as its name; the extension is registered when it starts.
    /// </summary>
    /// <exception cref="ArgumentException">A setting or the system name is invalid.</exception>
    public static async Task<RemotingSetup> PrepareAsync(
        RemoteSettings settings,
        MessageSerializerRegistry? registry = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!Address.IsValidSystemName(settings.SystemName))
        {
            throw new ArgumentException($"Remote setting SystemName is invalid: '{settings.SystemName}' must use letters, digits, '-' and '_', starting with a letter or digit.", nameof(settings));
        }

        loggerFactory ??= Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        var bridge = new RemoteListenerBridge(loggerFactory.CreateLogger("KvCluster.Actors.Remote"));
        var transport = await RemoteTransport.StartAsync(settings, registry ?? new MessageSerializerRegistry(), bridge, loggerFactory, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new RemotingSetup(transport, bridge);
    }

    /// <summary>
    /// Terminates <paramref name="system"/> gracefully: stops its actors, lets queued remote
    /// messages flush (up to <see cref="DefaultDrainTimeout"/>), then closes remoting.
    /// </summary>
    public static async Task TerminateAsync(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        await system.Terminate().ConfigureAwait(false);
        if (system.GetExtension<RemoteExtension>() is { } remote)
        {
            await remote.StopAsync(DefaultDrainTimeout).ConfigureAwait(false);
        }
    }

}

/// <summary>
/// A bound remoting transport waiting for its actor system (from <see cref="RemoteActorSystem.PrepareAsync"/>).
/// </summary>
public sealed class RemotingSetup
{
    private readonly RemoteListenerBridge _bridge;

    internal RemotingSetup(RemoteTransport transport, RemoteListenerBridge bridge)
    {
        Transport = transport;
        _bridge = bridge;
    }

    /// <summary>The bound transport; <see cref="RemoteTransport.LocalAddress"/> has the port.</summary>
    public RemoteTransport Transport { get; }

    /// <summary>
    /// Returns <paramref name="setup"/> with the remote ref provider installed. Use the result for
    /// exactly one <see cref="ActorSystem"/>, named <see cref="RemoteSettings.SystemName"/>.
    /// </summary>
    public ActorSystemSetup ApplyTo(ActorSystemSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        return setup.WithProvider(system =>
        {
            var provider = new RemoteActorRefProvider(system, Transport);
            _bridge.Attach(provider);
            return provider;
        });
    }
}

/// <summary>Creates the <see cref="RemoteExtension"/> of a system around its transport.</summary>
internal sealed class RemoteExtensionId(RemoteTransport transport) : IExtensionId<RemoteExtension>
{
    public RemoteExtension CreateExtension(ActorSystem system) => new(system, transport);
}

/// <summary>
/// Remoting as seen from an <see cref="ActorSystem"/> (<c>system.GetExtension&lt;RemoteExtension&gt;()</c>
/// or <see cref="Get"/>): its network address, serializer registry, counters and failure injector.
/// </summary>
public sealed class RemoteExtension : IExtension
{
    private readonly object _stopLock = new();
    private Task? _stopped;

    internal RemoteExtension(ActorSystem system, RemoteTransport transport)
    {
        System = system;
        Transport = transport;
    }

    /// <summary>The system this extension belongs to.</summary>
    public ActorSystem System { get; }

    /// <summary>The transport (advanced use: envelope-level sends, <see cref="RemoteTransport.IsConnected"/>).</summary>
    public RemoteTransport Transport { get; }

    /// <summary>The system's network address, with the bound port.</summary>
    public RemoteAddress Address => Transport.LocalAddress;

    /// <summary>The registry other layers add their message types to (before first use).</summary>
    public MessageSerializerRegistry Registry => Transport.Registry;

    /// <summary>The fault layer under this system's associations (tests, node admin commands).</summary>
    public FailureInjector FailureInjector => Transport.FailureInjector;

    /// <summary>Traffic and bad-input counters.</summary>
    public RemoteCounters Counters => Transport.Counters;

    /// <summary>The extension of <paramref name="system"/>.</summary>
    /// <exception cref="InvalidOperationException">The system was not created by <see cref="RemoteActorSystem.CreateAsync"/>.</exception>
    public static RemoteExtension Get(ActorSystem system) =>
        system.GetExtension<RemoteExtension>() ?? throw new InvalidOperationException($"Actor system {system} has no remoting; create it with RemoteActorSystem.CreateAsync.");

    /// <summary>
    /// Closes remoting after letting queued messages flush for at most <paramref name="drainTimeout"/>
    /// (zero: abruptly, as if the process died). Idempotent; later calls return the first call's task.
    /// </summary>
    public Task StopAsync(TimeSpan drainTimeout)
    {
        lock (_stopLock)
        {
            return _stopped ??= Transport.StopAsync(drainTimeout);
        }
    }
}
