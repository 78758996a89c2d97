using KvCluster.Actors.Persistence;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Hosting;

/// <summary>The node executable: parse, validate, run on the Generic Host, map failures to exit codes.</summary>
public static class NodeProgram
{
    /// <summary>Runs the node until SIGTERM or Ctrl-C; returns the exit code (see <see cref="NodeSettingsTable"/>).</summary>
    /// <param name="args">The command line.</param>
    /// <param name="environment">The environment; null for the process's.</param>
    /// <param name="error">Where usage errors go; null for standard error.</param>
    /// <param name="output">Where --help goes; null for standard output.</param>
    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string?>? environment = null, TextWriter? error = null, TextWriter? output = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        error ??= Console.Error;
        output ??= Console.Out;
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            await output.WriteAsync(NodeSettingsTable.HelpText()).ConfigureAwait(false);
            return NodeSettingsTable.ExitOk;
        }

        NodeOptions options;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });
        try
        {
            var flags = NodeSettingsTable.ParseFlags(args, out var configFile);
            NodeSettingsTable.AddSources(builder.Configuration, flags, configFile, environment ?? NodeSettingsTable.ProcessEnvironment());
            options = NodeSettingsTable.Bind(builder.Configuration);
            options.Validate();
        }
        catch (Exception e) when (e is NodeConfigurationException or FileNotFoundException or InvalidDataException or FormatException)
        {
            await error.WriteLineAsync($"akkakv-node: error: {e.Message}").ConfigureAwait(false);
            await error.WriteLineAsync("Run with --help for every setting.").ConfigureAwait(false);
            return NodeSettingsTable.ExitUsage;
        }

        builder.Logging.ClearProviders();
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<KvNodeService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<KvNodeService>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(options.ShutdownTimeoutMs + 10_000));
        using var host = builder.Build();
        var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("KvCluster.Node");
        try
        {
            await host.RunAsync().ConfigureAwait(false);
        }
        catch (NodeDataException e)
        {
            log.LogCritical("Cannot start: {Reason}", e.Message);
            return NodeSettingsTable.ExitData;
        }
        catch (IOException e)
        {
            log.LogCritical("Cannot start: a port could not be bound ({Reason}). Is another node running? Use --port / --pbm-port.", e.Message);
            return NodeSettingsTable.ExitPort;
        }
        catch (PersistenceStoreException e)
        {
            log.LogCritical("Cannot start: {Reason}", e.Message);
            return NodeSettingsTable.ExitData;
        }

        return Environment.ExitCode;
    }
}
