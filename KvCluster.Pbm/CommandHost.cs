// Petabridge.Cmd.Host, the pbm command host Akka.NET users know, is not served by the package
// registry our machines reach, so this host is ours: the same idea (a TCP endpoint answering
// `pbm` command lines with palettes of commands), the protocol of CommandFrame, and palettes built
// on Akka.NET's own APIs (Cluster.Get(system), ActorSelection, Identify).
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using KvCluster.Pbm.Palettes;
using Microsoft.Extensions.Logging;

namespace KvCluster.Pbm;

/// <summary>
/// The pbm command host of one actor system, in the manner of Petabridge.Cmd.Host: a TCP
/// listener (127.0.0.1:9110 by default) answering command lines from <c>kv pbm</c> with the
/// protocol of <see cref="CommandFrame"/>, dispatching them to registered
/// <see cref="ICommandPalette"/>s. <c>help</c> is built in.
/// </summary>
/// <remarks>
/// <para>Typical use in a host:</para>
/// <code>
/// var host = new CommandHost(system, new CommandHostSettings { Host = "0.0.0.0", Port = 9110 })
///     .RegisterDefaultPalettes();                  // cluster + actor
/// host.Register(new RaftCommandPalette(raftRef));  // any ICommandPalette
/// await host.StartAsync(cancellationToken);
/// ...
/// await host.DisposeAsync();                        // stops listening, closes connections
/// </code>
/// <para>Each connection is served by its own task; requests on one connection run one at a
/// time. A connection that sends an oversized frame or bytes that are not UTF-8 gets a last
/// <c>failed</c> response, is closed and logged, and counted in <see cref="MalformedFrames"/>;
/// the host keeps serving every other connection.</para>
/// </remarks>
public sealed partial class CommandHost : IAsyncDisposable
{
    private readonly CommandDispatcher _dispatcher;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, (Socket Socket, Task Served)> _connections = new();
    private readonly object _lifecycleLock = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private Task? _stopped;
    private long _nextConnectionId;
    private long _accepted;
    private long _refused;
    private long _requests;
    private long _malformed;

    /// <summary>Creates a host for <paramref name="system"/> with only <c>help</c>; register palettes, then <see cref="StartAsync"/>.</summary>
    /// <param name="system">The actor system whose commands are served.</param>
    /// <param name="settings">Null for the defaults (127.0.0.1:9110).</param>
    /// <param name="loggerFactory">Where the host logs; null: into the actor system's own log
    /// (Akka's logging, which a host on Akka.Hosting routes into Microsoft.Extensions.Logging).</param>
    public CommandHost(ActorSystem system, CommandHostSettings? settings = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        System = system;
        Settings = settings ?? new CommandHostSettings();
        _logger = loggerFactory?.CreateLogger("KvCluster.Pbm.CommandHost") ?? new AkkaLogger(system, "KvCluster.Pbm.CommandHost");
        DeadLetterCounter.Get(system); // counting starts now, for `actor system`
        _dispatcher = new CommandDispatcher(system, Settings, _logger);
    }

    /// <summary>The actor system served.</summary>
    public ActorSystem System { get; }

    /// <summary>The settings (validated by <see cref="StartAsync"/>).</summary>
    public CommandHostSettings Settings { get; }

    /// <summary>The registered palettes, in registration order.</summary>
    public IReadOnlyList<ICommandPalette> Palettes => _dispatcher.Palettes;

    /// <summary>The bound endpoint once started (with the real port when <see cref="CommandHostSettings.Port"/> is 0), else null.</summary>
    public IPEndPoint? LocalEndPoint => _listener?.LocalEndpoint as IPEndPoint;

    /// <summary>Connections accepted since start.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections refused because <see cref="CommandHostSettings.MaxConnections"/> were open.</summary>
    public long ConnectionsRefused => Interlocked.Read(ref _refused);

    /// <summary>Requests answered (including usage errors and failures).</summary>
    public long RequestsServed => Interlocked.Read(ref _requests);

    /// <summary>Connections closed for bad input: an oversized frame, bytes that are not UTF-8, or a frame cut off by the peer.</summary>
    public long MalformedFrames => Interlocked.Read(ref _malformed);

    /// <summary>
    /// Adds a palette. Allowed before and after <see cref="StartAsync"/>; thread-safe. Returns this
    /// host for chaining.
    /// </summary>
    /// <exception cref="ArgumentException">The palette's name is invalid, reserved or taken, or a command name is invalid.</exception>
    public CommandHost Register(ICommandPalette palette)
    {
        _dispatcher.Register(palette);
        return this;
    }

    /// <summary>Registers the built-in <c>cluster</c> (<see cref="ClusterCommandPalette"/>) and
    /// <c>actor</c> (<see cref="ActorCommandPalette"/>) palettes. Returns this host.</summary>
    public CommandHost RegisterDefaultPalettes() => Register(new ClusterCommandPalette()).Register(new ActorCommandPalette());

    /// <summary>
    /// Runs one command line in-process, exactly as if it came over TCP (same parsing, timeout and
    /// rendering). For hosts and tests; thread-safe; never throws for a bad command line.
    /// </summary>
    public Task<CommandResponse> ExecuteAsync(string commandLine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        return ExecuteLinkedAsync(commandLine, cancellationToken);
    }

    /// <summary>Validates the settings, binds the port and starts accepting connections.</summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    /// <exception cref="IOException">The address could not be bound (for example the port is taken); the message names it.</exception>
    /// <exception cref="InvalidOperationException">Already started or stopped.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Settings.Validate();
        lock (_lifecycleLock)
        {
            if (_listener is not null || _stopped is not null)
            {
                throw new InvalidOperationException("The command host was already started.");
            }

            var address = Settings.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(Settings.Host);
            var listener = new TcpListener(address, Settings.Port);
            try
            {
                listener.Start(backlog: 64);
            }
            catch (SocketException ex)
            {
                throw new IOException($"Command host cannot listen on {Settings.Host}:{Settings.Port}: {ex.Message}.", ex);
            }

            _listener = listener;
            _acceptLoop = AcceptLoopAsync(listener);
        }

        _logger.LogInformation("pbm command host of {System} listening on {Endpoint}; palettes: {Palettes}.", System.Name, LocalEndPoint, string.Join(", ", Palettes.Select(p => p.Name)));
        return Task.CompletedTask;
    }

    /// <summary>Stops listening, closes every connection (a running command is cancelled) and
    /// waits for their tasks. Idempotent.</summary>
    public Task StopAsync()
    {
        lock (_lifecycleLock)
        {
            return _stopped ??= StopCoreAsync();
        }
    }

    /// <inheritdoc cref="StopAsync"/>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task StopCoreAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Stop();
        foreach (var (_, connection) in _connections)
        {
            connection.Socket.Dispose();
        }

        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        await Task.WhenAll(_connections.Values.Select(c => c.Served)).ConfigureAwait(false);
        _logger.LogInformation("pbm command host of {System} stopped.", System.Name);
    }

    private async Task<CommandResponse> ExecuteLinkedAsync(string commandLine, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var response = await _dispatcher.ExecuteAsync(commandLine, linked.Token).ConfigureAwait(false);
        Interlocked.Increment(ref _requests);
        return response;
    }
}
