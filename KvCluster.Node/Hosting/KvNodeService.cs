using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Hosting;

/// <summary>
/// Runs a <see cref="KvNode"/> inside the Generic Host: started with the host, stopped in order when the host stops
/// (SIGTERM, Ctrl-C). If the node fails while running, the host is stopped with exit code
/// <see cref="NodeSettingsTable.ExitFailed"/>.
/// </summary>
public sealed class KvNodeService : IHostedService
{
    private readonly NodeOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly IHostApplicationLifetime _lifetime;
    private KvNode? _node;

    /// <summary>Creates the service (by dependency injection).</summary>
    public KvNodeService(NodeOptions options, ILoggerFactory loggerFactory, IHostApplicationLifetime lifetime)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _lifetime = lifetime;
    }

    /// <summary>The running node, once started.</summary>
    public KvNode? Node => _node;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _node = await KvNode.StartAsync(_options, _loggerFactory, cancellationToken).ConfigureAwait(false);
        _ = _node.Failed.ContinueWith(
            _ =>
            {
                Environment.ExitCode = NodeSettingsTable.ExitFailed;
                _lifetime.StopApplication();
            },
            TaskScheduler.Default);
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => _node?.StopAsync() ?? Task.CompletedTask;
}
