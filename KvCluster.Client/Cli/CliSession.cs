using System.CommandLine;

namespace KvCluster.Client.Cli;

/// <summary>
/// The connection the data commands use. One-shot commands connect, run and disconnect; <c>kv shell</c> connects once
/// and sets <see cref="Shared"/> so every line it runs reuses that client.
/// </summary>
internal sealed class CliSession
{
    /// <summary>The default contact point: a node started with no arguments on this machine.</summary>
    public static readonly KvEndpoint DefaultEndpoint = new("127.0.0.1", KvWireTypes.DefaultNodePort);

    /// <summary>
    /// Environment variable naming the address kv's own listener binds and advertises (nodes send replies there);
    /// default 127.0.0.1. Set it when the nodes are not on this machine's loopback (local-cluster.sh --netns).
    /// </summary>
    public const string ClientHostVariable = "KV_CLIENT_HOST";

    /// <summary>The client of the running shell, or null.</summary>
    public KvClient? Shared { get; set; }

    /// <summary>The <c>--timeout</c> option (every command's deadline, connecting included); null: 5 s.</summary>
    public Option<TimeSpan>? TimeoutOption { get; set; }

    /// <summary>The command's deadline: <c>--timeout</c> when positive, else 5 s.</summary>
    public TimeSpan TimeoutOf(ParseResult parseResult)
    {
        var timeout = TimeoutOption is null ? TimeSpan.Zero : parseResult.GetValue(TimeoutOption);
        return timeout > TimeSpan.Zero ? timeout : TimeSpan.FromSeconds(5);
    }

    /// <summary>
    /// The contact points: <c>--endpoints</c>, else <c>KV_ENDPOINTS</c>, else <see cref="DefaultEndpoint"/>.
    /// </summary>
    /// <exception cref="FormatException">The list is malformed; the message says how.</exception>
    public static IReadOnlyList<KvEndpoint> EndpointsOf(ParseResult parseResult, GlobalOptions globals, KvConsole console)
    {
        var text = parseResult.GetValue(globals.Endpoints) ?? console.GetEnvironmentVariable(KvCli.EndpointsVariable);
        return string.IsNullOrWhiteSpace(text) ? [DefaultEndpoint] : KvEndpoint.ParseList(text);
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a client (the shell's, or a new one for this command) and maps the client's
    /// errors to exit codes with one line on standard error. The command's <c>--timeout</c> bounds it all: connecting
    /// takes from it, and <paramref name="work"/> is given what is left.
    /// </summary>
    public async Task<int> RunAsync(ParseResult parseResult, GlobalOptions globals, KvConsole console, Func<KvClient, TimeSpan, Task<int>> work, CancellationToken cancellationToken)
    {
        var budget = TimeoutOf(parseResult);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            if (Shared is { } shared)
            {
                return await work(shared, budget).ConfigureAwait(false);
            }

            IReadOnlyList<KvEndpoint> endpoints;
            try
            {
                endpoints = EndpointsOf(parseResult, globals, console);
            }
            catch (FormatException e)
            {
                return KvCli.UsageError(parseResult, $"--endpoints: {e.Message}", console);
            }

            var options = new KvClientOptions { Endpoints = endpoints, ConnectTimeout = budget, RequestTimeout = budget };
            if (console.GetEnvironmentVariable(ClientHostVariable) is { Length: > 0 } localHost)
            {
                options = options with { LocalHost = localHost };
            }

            await using var client = await KvClient.ConnectAsync(options, cancellationToken: cancellationToken).ConfigureAwait(false);
            var left = budget - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            return await work(client, left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
        }
        catch (KvBadRequestException e)
        {
            return Fail(console, "rejected", e.Message, ExitCodes.Rejected);
        }
        catch (KvTimeoutException e)
        {
            return Fail(console, "timeout", e.Message, ExitCodes.Timeout);
        }
        catch (KvNotLeaderException e)
        {
            return Fail(console, "unavailable", e.Message, ExitCodes.Unavailable);
        }
        catch (KvUnavailableException e)
        {
            return Fail(console, "unavailable", e.Message, ExitCodes.Unavailable);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Fail(console, "interrupted", "the command was interrupted; a write may or may not have been committed", ExitCodes.Interrupted);
        }
    }

    /// <summary>Prints <c>kv: {kind}: {message}</c> on one line of standard error and returns <paramref name="code"/>.</summary>
    public static int Fail(KvConsole console, string kind, string message, int code)
    {
        var oneLine = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        console.Error.WriteLine($"kv: {kind}: {oneLine}");
        return code;
    }
}
