using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Etcd;

/// <summary>
/// The client port's logger factory: the node's, minus two warnings for what is normal there. A warning for what is
/// normal would teach operators to ignore warnings; every other event passes as it is.
/// <list type="bullet">
/// <item>Kestrel's start-up warning that HTTP/2 needs TLS (event 64): wrong for this endpoint, where
/// <see cref="H2cPriorKnowledge"/> serves cleartext HTTP/2, as etcd does. Dropped.</item>
/// <item>The health check service's "completed with status Unhealthy" (event 103, an error): the gRPC health service
/// answers NOT_SERVING while the node knows no leader (an election, a lost quorum), which the Raft log reports
/// already. Logged at Debug instead.</item>
/// </list>
/// </summary>
internal sealed class ExpectedWarningFilter(ILoggerFactory inner) : ILoggerFactory
{
    /// <summary>Kestrel's category and the id of its "HTTP/2 is not enabled ... TLS is not enabled" warning.</summary>
    private const string KestrelCategory = "Microsoft.AspNetCore.Server.Kestrel";
    private const int Http2WithoutTlsEventId = 64;

    /// <summary>The health check service's category and the id of its per-check "completed" event.</summary>
    private const string HealthChecksCategory = "Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService";
    private const int HealthCheckEndEventId = 103;

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName switch
        {
            KestrelCategory => new Filtered(logger, Http2WithoutTlsEventId, null),
            HealthChecksCategory => new Filtered(logger, HealthCheckEndEventId, LogLevel.Debug),
            _ => logger,
        };
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>The node owns the inner factory.</summary>
    public void Dispose()
    {
    }

    /// <summary>A logger that drops event <paramref name="eventId"/> (<paramref name="lowerTo"/> null) or logs it at
    /// <paramref name="lowerTo"/> when it comes at a higher level.</summary>
    private sealed class Filtered(ILogger inner, int eventId, LogLevel? lowerTo) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId logged, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logged.Id != eventId)
            {
                inner.Log(logLevel, logged, state, exception, formatter);
            }
            else if (lowerTo is { } level)
            {
                var lowered = logLevel > level ? level : logLevel;
                if (inner.IsEnabled(lowered))
                {
                    inner.Log(lowered, logged, state, exception, formatter);
                }
            }
        }
    }
}
