using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Etcd;

/// <summary>
/// The client port's logger factory: the node's, minus Kestrel's start-up warning that HTTP/2 needs TLS (event 64),
/// which is wrong for this endpoint: <see cref="H2cPriorKnowledge"/> serves cleartext HTTP/2 on it, as etcd does.
/// A warning for what is normal would teach operators to ignore warnings; every other Kestrel event passes.
/// </summary>
internal sealed class ExpectedWarningFilter(ILoggerFactory inner) : ILoggerFactory
{
    /// <summary>Kestrel's category and the id of its "HTTP/2 is not enabled ... TLS is not enabled" warning.</summary>
    private const string KestrelCategory = "Microsoft.AspNetCore.Server.Kestrel";
    private const int Http2WithoutTlsEventId = 64;

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName == KestrelCategory ? new Filtered(logger) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>The node owns the inner factory.</summary>
    public void Dispose()
    {
    }

    private sealed class Filtered(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != Http2WithoutTlsEventId)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
