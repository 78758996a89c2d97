using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;

namespace KvCluster.Client;

/// <summary>Carries the <see cref="ILoggerFactory"/> a client was given to its actor system's logger.</summary>
internal sealed class KvClientLoggerSetup(ILoggerFactory loggerFactory) : Setup
{
    public ILoggerFactory LoggerFactory { get; } = loggerFactory;
}

/// <summary>
/// The client actor system's logger: Akka's log events go to the <see cref="ILoggerFactory"/> given to
/// <see cref="KvClient.ConnectAsync"/> (category <c>Akka</c> plus the source's class), and nowhere without one.
/// </summary>
internal sealed class KvClientLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly ILoggerFactory? _factory;

    public KvClientLogger()
    {
        _factory = Context.System.Settings.Setup.Get<KvClientLoggerSetup>().Value?.LoggerFactory;
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Log);
    }

    private void Log(LogEvent e)
    {
        if (_factory is null)
        {
            return;
        }

        var level = e.LogLevel() switch
        {
            Akka.Event.LogLevel.DebugLevel => Microsoft.Extensions.Logging.LogLevel.Debug,
            Akka.Event.LogLevel.InfoLevel => Microsoft.Extensions.Logging.LogLevel.Information,
            Akka.Event.LogLevel.WarningLevel => Microsoft.Extensions.Logging.LogLevel.Warning,
            _ => Microsoft.Extensions.Logging.LogLevel.Error,
        };
        var logger = _factory.CreateLogger($"Akka.{e.LogClass?.Name ?? "Client"}");
        if (logger.IsEnabled(level))
        {
            logger.Log(level, e.Cause, "{LogSource}: {Message}", e.LogSource, e.Message);
        }
    }
}
