using System.Text.Json;
using System.Text.Json.Serialization;

namespace KvCluster.Testing.Linearizability;

/// <summary>
/// An immutable, validated history of client operations, with JSON save/load so a chaos run can
/// keep a failing history as a file and a test can replay the check on it later.
/// </summary>
/// <typeparam name="TInput">The model's input type; must round-trip through System.Text.Json.</typeparam>
/// <typeparam name="TOutput">The model's output type; must round-trip through System.Text.Json.</typeparam>
public sealed class History<TInput, TOutput>
{
    private static readonly JsonSerializerOptions s_defaultJson = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Creates a history after checking that it is well formed.</summary>
    /// <exception cref="ArgumentException">
    /// Two operations share an id, an operation returns before it is called, an <see cref="OperationOutcome.Ok"/>
    /// operation has no output or no finite return time, or an <see cref="OperationOutcome.Info"/> one has a finite one.
    /// The message names the operation.
    /// </exception>
    public History(IEnumerable<Operation<TInput, TOutput>> operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        var list = operations.ToList();
        var ids = new HashSet<int>();
        foreach (var op in list)
        {
            if (!ids.Add(op.Id))
            {
                throw new ArgumentException($"Operation id {op.Id} appears more than once in the history.", nameof(operations));
            }

            if (op.Return < op.Call)
            {
                throw new ArgumentException(
                    $"Operation {op.Id} (client {op.ClientId}) returns at {op.Return}, before its call at {op.Call}.", nameof(operations));
            }

            if (op.Outcome == OperationOutcome.Info && op.Return != Operation<TInput, TOutput>.Infinity)
            {
                throw new ArgumentException(
                    $"Operation {op.Id} is indeterminate (Info) and must complete at +infinity (long.MaxValue), not {op.Return}.", nameof(operations));
            }

            if (op.Outcome == OperationOutcome.Ok && op.Output is null)
            {
                throw new ArgumentException(
                    $"Operation {op.Id} (client {op.ClientId}) is Ok but has no output; record it as Info if its outcome is unknown.", nameof(operations));
            }

            if (op.Outcome == OperationOutcome.Ok && op.Return == Operation<TInput, TOutput>.Infinity)
            {
                throw new ArgumentException(
                    $"Operation {op.Id} is Ok but has no completion time; record it as Info if its outcome is unknown.", nameof(operations));
            }
        }

        Operations = list;
    }

    /// <summary>The operations, in the order given (the checker sorts by time itself).</summary>
    public IReadOnlyList<Operation<TInput, TOutput>> Operations { get; }

    /// <summary>Serializes the history to JSON (camelCase, enums as names, indented by default).</summary>
    public string ToJson(JsonSerializerOptions? options = null) =>
        JsonSerializer.Serialize(new HistoryDocument(Operations.ToList()), options ?? s_defaultJson);

    /// <summary>Parses a history written by <see cref="ToJson"/>.</summary>
    /// <exception cref="FormatException">The text is not a history; the message says why.</exception>
    /// <exception cref="ArgumentException">The history is not well formed (see the constructor).</exception>
    public static History<TInput, TOutput> FromJson(string json, JsonSerializerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        HistoryDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<HistoryDocument>(json, options ?? s_defaultJson);
        }
        catch (JsonException e)
        {
            throw new FormatException($"The text is not a valid history document: {e.Message}", e);
        }

        if (document?.Operations is null)
        {
            throw new FormatException("The history document has no \"operations\" array.");
        }

        return new History<TInput, TOutput>(document.Operations);
    }

    /// <summary>Writes the history as JSON to <paramref name="path"/>, replacing the file.</summary>
    public void Save(string path, JsonSerializerOptions? options = null) => File.WriteAllText(path, ToJson(options));

    /// <summary>Reads a history saved by <see cref="Save"/>.</summary>
    /// <exception cref="FormatException">The file is not a history; the message names the file.</exception>
    public static History<TInput, TOutput> Load(string path, JsonSerializerOptions? options = null)
    {
        var text = File.ReadAllText(path);
        try
        {
            return FromJson(text, options);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    private sealed record HistoryDocument(List<Operation<TInput, TOutput>> Operations);
}
