using System.Diagnostics;

namespace KvCluster.Testing.Linearizability;

/// <summary>
/// Decides whether a concurrent history is linearizable with respect to a sequential
/// <see cref="Model{TState, TInput, TOutput}"/>: whether every operation can be given a single
/// instant between its call and its return such that, in that order, the model produces every
/// observed output.
/// <para>
/// The search is Wing and Gong's, with Lowe's memoization (a (set of linearized operations, state)
/// pair seen once is never explored again) and P-compositionality (the history is split by
/// <see cref="Model{TState, TInput, TOutput}.PartitionKey"/> and each partition is checked on its
/// own), as in Porcupine. Failed operations are ignored; indeterminate ones complete at +infinity
/// and may be linearized anywhere after their call or not at all. Because they are optional, a
/// configuration with fewer of them used dominates one with more (same state, same determinate
/// operations linearized), and the memo prunes by that subsumption; they are also tried after
/// the determinate candidates at each step.
/// </para>
/// <para>
/// Cost: linear-ish for typical histories, exponential in the worst case (the problem is
/// NP-complete). Proving a violation explores every subset of the indeterminate writes pending
/// before it, so keep them few per partition. Measured on one key with 6 clients and an injected
/// stale read: 300 operations of which ~15 indeterminate, 0.3 s; 1,000 with ~20, 4.4 s; 1,000
/// with ~50, not decided in 10 s (2-core machine, loaded). Chaos clients should spread operations over many keys (and rotate keys), as
/// Jepsen's independent-key workloads do; the budget turns a hopeless search into
/// <see cref="LinearizabilityVerdict.Unknown"/>, never a hang.
/// </para>
/// Deterministic for a given history and model. Thread-safe (no shared state between calls).
/// </summary>
/// <example>
/// A chaos client records what it does, then the test checks and keeps a failing history:
/// <code>
/// var recorder = new HistoryRecorder&lt;KvInput, KvOutput&gt;();
/// var pending = recorder.Invoke(clientId, KvInput.Cas("lock", expectedVersion, "owner-3"));
/// try
/// {
///     var reply = await client.PutAsync("lock", "owner-3", expectedVersion, timeout);
///     if (reply.Rejected) { pending.Fail(); }                    // refused before the log
///     else { pending.Ok(reply.Ok ? KvOutput.Written(reply.ModIndex) : KvOutput.Mismatch); }
/// }
/// catch (TimeoutException) { pending.Info(); }                   // may or may not have happened
///
/// var history = recorder.ToHistory();
/// var result = LinearizabilityChecker.Check(KvModel.Instance, history, new CheckOptions { TimeBudget = TimeSpan.FromSeconds(60) });
/// if (!result.IsLinearizable)
/// {
///     history.Save("failing-history.json");                      // replay later with History.Load
///     Assert.Fail(result.Explanation);                           // names the key and the longest prefix
/// }
/// </code>
/// </example>
public static class LinearizabilityChecker
{
    /// <summary>Checks <paramref name="history"/> against <paramref name="model"/> within <paramref name="options"/>' budget.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A budget in <paramref name="options"/> is not positive.</exception>
    public static CheckResult<TInput, TOutput> Check<TState, TInput, TOutput>(
        Model<TState, TInput, TOutput> model,
        History<TInput, TOutput> history,
        CheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(history);
        options ??= CheckOptions.Default;
        if (options.TimeBudget <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.TimeBudget, $"{nameof(CheckOptions.TimeBudget)} must be positive.");
        }

        if (options.StepBudget <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.StepBudget, $"{nameof(CheckOptions.StepBudget)} must be positive.");
        }

        var budget = new SearchBudget(options);

        var partitions = history.Operations
            .Where(op => op.Outcome != OperationOutcome.Fail)
            .GroupBy(op => model.PartitionKey(op.Input))
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToList();

        var results = new List<PartitionResult<TInput, TOutput>>(partitions.Count);
        foreach (var partition in partitions)
        {
            if (budget.Exhausted)
            {
                results.Add(new PartitionResult<TInput, TOutput>(
                    partition.Key, LinearizabilityVerdict.Unknown, partition.Count(), [],
                    $"Partition {Quote(partition.Key)} was not checked: the budget ran out on earlier partitions.", 0));
                continue;
            }

            var search = new PartitionSearch<TState, TInput, TOutput>(model, partition.Key, partition.ToList(), budget);
            results.Add(search.Run());
        }

        var verdict = results.Any(r => r.Verdict == LinearizabilityVerdict.NotLinearizable)
            ? LinearizabilityVerdict.NotLinearizable
            : results.Any(r => r.Verdict == LinearizabilityVerdict.Unknown)
                ? LinearizabilityVerdict.Unknown
                : LinearizabilityVerdict.Linearizable;
        return new CheckResult<TInput, TOutput>(verdict, results, budget.Steps, budget.Elapsed);
    }

    internal static string Quote(string key) => key.Length == 0 ? "(single)" : $"\"{key}\"";
}

/// <summary>Steps and wall-clock time shared by all partitions of one check.</summary>
internal sealed class SearchBudget
{
    private const int ClockCheckInterval = 1024;
    private readonly long _stepLimit;
    private readonly long _deadline;
    private readonly long _started = Stopwatch.GetTimestamp();

    public SearchBudget(CheckOptions options)
    {
        _stepLimit = options.StepBudget;
        TimeBudget = options.TimeBudget;
        var ticks = options.TimeBudget.TotalSeconds * Stopwatch.Frequency;
        _deadline = ticks >= long.MaxValue - _started ? long.MaxValue : _started + (long)ticks;
    }

    public TimeSpan TimeBudget { get; }

    public long Steps { get; private set; }

    public bool Exhausted { get; private set; }

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);

    public string Describe() =>
        $"the budget ran out after {Steps} model steps and {Elapsed.TotalMilliseconds:F0} ms " +
        $"(limits: {(_stepLimit == long.MaxValue ? "unlimited" : _stepLimit.ToString(System.Globalization.CultureInfo.InvariantCulture))} steps, {TimeBudget.TotalMilliseconds:F0} ms)";

    /// <summary>Counts one model step; returns false once the budget is spent.</summary>
    public bool TrySpend()
    {
        if (Exhausted)
        {
            return false;
        }

        Steps++;
        if (Steps > _stepLimit || (Steps % ClockCheckInterval == 0 && Stopwatch.GetTimestamp() > _deadline))
        {
            Exhausted = true;
            return false;
        }

        return true;
    }
}
