using Microsoft.Extensions.Logging;
using Xunit.Sdk;

namespace KvCluster.Actors.TestKit;

/// <summary>
/// Assertions on log entries written by the system under test (Akka's EventFilter, on top of
/// Microsoft.Extensions.Logging): <c>EventFilter.Error&lt;InvalidOperationException&gt;().ExpectOne(() =&gt; actor.Tell("boom"))</c>.
/// </summary>
public sealed class EventFilter
{
    private readonly TestKitBase _kit;
    private readonly CapturingLoggerProvider _logs;

    internal EventFilter(TestKitBase kit, CapturingLoggerProvider logs)
    {
        _kit = kit;
        _logs = logs;
    }

    /// <summary>Matches Error entries carrying an exception of type <typeparamref name="TException"/> (or a subclass); optionally the message must contain <paramref name="contains"/>.</summary>
    public LogMatcher Error<TException>(string? contains = null) where TException : Exception
    {
        return new LogMatcher(_kit, _logs, e => e.Level >= LogLevel.Error && e.Exception is TException && Contains(e, contains),
            $"an Error with {typeof(TException).Name}{(contains is null ? "" : $" containing '{contains}'")}");
    }

    /// <summary>Matches entries at <paramref name="level"/> whose message contains <paramref name="contains"/>.</summary>
    public LogMatcher Level(LogLevel level, string contains)
    {
        return new LogMatcher(_kit, _logs, e => e.Level == level && Contains(e, contains), $"a {level} entry containing '{contains}'");
    }

    /// <summary>Matches Warning entries containing <paramref name="contains"/>.</summary>
    public LogMatcher Warning(string contains) => Level(LogLevel.Warning, contains);

    /// <summary>Matches Information entries containing <paramref name="contains"/>.</summary>
    public LogMatcher Info(string contains) => Level(LogLevel.Information, contains);

    private static bool Contains(LogEntry entry, string? text) => text is null || entry.Message.Contains(text, StringComparison.Ordinal);
}

/// <summary>A log-entry predicate with expectations on how many matching entries an action produces.</summary>
public sealed class LogMatcher
{
    private readonly TestKitBase _kit;
    private readonly CapturingLoggerProvider _logs;
    private readonly Func<LogEntry, bool> _predicate;
    private readonly string _description;

    internal LogMatcher(TestKitBase kit, CapturingLoggerProvider logs, Func<LogEntry, bool> predicate, string description)
    {
        _kit = kit;
        _logs = logs;
        _predicate = predicate;
        _description = description;
    }

    /// <summary>Runs <paramref name="action"/> and waits until exactly one new matching entry was logged.</summary>
    public void ExpectOne(Action action) => Expect(1, action);

    /// <summary>Runs <paramref name="action"/> and waits until <paramref name="count"/> new matching entries were logged (more fails).</summary>
    public void Expect(int count, Action action, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        var before = Count();
        action();
        _kit.AwaitCondition(() => Count() - before >= count, timeout, message: $"expected {count} × {_description}, saw {Count() - before}");
        var seen = Count() - before;
        if (seen != count)
        {
            throw new XunitException($"Expected {count} × {_description} but saw {seen}.");
        }
    }

    /// <summary>Number of matching entries logged so far.</summary>
    public int Count() => _logs.Entries.Count(_predicate);
}
