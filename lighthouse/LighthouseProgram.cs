using System.Net;
using System.Net.Sockets;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;

namespace Lighthouse;

/// <summary>Builds and runs the lighthouse on the .NET Generic Host with Akka.Hosting.</summary>
internal static class LighthouseProgram
{
    /// <summary>The cluster role of the lighthouse.</summary>
    public const string Role = "lighthouse";

    /// <summary>
    /// Loads the configuration (appsettings.json next to the executable, the environment, the
    /// flags), runs the lighthouse until SIGTERM or Ctrl-C, and returns the exit code: 0 after a
    /// normal stop (also after it was downed: it logs that and stops), 1 when it failed to start or
    /// run, 2 for invalid configuration (one line on <paramref name="error"/> naming the setting,
    /// including a port that cannot be bound).
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Func<string, string?> environment, TextWriter error)
    {
        LighthouseSettings? settings;
        string logFormat;
        try
        {
            var configuration = new ConfigurationBuilder()
                .SetBasePath(AppContext.BaseDirectory)
                .AddJsonFile("appsettings.json", optional: true)
                .Build();
            settings = LighthouseSettings.Load(args, environment, configuration, out logFormat);
            if (settings is null)
            {
                Console.Out.WriteLine(LighthouseSettings.HelpText);
                return 0;
            }

            CheckBindable(settings.BindHost, settings.Port, nameof(LighthouseSettings.Port));
            CheckBindable(settings.PbmHost, settings.PbmPort, nameof(LighthouseSettings.PbmPort));
            using var host = CreateHost(settings, logFormat, configuration);
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (LighthouseConfigurationException ex)
        {
            error.WriteLine($"lighthouse: error: {ex.Message}");
            error.WriteLine("Run 'lighthouse --help' for the settings.");
            return 2;
        }
        catch (InvalidDataException ex)
        {
            error.WriteLine($"lighthouse: error: appsettings.json is not valid JSON: {ex.Message}");
            return 2;
        }
        catch (Exception ex)
        {
            error.WriteLine($"lighthouse: error: {ex.Message}");
            return 1;
        }
    }

    /// <summary>
    /// The lighthouse's host: logging (single-line console, or JSON with <paramref name="logFormat"/>
    /// <c>json</c>; levels from the <c>Logging</c> section of <paramref name="configuration"/>), Akka's
    /// log routed into it, the actor system on Akka.Hosting (remoting, clustering with the seeds and
    /// <see cref="ClusterDefaults"/>' split-brain resolver, DistributedPubSub), and
    /// <see cref="LighthouseService"/> (the pbm host and the leave at shutdown).
    /// </summary>
    public static IHost CreateHost(LighthouseSettings settings, string logFormat = "simple", IConfiguration? configuration = null, Action<ILoggingBuilder>? configureLogging = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        if (configuration is not null)
        {
            builder.Configuration.AddConfiguration(configuration);
        }

        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));

        // The host logs a start-up failure with its stack trace; RunAsync prints one line naming the setting instead.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        if (logFormat == "json")
        {
            builder.Logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ");
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }

        configureLogging?.Invoke(builder.Logging);
        builder.Services.AddSingleton(settings);
        builder.Services.AddAkka(settings.ActorSystem, (akka, _) => ConfigureAkka(akka, settings));

        // Registered after AddAkka: started once the actor system runs, stopped before it terminates.
        builder.Services.AddSingleton<LighthouseService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LighthouseService>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.LeaveTimeout + TimeSpan.FromSeconds(10));
        return builder.Build();
    }

    /// <summary>The actor system of the lighthouse.</summary>
    private static void ConfigureAkka(AkkaConfigurationBuilder akka, LighthouseSettings settings)
    {
        akka.ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = AkkaLogLevel.InfoLevel;
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            })
            .WithRemoting(new RemoteOptions
            {
                // A host name (CLUSTER_IP=lighthouse in compose) is advertised as it is, so peers that dial it by that
                // name reach an address equal to this system's own; the listener then binds every interface.
                HostName = settings.BindHost,
                PublicHostName = settings.Host,
                Port = settings.Port,
            })
            .WithClustering(new ClusterOptions
            {
                Roles = [Role],

                // No seeds: the lighthouse joins itself once started (LighthouseService), which also works with port 0.
                SeedNodes = settings.Seeds.IsEmpty ? null : [.. settings.Seeds],
            })
            .WithAkkaKvSplitBrainResolver()
            .WithDistributedPubSub(string.Empty)

            // The Generic Host drives the stop (LighthouseService leaves, then Akka.Hosting runs coordinated
            // shutdown); Akka's own SIGTERM/process-exit hook would start leaving first and race it.
            .AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend);
    }

    /// <summary>Fails with the setting's name when <paramref name="port"/> cannot be bound on <paramref name="host"/>.</summary>
    private static void CheckBindable(string host, int port, string setting)
    {
        if (port == 0)
        {
            return;
        }

        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host);
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException ex)
        {
            throw new LighthouseConfigurationException($"cannot listen on {host}:{port} (setting {LighthouseSettings.Names[setting]}): {ex.Message}");
        }
    }
}
