using System.Text.Json.Nodes;

namespace KvCluster.Pbm;

/// <summary>The status of a command's response, the first line of every response frame.</summary>
public enum CommandStatus
{
    /// <summary>The command did what was asked (<c>ok</c> on the wire; <c>kv pbm</c> exits 0).</summary>
    Ok,

    /// <summary>The command line is wrong: unknown command, bad or missing argument (<c>usage</c>; exit 2).</summary>
    Usage,

    /// <summary>The command ran and could not do what was asked (<c>failed</c>; exit 5).</summary>
    Failed,
}

/// <summary>What a <see cref="CommandHandler"/> returns.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="Output">Text for people: lines separated by '\n', no trailing newline needed. For
/// <see cref="CommandStatus.Usage"/> the one-line problem (the host appends the usage line).</param>
/// <param name="Data">Structured output for <c>--output json</c> (null: the JSON response carries only the text).</param>
public sealed record CommandResult(CommandStatus Status, string Output, JsonNode? Data = null)
{
    /// <summary>A successful result.</summary>
    public static CommandResult Ok(string output, JsonNode? data = null) => new(CommandStatus.Ok, output, data);

    /// <summary>A usage error: <paramref name="problem"/> names what is wrong with the arguments, in one line.</summary>
    public static CommandResult UsageError(string problem) => new(CommandStatus.Usage, problem);

    /// <summary>A failure: <paramref name="reason"/> says what could not be done and, if possible, what to do.</summary>
    public static CommandResult Failed(string reason, JsonNode? data = null) => new(CommandStatus.Failed, reason, data);
}
