using System.CommandLine;
using System.Text;
using KvCluster.Client.Bench;

namespace KvCluster.Client.Cli;

/// <summary>
/// <c>kv pbm &lt;host:port&gt; [&lt;command&gt;...]</c>: runs one pbm command against the command
/// host of a node or lighthouse and exits with its status (0 ok, 2 usage, 5 failed; 3 when the
/// host cannot be reached, 4 when it does not answer in time). Without a command it opens an
/// interactive prompt (<c>exit</c> or <c>quit</c> to leave, <c>history</c> to list what was typed).
/// </summary>
internal static class PbmCommand
{
    /// <summary>How long connecting may take before the host counts as unavailable.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long one response may take (the host's own command timeout is 10 s).</summary>
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Builds the <c>pbm</c> command.</summary>
    /// <param name="globals">The global options (<c>--output json</c> asks the host for JSON).</param>
    /// <param name="console">Output streams.</param>
    /// <param name="input">Lines of the interactive prompt; null for standard input.</param>
    public static Command Create(GlobalOptions globals, KvConsole console, TextReader? input = null)
    {
        var endpoint = new Argument<string>("host:port")
        {
            Description = "The pbm command host: a node's or the lighthouse's pbm port, for example 127.0.0.1:9110.",
        };
        var words = new Argument<string[]>("command")
        {
            Description = "The pbm command, for example: cluster show. Omit it for an interactive prompt. 'help' lists the commands.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("pbm", "Run pbm commands (cluster show, cluster down, actor hierarchy, ...) against a node's or the lighthouse's command host.")
        {
            endpoint,
            words,
        };

        // The remote command's own options (actor hierarchy -d 2) are not kv's: pass them through.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var endpointText = parseResult.GetValue(endpoint) ?? string.Empty;
            var parsed = BenchEndpoint.TryParseList(endpointText, out var error);
            if (parsed is not { Count: 1 })
            {
                return KvCli.UsageError(parseResult, parsed is null ? $"pbm host: {error}" : $"pbm host: give one host:port, not '{endpointText}'", console);
            }

            var remote = RemoteWords(parseResult, endpointText);
            var json = parseResult.GetValue(globals.Output) == "json";
            return remote.Count == 0
                ? await RunInteractiveAsync(parsed[0], json, console, input ?? Console.In, cancellationToken).ConfigureAwait(false)
                : await RunOnceAsync(parsed[0], JoinCommandLine(remote), json, console, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>Runs one command line and returns the exit code.</summary>
    internal static async Task<int> RunOnceAsync(BenchEndpoint endpoint, string commandLine, bool json, KvConsole console, CancellationToken cancellationToken)
    {
        PbmClient client;
        try
        {
            client = await PbmClient.ConnectAsync(endpoint.Host, endpoint.Port, ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (PbmUnavailableException ex)
        {
            console.Error.WriteLine($"kv: error: {ex.Message}");
            return ExitCodes.Unavailable;
        }

        await using (client.ConfigureAwait(false))
        {
            var (code, _) = await SendAndPrintAsync(client, endpoint, commandLine, json, console, cancellationToken).ConfigureAwait(false);
            return code;
        }
    }

    /// <summary>
    /// The interactive prompt: reads lines until <c>exit</c>, <c>quit</c> or the end of input, sends
    /// each to the host over one connection (reconnecting once if it broke) and prints the answer.
    /// </summary>
    internal static async Task<int> RunInteractiveAsync(BenchEndpoint endpoint, bool json, KvConsole console, TextReader input, CancellationToken cancellationToken)
    {
        PbmClient? client;
        try
        {
            client = await PbmClient.ConnectAsync(endpoint.Host, endpoint.Port, ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (PbmUnavailableException ex)
        {
            console.Error.WriteLine($"kv: error: {ex.Message}");
            return ExitCodes.Unavailable;
        }

        var history = new List<string>();
        var reader = new PbmLineReader(input, history, console.IsInteractive && ReferenceEquals(input, Console.In) && !Console.IsInputRedirected);
        var prompt = console.IsInteractive ? $"pbm {endpoint}> " : null;
        console.Out.WriteLine($"connected to pbm host {endpoint}; type help for the commands, exit or quit to leave");
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var line = reader.ReadLine(prompt, console.Out)?.Trim();
                if (line is null || line is "exit" or "quit")
                {
                    return ExitCodes.Success;
                }

                if (line.Length == 0)
                {
                    continue;
                }

                if (line == "history")
                {
                    for (var i = 0; i < history.Count; i++)
                    {
                        console.Out.WriteLine($"{i + 1,4}  {history[i]}");
                    }

                    continue;
                }

                history.Add(line);
                var (_, broken) = await SendAndPrintAsync(client, endpoint, line, json, console, cancellationToken).ConfigureAwait(false);
                if (broken)
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                    try
                    {
                        client = await PbmClient.ConnectAsync(endpoint.Host, endpoint.Port, ConnectTimeout, cancellationToken).ConfigureAwait(false);
                        console.Error.WriteLine($"reconnected to {endpoint}");
                    }
                    catch (PbmUnavailableException ex)
                    {
                        client = null;
                        console.Error.WriteLine($"kv: error: {ex.Message}");
                        return ExitCodes.Unavailable;
                    }
                }
            }

            return ExitCodes.Interrupted;
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends a line, prints the reply, and returns the exit code and whether the connection broke.</summary>
    private static async Task<(int Code, bool Broken)> SendAndPrintAsync(PbmClient client, BenchEndpoint endpoint, string line, bool json, KvConsole console, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(ResponseTimeout);
        PbmReply reply;
        try
        {
            reply = await client.SendAsync(json ? "--output json " + line : line, deadline.Token).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            console.Error.WriteLine($"kv: error: pbm host {endpoint}: {ex.Message}");
            return (ExitCodes.Unavailable, true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            console.Error.WriteLine($"kv: error: pbm host {endpoint} did not answer '{line}' within {ResponseTimeout.TotalSeconds:0} s");
            return (ExitCodes.Timeout, true);
        }
        catch (OperationCanceledException)
        {
            return (ExitCodes.Interrupted, true);
        }

        var code = reply.Status switch
        {
            "ok" => ExitCodes.Success,
            "usage" => ExitCodes.Usage,
            _ => ExitCodes.Rejected,
        };
        if (json || code == ExitCodes.Success)
        {
            console.Out.WriteLine(reply.Body);
        }
        else
        {
            console.Error.WriteLine($"kv: error: {reply.Body}");
        }

        return (code, false);
    }

    /// <summary>
    /// The words after <c>pbm &lt;host:port&gt;</c>, in the order typed, including the remote
    /// command's own options that kv's parser left unmatched (<c>-d 2</c>), without kv's global options.
    /// </summary>
    private static List<string> RemoteWords(ParseResult parseResult, string endpointText)
    {
        var tokens = parseResult.Tokens;
        var start = 0;
        while (start < tokens.Count && !(tokens[start].Type == System.CommandLine.Parsing.TokenType.Command && tokens[start].Value == "pbm"))
        {
            start++;
        }

        var result = new List<string>();
        var endpointSeen = false;
        for (var i = start + 1; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Type == System.CommandLine.Parsing.TokenType.Option)
            {
                i++; // a kv option (--output, --endpoints) and its value
                continue;
            }

            if (!endpointSeen && token.Value == endpointText)
            {
                endpointSeen = true;
                continue;
            }

            result.Add(token.Value);
        }

        return result;
    }

    /// <summary>Joins words into one command line, quoting words with spaces or quotes.</summary>
    internal static string JoinCommandLine(IEnumerable<string> words)
    {
        var text = new StringBuilder();
        foreach (var word in words)
        {
            if (text.Length > 0)
            {
                text.Append(' ');
            }

            if (word.Length > 0 && !word.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\'))
            {
                text.Append(word);
            }
            else
            {
                text.Append('"').Append(word.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
            }
        }

        return text.ToString();
    }
}
