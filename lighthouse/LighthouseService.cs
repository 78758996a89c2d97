using System.Net;
using Akka.Actor;
using Akka.Cluster;
using KvCluster.Pbm;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ClusterMembership = Akka.Cluster.Cluster;

namespace Lighthouse;

/// <summary>
/// The lighthouse's own part of the host, beside Akka.Hosting's actor system service: it forms
/// the cluster when no seeds are given, serves the pbm command host, and leaves gracefully at stop.
/// </summary>
/// <remarks>
/// Life cycle:
/// <list type="number">
/// <item>Start (after Akka.Hosting started the actor system with remoting, clustering with role
/// <c>lighthouse</c>, the split-brain resolver and DistributedPubSub): with no seeds, join itself so
/// it forms the cluster (seeds, when given, are joined by Akka.Cluster itself); start the pbm host
/// with the <c>cluster</c> and <c>actor</c> palettes.</item>
/// <item>Stop (SIGTERM, Ctrl-C): leave the cluster gracefully and wait until this node is Removed
/// (at most <see cref="LighthouseSettings.LeaveTimeout"/>), stop the pbm host; Akka.Hosting then
/// runs coordinated shutdown, which terminates the system.</item>
/// <item>Removed while running (an operator's <c>cluster down</c> or <c>cluster leave</c>, or the split-brain resolver):
/// Akka.Cluster runs coordinated shutdown, the system terminates and Akka.Hosting stops the
/// application; this service logs why, because a lighthouse outside the cluster can admit nobody.
/// The process exits 0 and its supervisor (compose's restart policy) starts a new incarnation.</item>
/// </list>
/// </remarks>
internal sealed class LighthouseService : IHostedService
{
    private readonly LighthouseSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    public LighthouseService(LighthouseSettings settings, ActorSystem system, ILoggerFactory loggerFactory)
    {
        _settings = settings;
        System = system;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Lighthouse");
    }

    /// <summary>The actor system (started by Akka.Hosting before <see cref="StartAsync"/>).</summary>
    public ActorSystem System { get; }

    /// <summary>The membership (after <see cref="StartAsync"/>).</summary>
    public ClusterMembership Cluster { get; private set; } = null!;

    /// <summary>The pbm command host (after <see cref="StartAsync"/>).</summary>
    public CommandHost CommandHost { get; private set; } = null!;

    /// <summary>Completes when the service has started.</summary>
    public Task Started => _started.Task;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Cluster = ClusterMembership.Get(System);
        var self = Cluster.SelfAddress;
        if (_settings.Seeds.IsEmpty)
        {
            Cluster.Join(self);
        }

        CommandHost = new CommandHost(System, new CommandHostSettings { Host = _settings.PbmHost, Port = _settings.PbmPort }, _loggerFactory).RegisterDefaultPalettes();
        try
        {
            await CommandHost.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
            throw new LighthouseConfigurationException($"cannot start the pbm host (setting {LighthouseSettings.Names[nameof(LighthouseSettings.PbmPort)]}): {ex.Message}");
        }

        _logger.LogInformation(
            "Lighthouse {Address} started: role {Role}, seeds [{Seeds}], split-brain resolver {Strategy}, pbm at {Pbm}.",
            self,
            LighthouseProgram.Role,
            _settings.Seeds.IsEmpty ? self.ToString() : string.Join(", ", _settings.Seeds),
            ClusterDefaults.Strategy,
            CommandHost.LocalEndPoint);
        Cluster.RegisterOnMemberRemoved(() =>
        {
            if (!_stopping && CoordinatedShutdown.Get(System).ShutdownReason is not CoordinatedShutdown.ClrExitReason)
            {
                _logger.LogWarning("Lighthouse {Address} was removed from the cluster (downed, or told to leave); stopping, since it can admit nobody any more.", self);
            }
        });
        _started.TrySetResult();
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        if (Cluster is null)
        {
            return;
        }

        if (!Cluster.IsTerminated && Cluster.State.Members.Any(m => m.UniqueAddress.Equals(Cluster.SelfUniqueAddress)))
        {
            _logger.LogInformation("Lighthouse {Address} leaving the cluster.", Cluster.SelfAddress);
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(_settings.LeaveTimeout);
                await Cluster.LeaveAsync(deadline.Token).ConfigureAwait(false);
                _logger.LogInformation("Lighthouse {Address} left the cluster.", Cluster.SelfAddress);
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("Lighthouse {Address} was not removed within {Timeout}; stopping anyway.", Cluster.SelfAddress, _settings.LeaveTimeout);
            }
        }

        if (CommandHost is not null)
        {
            await CommandHost.StopAsync().ConfigureAwait(false);
        }

        _logger.LogInformation("Lighthouse stopped.");
    }
}
