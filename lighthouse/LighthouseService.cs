using System.Net;
using System.Net.Sockets;
using KvCluster.Actors;
using KvCluster.Actors.Cmd;
using KvCluster.Actors.Cluster;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.Transport;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ClusterMembership = KvCluster.Actors.Cluster.Cluster;

namespace Lighthouse;

/// <summary>
/// The lighthouse as a hosted service: an actor system with remoting, cluster membership (role
/// <c>lighthouse</c>) and the pbm command host.
/// </summary>
/// <remarks>
/// Life cycle:
/// <list type="number">
/// <item>Start: resolve CLUSTER_IP (a host name becomes its first IPv4 address, which is bound and
/// advertised), bind remoting, start membership with the seeds (itself when none are given, so it
/// forms the cluster), start the pbm host.</item>
/// <item>Stop (SIGTERM, Ctrl-C): leave the cluster gracefully and wait until this node is Removed
/// (at most <see cref="LighthouseSettings.LeaveTimeout"/>), stop the pbm host, terminate the system.</item>
/// <item>Removed by an operator (<c>cluster down</c>) while running: log it and stop the application,
/// because a lighthouse outside the cluster can admit nobody.</item>
/// </list>
/// </remarks>
internal sealed class LighthouseService : IHostedService
{
    private readonly LighthouseSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    public LighthouseService(LighthouseSettings settings, ILoggerFactory loggerFactory, IHostApplicationLifetime lifetime)
    {
        _settings = settings;
        _loggerFactory = loggerFactory;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger("Lighthouse");
    }

    /// <summary>The actor system (after <see cref="StartAsync"/>).</summary>
    public ActorSystem System { get; private set; } = null!;

    /// <summary>The membership (after <see cref="StartAsync"/>).</summary>
    public ClusterMembership Cluster { get; private set; } = null!;

    /// <summary>The pbm command host (after <see cref="StartAsync"/>).</summary>
    public CommandHost CommandHost { get; private set; } = null!;

    /// <summary>Completes when the service has started.</summary>
    public Task Started => _started.Task;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // A host name (CLUSTER_IP=lighthouse in compose) is advertised as it is, so peers that dial it by that name
        // reach an address equal to this system's own; the listener then binds every interface.
        var host = _settings.Host;
        var bind = host == "localhost" || IPAddress.TryParse(host, out _) ? null : "0.0.0.0";
        var remote = new RemoteSettings { SystemName = _settings.ActorSystem, Host = host, BindHost = bind, Port = _settings.Port, ClusterName = _settings.ClusterName };
        try
        {
            System = await RemoteActorSystem.CreateAsync(remote, ActorSystemSetup.Default.WithLoggerFactory(_loggerFactory), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new LighthouseConfigurationException($"cannot listen on {host}:{_settings.Port} (setting {LighthouseSettings.Names[nameof(LighthouseSettings.Port)]}): {ex.Message}");
        }

        var self = RemoteExtension.Get(System).Address;
        var seeds = _settings.Seeds.IsEmpty
            ? [self.ToString()]
            : _settings.Seeds.Select(s => NamesSelf(s, self) ? self.ToString() : s).ToList();
        Cluster = ClusterMembership.Start(System, new ClusterSettings { SeedNodes = [.. seeds], Roles = ["lighthouse"] });
        CommandHost = new CommandHost(System, new CommandHostSettings { Host = _settings.PbmHost, Port = _settings.PbmPort }).RegisterDefaultPalettes();
        try
        {
            await CommandHost.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await RemoteActorSystem.TerminateAsync(System).ConfigureAwait(false);
            throw new LighthouseConfigurationException($"cannot start the pbm host (setting {LighthouseSettings.Names[nameof(LighthouseSettings.PbmPort)]}): {ex.Message}");
        }

        _logger.LogInformation(
            "Lighthouse {Address} started: role lighthouse, seeds [{Seeds}], pbm at {Pbm}.",
            self,
            string.Join(", ", seeds),
            CommandHost.LocalEndPoint);
        _ = Cluster.WhenTerminated.ContinueWith(
            _ =>
            {
                if (!_stopping)
                {
                    _logger.LogWarning("Lighthouse {Address} was removed from the cluster (downed); stopping, since it can admit nobody any more.", self);
                    _lifetime.StopApplication();
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        _started.TrySetResult();
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        if (System is null)
        {
            return;
        }

        if (Cluster is { IsTerminated: false, SelfMember: not null })
        {
            _logger.LogInformation("Lighthouse {Address} leaving the cluster.", Cluster.SelfAddress);
            Cluster.Leave(Cluster.SelfAddress);
            try
            {
                await Cluster.WhenTerminated.WaitAsync(_settings.LeaveTimeout, cancellationToken).ConfigureAwait(false);
                _logger.LogInformation("Lighthouse {Address} left the cluster.", Cluster.SelfAddress);
            }
            catch (TimeoutException)
            {
                _logger.LogWarning("Lighthouse {Address} was not removed within {Timeout}; stopping anyway.", Cluster.SelfAddress, _settings.LeaveTimeout);
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("Lighthouse {Address}: shutdown deadline reached while leaving; stopping anyway.", Cluster.SelfAddress);
            }
        }

        await CommandHost.StopAsync().ConfigureAwait(false);
        await RemoteActorSystem.TerminateAsync(System).ConfigureAwait(false);
        _logger.LogInformation("Lighthouse stopped.");
    }

    /// <summary>True when <paramref name="seed"/> names this lighthouse by its configured host name and port.</summary>
    private bool NamesSelf(string seed, RemoteAddress self) =>
        RemoteAddress.TryParse(seed, out var address)
        && address.Port == self.Port
        && address.System == self.System
        && string.Equals(address.Host, _settings.Host, StringComparison.OrdinalIgnoreCase);
}
