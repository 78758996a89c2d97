using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Akka.Actor;
using Microsoft.Extensions.Configuration;

namespace Lighthouse;

/// <summary>
/// The lighthouse's configuration. Sources, later ones winning: built-in defaults, the
/// <c>Lighthouse</c> section of <c>appsettings.json</c>, the environment variables of Petabridge's
/// Lighthouse (ACTORSYSTEM, CLUSTER_IP, CLUSTER_PORT, CLUSTER_SEEDS; plus PBM_HOST and PBM_PORT),
/// then the command-line flags.
/// </summary>
internal sealed record LighthouseSettings
{
    /// <summary>The actor system name every member shares (ACTORSYSTEM, --system).</summary>
    public string ActorSystem { get; init; } = "akkakv";

    /// <summary>The address the lighthouse binds and advertises (CLUSTER_IP, --host): an IP, localhost, or a
    /// host name resolved to its first IPv4 address at start-up (a container's service name).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The remoting port (CLUSTER_PORT, --port); 0 picks an ephemeral port (tests).</summary>
    public int Port { get; init; } = 4053;

    /// <summary>The seed nodes (CLUSTER_SEEDS, --seeds, comma-separated akka.tcp://system@host:port, as for
    /// Petabridge's Lighthouse); empty: the lighthouse joins itself, so it forms the cluster.</summary>
    public ImmutableArray<string> Seeds { get; init; } = [];

    /// <summary>The address remoting binds: <see cref="Host"/> when it is an IP address or localhost,
    /// else (a host name, advertised as it is) every interface.</summary>
    public string BindHost => Host == "localhost" || IPAddress.TryParse(Host, out _) ? Host : "0.0.0.0";

    /// <summary>The IP address of the pbm command host (PBM_HOST, --pbm-host).</summary>
    public string PbmHost { get; init; } = "127.0.0.1";

    /// <summary>The pbm port (PBM_PORT, --pbm-port); 0 picks an ephemeral port (tests).</summary>
    public int PbmPort { get; init; } = 9110;

    /// <summary>How long a graceful leave may take at shutdown before the lighthouse stops anyway.</summary>
    public TimeSpan LeaveTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The flags, as shown by <c>--help</c>.</summary>
    public const string HelpText = """
        lighthouse: the AkkaKv seed node. It runs an Akka.NET actor system with Akka.Remote, Akka.Cluster
        (role 'lighthouse', keep-majority split-brain resolver), DistributedPubSub and the pbm command
        host, and nothing else. Nodes list it in their seeds.

        Usage: lighthouse [options]

        Options (each overrides its environment variable, which overrides appsettings.json):
          --system <name>         ACTORSYSTEM    actor system name shared by all members   [akkakv]
          --host <ip|name>        CLUSTER_IP     address to bind and advertise            [127.0.0.1]
          --port <port>           CLUSTER_PORT   remoting port                            [4053]
          --seeds <a,b,...>       CLUSTER_SEEDS  seed nodes, akka.tcp://system@host:port  [itself]
          --pbm-host <ip>         PBM_HOST       pbm command host address                 [127.0.0.1]
          --pbm-port <port>       PBM_PORT       pbm command host port                    [9110]
          --log-format <f>        LOG_FORMAT     simple or json                           [simple]
          -h, --help                             show this help

        SIGTERM or Ctrl-C: the lighthouse leaves the cluster gracefully, then exits 0. Removed from the
        cluster while running (downed), it stops and exits 0 too; its supervisor starts a new incarnation.
        Exit codes: 0 stopped normally, 1 failed to start or run, 2 invalid configuration.
        """;

    /// <summary>Where a setting comes from in error messages: the environment variable and the flag.</summary>
    internal static readonly IReadOnlyDictionary<string, string> Names = new Dictionary<string, string>
    {
        [nameof(ActorSystem)] = "ACTORSYSTEM (--system)",
        [nameof(Host)] = "CLUSTER_IP (--host)",
        [nameof(Port)] = "CLUSTER_PORT (--port)",
        [nameof(Seeds)] = "CLUSTER_SEEDS (--seeds)",
        [nameof(PbmHost)] = "PBM_HOST (--pbm-host)",
        [nameof(PbmPort)] = "PBM_PORT (--pbm-port)",
    };

    /// <summary>Checks every setting; throws <see cref="LighthouseConfigurationException"/> naming the first bad one.</summary>
    public void Validate()
    {
        Require(IsValidSystemName(ActorSystem), nameof(ActorSystem), $"'{ActorSystem}' must use letters, digits, '-' and '_', starting with a letter or digit");
        Require(!string.IsNullOrWhiteSpace(Host) && Uri.CheckHostName(Host) != UriHostNameType.Unknown, nameof(Host), $"'{Host}' is not an IP address or host name");
        Require(Port is >= 0 and <= 65535, nameof(Port), $"{Port} must be in 1..65535");
        Require(IPAddress.TryParse(PbmHost, out _) || PbmHost == "localhost", nameof(PbmHost), $"'{PbmHost}' must be an IP address (127.0.0.1, 0.0.0.0) or localhost");
        Require(PbmPort is >= 0 and <= 65535, nameof(PbmPort), $"{PbmPort} must be in 1..65535");
        for (var i = 0; i < Seeds.Length; i++)
        {
            var seed = Seeds[i];
            Require(TryParseSeed(seed, out var address), nameof(Seeds), $"entry {i + 1} '{seed}' is not akka.tcp://system@host:port");
            Require(address.System == ActorSystem, nameof(Seeds), $"entry {i + 1} '{seed}' names actor system '{address.System}' but ACTORSYSTEM is '{ActorSystem}'; all members must share one name");
        }
    }

    /// <summary>
    /// Builds the settings from <paramref name="configuration"/> (the <c>Lighthouse</c> section),
    /// <paramref name="environment"/> and <paramref name="args"/>, then validates them.
    /// </summary>
    /// <returns>The settings, or null when <c>--help</c> was asked.</returns>
    /// <exception cref="LighthouseConfigurationException">A flag is unknown or a value is invalid; the message names it.</exception>
    public static LighthouseSettings? Load(string[] args, Func<string, string?> environment, IConfiguration? configuration, out string logFormat)
    {
        var settings = new LighthouseSettings();
        logFormat = "simple";
        var section = configuration?.GetSection("Lighthouse");
        if (section is not null)
        {
            settings = Apply(settings, "appsettings.json", key => section[key]);
        }

        settings = Apply(settings, "the environment", key => environment(EnvironmentName(key)));
        logFormat = environment("LOG_FORMAT") ?? logFormat;

        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                return null;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new LighthouseConfigurationException($"unexpected argument '{arg}'; flags start with --");
            }

            var name = arg[2..];
            string value;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            else if (i + 1 < args.Length)
            {
                value = args[++i];
            }
            else
            {
                throw new LighthouseConfigurationException($"flag --{name} needs a value");
            }

            if (FlagKey(name) is null && name != "log-format")
            {
                throw new LighthouseConfigurationException($"unknown flag --{name}");
            }

            flags[name] = value;
        }

        if (flags.TryGetValue("log-format", out var format))
        {
            logFormat = format;
        }

        if (logFormat is not ("simple" or "json"))
        {
            throw new LighthouseConfigurationException($"setting LOG_FORMAT (--log-format) is invalid: '{logFormat}' must be simple or json");
        }

        settings = Apply(settings, "the command line", key => flags.GetValueOrDefault(FlagName(key)));
        settings.Validate();
        return settings;
    }

    private static LighthouseSettings Apply(LighthouseSettings settings, string source, Func<string, string?> read)
    {
        var s = settings;
        if (read(nameof(ActorSystem)) is { } system)
        {
            s = s with { ActorSystem = system.Trim() };
        }

        if (read(nameof(Host)) is { } host)
        {
            s = s with { Host = host.Trim() };
        }

        if (read(nameof(Port)) is { } port)
        {
            s = s with { Port = ParsePort(port, nameof(Port), source) };
        }

        if (read(nameof(Seeds)) is { } seeds)
        {
            s = s with { Seeds = [.. seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] };
        }

        if (read(nameof(PbmHost)) is { } pbmHost)
        {
            s = s with { PbmHost = pbmHost.Trim() };
        }

        if (read(nameof(PbmPort)) is { } pbmPort)
        {
            s = s with { PbmPort = ParsePort(pbmPort, nameof(PbmPort), source) };
        }

        return s;
    }

    private static int ParsePort(string text, string setting, string source) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535
            ? port
            : throw new LighthouseConfigurationException($"setting {Names[setting]} is invalid: '{text}' (from {source}) is not a port number (1..65535)");

    private static string EnvironmentName(string key) => key switch
    {
        nameof(ActorSystem) => "ACTORSYSTEM",
        nameof(Host) => "CLUSTER_IP",
        nameof(Port) => "CLUSTER_PORT",
        nameof(Seeds) => "CLUSTER_SEEDS",
        nameof(PbmHost) => "PBM_HOST",
        nameof(PbmPort) => "PBM_PORT",
        _ => throw new ArgumentOutOfRangeException(nameof(key), key, "Not a lighthouse setting."),
    };

    private static string FlagName(string key) => key switch
    {
        nameof(ActorSystem) => "system",
        nameof(Host) => "host",
        nameof(Port) => "port",
        nameof(Seeds) => "seeds",
        nameof(PbmHost) => "pbm-host",
        nameof(PbmPort) => "pbm-port",
        _ => throw new ArgumentOutOfRangeException(nameof(key), key, "Not a lighthouse setting."),
    };

    /// <summary>Akka's rule for actor system names: letters, digits, '-' and '_', starting with a letter or digit.</summary>
    private static bool IsValidSystemName(string name) =>
        name.Length > 0 && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>A seed is an Akka.Remote TCP address without a path: <c>akka.tcp://system@host:port</c>.</summary>
    internal static bool TryParseSeed(string seed, out Address address)
    {
        const string Scheme = "akka.tcp://";
        if (seed.StartsWith(Scheme, StringComparison.Ordinal)
            && !seed.AsSpan(Scheme.Length).Contains('/')
            && ActorPath.TryParseAddress(seed, out var parsed)
            && parsed.Host is { Length: > 0 }
            && parsed.Port is >= 1 and <= 65535
            && IsValidSystemName(parsed.System))
        {
            address = parsed;
            return true;
        }

        address = null!;
        return false;
    }

    private static string? FlagKey(string flag) => Names.Keys.FirstOrDefault(k => FlagName(k) == flag);

    private static void Require(bool condition, string setting, string problem)
    {
        if (!condition)
        {
            throw new LighthouseConfigurationException($"setting {Names[setting]} is invalid: {problem}");
        }
    }
}

/// <summary>The lighthouse's configuration is invalid; the message names the setting.</summary>
internal sealed class LighthouseConfigurationException(string message) : Exception(message);
