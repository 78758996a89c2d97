using Akka.Actor;
using Akka.Event;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace KvCluster.Pbm;

/// <summary>
/// An <see cref="ILogger"/> that writes into an actor system's own log (Akka's <c>Logging.GetLogger</c>),
/// for a <see cref="CommandHost"/> created without a logger factory. The message is formatted
/// here and passed as one argument, so braces in a client's command line are never read as a template.
/// </summary>
internal sealed class AkkaLogger : ILogger
{
    private readonly ILoggingAdapter _log;

    public AkkaLogger(ActorSystem system, string source)
    {
        _log = Logging.GetLogger(system, source);
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => ToAkka(logLevel) is { } level && _log.IsEnabled(level);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (ToAkka(logLevel) is not { } level || !_log.IsEnabled(level))
        {
            return;
        }

        var message = formatter(state, exception);
        _log.Log(level, exception, "{0}", message);
    }

    private static AkkaLogLevel? ToAkka(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => AkkaLogLevel.DebugLevel,
        LogLevel.Information => AkkaLogLevel.InfoLevel,
        LogLevel.Warning => AkkaLogLevel.WarningLevel,
        LogLevel.Error or LogLevel.Critical => AkkaLogLevel.ErrorLevel,
        _ => null,
    };
}
