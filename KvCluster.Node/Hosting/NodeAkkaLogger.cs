using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace KvCluster.Node.Hosting;

/// <summary>
/// The node's Akka logger: every Akka log event goes to Microsoft.Extensions.Logging, so the node has one log with one
/// format and one set of level settings. Registered with Akka.Hosting's <c>ConfigureLoggers</c> in place of its
/// <c>LoggerFactoryLogger</c>, for two reasons:
/// <list type="number">
/// <item>The category is the class that logged (<c>Akka.Remote.EndpointWriter</c>, <c>KvCluster.Node.Router.KvRouter</c>),
/// so <c>Logging:LogLevel:Akka.Remote</c> in appsettings.json works, and the line carries the actor path once.</item>
/// <item>A <c>kv</c> client is an actor system of its own (not a cluster member); when it leaves, Akka.Remote's endpoint
/// actors log the lost association as a warning or an error. For an address of another actor system than the node's
/// (every client) those events are logged at Debug: a client that leaves is not a problem. Events about the cluster's
/// own members (same system name) keep their level, so a peer's real trouble stays visible.</item>
/// </list>
/// </summary>
internal sealed partial class NodeAkkaLogger : ActorBase, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly string _systemName;
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    /// <summary>Creates the logger; Akka does, when the system starts (it needs a <see cref="NodeLoggingSetup"/>).</summary>
    public NodeAkkaLogger()
    {
        var setup = Context.System.Settings.Setup.Get<NodeLoggingSetup>();
        if (!setup.HasValue)
        {
            throw new InvalidOperationException($"{nameof(NodeAkkaLogger)} needs a {nameof(NodeLoggingSetup)} in the actor system's setup.");
        }

        _loggerFactory = setup.Value.LoggerFactory;
        _systemName = Context.System.Name;
    }

    /// <inheritdoc />
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case InitializeLogger:
                Sender.Tell(new LoggerInitialized());
                return true;
            case LogEvent logEvent:
                Write(logEvent);
                return true;
            default:
                return false;
        }
    }

    private void Write(LogEvent logEvent)
    {
        var category = Category(logEvent);
        var logger = _loggers.GetOrAdd(category, _loggerFactory.CreateLogger);
        var text = logEvent.Message?.ToString() ?? string.Empty;
        var level = Level(logEvent.LogLevel());
        if (level >= LogLevel.Warning && IsAboutAClient(logEvent.LogSource, text))
        {
            level = LogLevel.Debug;
        }

        if (logger.IsEnabled(level))
        {
            logger.Log(level, logEvent.Cause, "{AkkaSource}: {AkkaMessage}", logEvent.LogSource, text);
        }
    }

    /// <summary>True when the event names a remote address of another actor system than this node's (a client).</summary>
    private bool IsAboutAClient(string? source, string text)
    {
        // The source may start with this node's own address; the remote one follows (URL-encoded in the actor name).
        var matches = AddressPattern().Matches(Uri.UnescapeDataString(source ?? string.Empty) + " " + text);
        return matches.Any(m => !string.Equals(m.Groups["system"].Value, _systemName, StringComparison.Ordinal));
    }

    /// <summary>The logging class; for Akka's string sources ("Cluster (akka://akkakv)"), the module they belong to.</summary>
    private static string Category(LogEvent logEvent)
    {
        var type = logEvent.LogClass;
        if (type is not null && type != typeof(DummyClassForStringSources))
        {
            return type.FullName ?? type.Name;
        }

        var source = logEvent.LogSource ?? string.Empty;
        return source.StartsWith("remoting", StringComparison.Ordinal) ? "Akka.Remote"
            : source.StartsWith("Cluster", StringComparison.Ordinal) ? "Akka.Cluster"
            : source.StartsWith("CoordinatedShutdown", StringComparison.Ordinal) ? "Akka.Actor.CoordinatedShutdown"
            : "Akka";
    }

    private static LogLevel Level(AkkaLogLevel level) => level switch
    {
        AkkaLogLevel.DebugLevel => LogLevel.Debug,
        AkkaLogLevel.InfoLevel => LogLevel.Information,
        AkkaLogLevel.WarningLevel => LogLevel.Warning,
        _ => LogLevel.Error,
    };

    [GeneratedRegex(@"akka(?:\.[a-z]+)*://(?<system>[A-Za-z0-9][A-Za-z0-9_-]*)@[^\s/\]]+:\d+")]
    private static partial Regex AddressPattern();
}

/// <summary>Hands the node's <see cref="ILoggerFactory"/> to <see cref="NodeAkkaLogger"/> through the actor system's setup.</summary>
internal sealed class NodeLoggingSetup : Setup
{
    /// <summary>Creates the setup.</summary>
    /// <param name="loggerFactory">Where Akka's log events go.</param>
    public NodeLoggingSetup(ILoggerFactory loggerFactory)
    {
        LoggerFactory = loggerFactory;
    }

    /// <summary>Where Akka's log events go.</summary>
    public ILoggerFactory LoggerFactory { get; }
}
