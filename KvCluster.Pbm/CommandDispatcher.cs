using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.Extensions.Logging;

namespace KvCluster.Pbm;

/// <summary>The response to one command line: its status and its body (text, or one JSON object with <c>--output json</c>).</summary>
/// <param name="Status">The outcome.</param>
/// <param name="Body">Text output, or the JSON document in JSON mode.</param>
public readonly record struct CommandResponse(CommandStatus Status, string Body);

/// <summary>
/// Turns a command line into a response: tokenizes it, takes the host option <c>--output</c>,
/// answers <c>help</c>, finds the palette and command, binds the arguments and runs the handler
/// under the command timeout. Never throws for anything a client sends. Thread-safe.
/// </summary>
internal sealed class CommandDispatcher
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = false };

    private readonly ActorSystem _system;
    private readonly CommandHostSettings _settings;
    private readonly ILogger _logger;
    private readonly object _registerLock = new();
    private ImmutableList<ICommandPalette> _palettes = [];

    public CommandDispatcher(ActorSystem system, CommandHostSettings settings, ILogger logger)
    {
        _system = system;
        _settings = settings;
        _logger = logger;
    }

    /// <summary>The registered palettes, in registration order.</summary>
    public IReadOnlyList<ICommandPalette> Palettes => Volatile.Read(ref _palettes);

    /// <summary>Adds a palette after checking its names.</summary>
    /// <exception cref="ArgumentException">A name is invalid or already taken.</exception>
    public void Register(ICommandPalette palette)
    {
        ArgumentNullException.ThrowIfNull(palette);
        var name = palette.Name;
        if (!IsValidName(name) || name == "help")
        {
            throw new ArgumentException($"Palette name '{name}' is invalid: use lowercase letters, digits and '-', starting with a letter; 'help' is reserved.", nameof(palette));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var command in palette.Commands)
        {
            if (!IsValidName(command.Name) || !seen.Add(command.Name))
            {
                throw new ArgumentException($"Palette '{name}': command name '{command.Name}' is invalid or repeated (lowercase letters, digits and '-').", nameof(palette));
            }

            var optionalSeen = false;
            foreach (var argument in command.Arguments)
            {
                if (optionalSeen && argument.IsRequired)
                {
                    throw new ArgumentException($"Palette '{name}', command '{command.Name}': required argument <{argument.Name}> follows an optional one.", nameof(palette));
                }

                optionalSeen |= !argument.IsRequired;
            }
        }

        lock (_registerLock)
        {
            if (_palettes.Any(p => p.Name == name))
            {
                throw new ArgumentException($"A palette named '{name}' is already registered.", nameof(palette));
            }

            Volatile.Write(ref _palettes, _palettes.Add(palette));
        }
    }

    /// <summary>Runs one command line. <paramref name="stopping"/> fires when the host stops.</summary>
    public async Task<CommandResponse> ExecuteAsync(string line, CancellationToken stopping)
    {
        var words = CommandLineParser.Tokenize(line, out var problem);
        if (words is null)
        {
            return Render(false, line, CommandResult.UsageError(problem!), "help");
        }

        var json = false;
        if (words.Count > 0 && (words[0] == "--output" || words[0] == "-o" || words[0].StartsWith("--output=", StringComparison.Ordinal)))
        {
            var format = words[0].StartsWith("--output=", StringComparison.Ordinal) ? words[0]["--output=".Length..] : words.Count > 1 ? words[1] : string.Empty;
            words.RemoveRange(0, words[0].Contains('=', StringComparison.Ordinal) ? 1 : Math.Min(2, words.Count));
            if (format is not ("json" or "text"))
            {
                return Render(false, line, CommandResult.UsageError($"--output must be 'text' or 'json' (got '{format}')"), "[--output text|json] <palette> <command> [arguments]");
            }

            json = format == "json";
        }

        if (words.Count == 0)
        {
            return Render(json, line, CommandResult.UsageError("no command given; 'help' lists the commands"), "<palette> <command> [arguments]");
        }

        if (words[0] == "help")
        {
            return Render(json, line, Help(words.Skip(1).ToList()), "help [<palette> [<command>]]");
        }

        var palette = Palettes.FirstOrDefault(p => p.Name == words[0]);
        if (palette is null)
        {
            return Render(json, line, CommandResult.UsageError($"unknown command '{words[0]}'; palettes: {string.Join(", ", Palettes.Select(p => p.Name).Prepend("help"))}"), "<palette> <command> [arguments]");
        }

        var paletteUsage = $"{palette.Name} <{string.Join('|', palette.Commands.Select(c => c.Name))}> [arguments]";
        if (words.Count == 1 || words[1] is "-h" or "--help")
        {
            return words.Count == 1
                ? Render(json, line, CommandResult.UsageError($"missing the {palette.Name} command; 'help {palette.Name}' describes them"), paletteUsage)
                : Render(json, line, Help([palette.Name]), paletteUsage);
        }

        var command = palette.Commands.FirstOrDefault(c => c.Name == words[1]);
        if (command is null)
        {
            return Render(json, line, CommandResult.UsageError($"unknown {palette.Name} command '{words[1]}'"), paletteUsage);
        }

        var usage = CommandLineParser.Usage(palette, command);
        var arguments = CommandLineParser.Bind(command, words.GetRange(2, words.Count - 2), out var helpRequested, out problem);
        if (helpRequested)
        {
            return Render(json, line, CommandResult.Ok(DetailedHelp(palette, command)), usage);
        }

        if (arguments is null)
        {
            return Render(json, line, CommandResult.UsageError(problem!), usage);
        }

        return Render(json, line, await RunAsync(palette, command, arguments, stopping).ConfigureAwait(false), usage);
    }

    private async Task<CommandResult> RunAsync(ICommandPalette palette, CommandDefinition command, CommandArguments arguments, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(_settings.CommandTimeout);
        var context = new CommandContext(_system, palette, command, arguments, _settings.CommandTimeout, deadline.Token);
        try
        {
            // Task.Run: a handler that blocks before its first await must not hold the connection's reader.
            return await Task.Run(() => command.Handler(context), deadline.Token).WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return stopping.IsCancellationRequested
                ? CommandResult.Failed("the command host is stopping")
                : CommandResult.Failed($"{palette.Name} {command.Name} did not finish within {_settings.CommandTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (AskTimeoutException ex)
        {
            return CommandResult.Failed($"no answer in time: {ex.Message}");
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Command '{Palette} {Command}' threw.", palette.Name, command.Name);
            return CommandResult.Failed($"{palette.Name} {command.Name} failed: {ex.Message}");
        }
    }

    private CommandResult Help(List<string> words)
    {
        if (words.Count == 0)
        {
            var text = new StringBuilder("Commands (help <palette> for one palette, <palette> <command> --help for one command):\n");
            text.Append(Row("help [<palette> [<command>]]", "This list, or the commands of one palette."));
            var data = new JsonArray();
            foreach (var palette in Palettes)
            {
                text.Append('\n').Append(palette.Name).Append(": ").Append(palette.Description);
                foreach (var command in palette.Commands)
                {
                    text.Append('\n').Append(Row(CommandLineParser.Usage(palette, command), command.Description));
                }

                data.Add(PaletteJson(palette));
            }

            text.Append("\n\nPrefix a command with --output json for one JSON object per response.");
            return CommandResult.Ok(text.ToString(), new JsonObject { ["palettes"] = data });
        }

        var named = Palettes.FirstOrDefault(p => p.Name == words[0]);
        if (named is null)
        {
            return CommandResult.UsageError($"no palette named '{words[0]}'; palettes: {string.Join(", ", Palettes.Select(p => p.Name))}");
        }

        if (words.Count >= 2)
        {
            var command = named.Commands.FirstOrDefault(c => c.Name == words[1]);
            return command is null
                ? CommandResult.UsageError($"unknown {named.Name} command '{words[1]}'")
                : CommandResult.Ok(DetailedHelp(named, command));
        }

        var lines = new StringBuilder(named.Name).Append(": ").Append(named.Description);
        foreach (var command in named.Commands)
        {
            lines.Append('\n').Append(Row(CommandLineParser.Usage(named, command), command.Description));
        }

        return CommandResult.Ok(lines.ToString(), PaletteJson(named));
    }

    private static string DetailedHelp(ICommandPalette palette, CommandDefinition command)
    {
        var text = new StringBuilder("usage: ").Append(CommandLineParser.Usage(palette, command)).Append('\n').Append(command.Description);
        foreach (var argument in command.Arguments)
        {
            text.Append('\n').Append(Row($"<{argument.Name}>", argument.IsRequired ? argument.Description : $"{argument.Description} (optional)"));
        }

        foreach (var option in command.Options)
        {
            var names = (option.Alias is { } alias ? $"-{alias}, " : string.Empty) + $"--{option.Name}" + (option.ValueName is null ? string.Empty : $" <{option.ValueName}>");
            text.Append('\n').Append(Row(names, option.Description));
        }

        return text.ToString();
    }

    private static JsonObject PaletteJson(ICommandPalette palette) => new()
    {
        ["name"] = palette.Name,
        ["description"] = palette.Description,
        ["commands"] = new JsonArray([.. palette.Commands.Select(c => (JsonNode)new JsonObject
        {
            ["name"] = c.Name,
            ["usage"] = CommandLineParser.Usage(palette, c),
            ["description"] = c.Description,
        })]),
    };

    private static string Row(string left, string right) => $"  {left,-44} {right}";

    private static CommandResponse Render(bool json, string line, CommandResult result, string usage)
    {
        var text = result.Status == CommandStatus.Usage ? $"{result.Output}\nusage: {usage}" : result.Output;
        if (!json)
        {
            return new CommandResponse(result.Status, text);
        }

        var document = new JsonObject
        {
            ["status"] = StatusWord(result.Status),
            ["command"] = line,
            ["output"] = text,
            ["data"] = result.Data?.DeepClone(),
        };
        return new CommandResponse(result.Status, document.ToJsonString(s_json));
    }

    /// <summary>The wire word of a status: <c>ok</c>, <c>usage</c> or <c>failed</c>.</summary>
    public static string StatusWord(CommandStatus status) => status switch
    {
        CommandStatus.Ok => "ok",
        CommandStatus.Usage => "usage",
        _ => "failed",
    };

    private static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name[0] is >= 'a' and <= 'z' && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');
}
