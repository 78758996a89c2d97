using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using KvCluster.Client;
using Microsoft.Extensions.Logging;

namespace KvCluster.Tests.Node;

/// <summary>A kv client that leaves (its actor system stops, or its process exits) leaves no warning on the node (issue 14).</summary>
[Trait("Category", "Integration")]
public sealed class ClientDepartureLogTests
{
    [Fact]
    public async Task ClientLibraryDisposed_LeavesNoWarningOnTheNode()
    {
        var log = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Debug));
        await using var cluster = await KvTestCluster.StartAsync(size: 1, loggers: loggers);
        await cluster.AwaitLeaderAsync();
        var mark = log.Count;

        await using (var client = await cluster.ClientAsync())
        {
            await client.PutAsync(Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes("v"));
        }

        await Task.Delay(TimeSpan.FromSeconds(8));
        AssertNoWarnings(log.Since(mark));
    }

    [Fact]
    public async Task KvCommandProcess_LeavesNoWarningOnTheNode()
    {
        var log = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Debug));
        await using var cluster = await KvTestCluster.StartAsync(size: 1, loggers: loggers);
        await cluster.AwaitLeaderAsync();
        var mark = log.Count;

        for (var i = 0; i < 2; i++)
        {
            using var kv = Process.Start(KvProcess("--via", "akka", "--endpoints", cluster.Options[0].Endpoint.ToString(), "put", $"p{i}", "v"))!;
            Assert.True(kv.WaitForExit(30_000), "kv did not exit");
            Assert.True(kv.ExitCode == 0, await kv.StandardError.ReadToEndAsync());
        }

        await Task.Delay(TimeSpan.FromSeconds(12));
        AssertNoWarnings(log.Since(mark));
    }

    private static void AssertNoWarnings(IEnumerable<CapturedEntry> entries)
    {
        var warnings = entries.Where(e => e.Level >= LogLevel.Warning && !IsTestOnlyNoise(e)).Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception}").ToList();
        Assert.True(warnings.Count == 0, string.Join("\n", warnings));
    }

    /// <summary>
    /// Warnings that are not about the client: serialize-messages (tests only) cannot round-trip Akka.Persistence.Sql's
    /// internal WriteFinished, which Akka logs as an error at every write (production runs without it); and Akka.Cluster's
    /// "heartbeat was delayed", which says the test machine's CPU is starved (CI shares 2 cores), a true warning the
    /// node must keep giving.
    /// </summary>
    private static bool IsTestOnlyNoise(CapturedEntry entry) =>
        entry.Exception?.Contains("WriteFinished", StringComparison.Ordinal) == true
        || (entry.Category.EndsWith("ClusterHeartbeatSender", StringComparison.Ordinal) && entry.Message.Contains("heartbeat was delayed", StringComparison.Ordinal));

    private static ProcessStartInfo KvProcess(params string[] args)
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory);
        var root = baseDir.Parent!.Parent!.Parent!.Parent!.FullName;
        var own = Path.Combine(root, "KvCluster.Client", "bin", baseDir.Parent!.Name, baseDir.Name, "kv.dll");
        var dll = File.Exists(own) ? own : Path.Combine(AppContext.BaseDirectory, "kv.dll");
        var info = new ProcessStartInfo(Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }
}

/// <summary>One captured log entry.</summary>
internal sealed record CapturedEntry(LogLevel Level, string Category, string Message, string? Exception);

/// <summary>An <see cref="ILoggerProvider"/> that keeps every entry, for specs about what a node logs.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedEntry> _entries = new();

    public int Count => _entries.Count;

    public IReadOnlyList<CapturedEntry> Since(int mark) => [.. _entries.Skip(mark)];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<CapturedEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new CapturedEntry(logLevel, category, formatter(state, exception), exception?.ToString()));
    }
}
