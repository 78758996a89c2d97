using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lighthouse;

/// <summary>Builds and runs the lighthouse on the .NET Generic Host.</summary>
internal static class LighthouseProgram
{
    /// <summary>
    /// Loads the configuration (appsettings.json next to the executable, the environment, the
    /// flags), runs the lighthouse until SIGTERM or Ctrl-C, and returns the exit code: 0 after a
    /// normal stop, 1 when it failed to start or run, 2 for invalid configuration (one line on
    /// <paramref name="error"/> naming the setting).
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
    /// <c>json</c>; levels from the <c>Logging</c> section of <paramref name="configuration"/>),
    /// the Generic Host's console lifetime (SIGTERM / Ctrl-C stop it) and <see cref="LighthouseService"/>.
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
        builder.Services.AddSingleton<LighthouseService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LighthouseService>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.LeaveTimeout + TimeSpan.FromSeconds(10));
        return builder.Build();
    }
}
