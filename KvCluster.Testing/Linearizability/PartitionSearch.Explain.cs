using System.Globalization;
using System.Text;

namespace KvCluster.Testing.Linearizability;

internal sealed partial class PartitionSearch<TState, TInput, TOutput>
{
    private const int MaxListed = 20;

    private PartitionResult<TInput, TOutput> Finish(LinearizabilityVerdict verdict)
    {
        var prefix = _bestOrder.Select(i => _ops[i]).ToList();
        var steps = _budget.Steps - _stepsAtStart;
        var name = LinearizabilityChecker.Quote(_key);
        var explanation = verdict switch
        {
            LinearizabilityVerdict.Linearizable =>
                $"Partition {name}: linearizable; {_ops.Count} operation(s), {prefix.Count} took effect in the linearization found.",
            LinearizabilityVerdict.Unknown =>
                $"Partition {name}: unknown, {_budget.Describe()}. The longest linearizable prefix found has {prefix.Count} of {_ops.Count} operation(s).",
            _ => ExplainViolation(name, prefix),
        };
        return new PartitionResult<TInput, TOutput>(_key, verdict, _ops.Count, prefix, explanation, steps);
    }

    private string ExplainViolation(string name, List<Operation<TInput, TOutput>> prefix)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"Partition {name} is NOT linearizable: no order of its {_ops.Count} operation(s) agrees with both real time and the model.");
        text.AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"The longest linearizable prefix found has {prefix.Count} operation(s):");
        text.AppendLine();
        for (var i = Math.Max(0, prefix.Count - MaxListed); i < prefix.Count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {i + 1}. {Describe(prefix[i])}").AppendLine();
        }

        text.Append(CultureInfo.InvariantCulture, $"State after it: {_model.DescribeState(_bestState)}").AppendLine();

        var done = new HashSet<int>(_bestOrder);
        var blocking = Enumerable.Range(0, _ops.Count)
            .Where(i => !done.Contains(i) && _ops[i].Outcome == OperationOutcome.Ok)
            .OrderBy(i => _ops[i].Return)
            .ThenBy(i => i)
            .First();
        var deadline = _ops[blocking].Return;
        text.Append(CultureInfo.InvariantCulture, $"Next, {Describe(_ops[blocking])} must take effect before it returns at {deadline}, ")
            .Append("but from that state no operation that had begun by then can go next without a dead end:")
            .AppendLine();

        var candidates = Enumerable.Range(0, _ops.Count)
            .Where(i => !done.Contains(i) && _ops[i].Call <= deadline)
            .OrderBy(i => _ops[i].Call)
            .ThenBy(i => i)
            .ToList();
        foreach (var i in candidates.Take(MaxListed))
        {
            var op = _ops[i];
            var (ok, _) = op.Outcome == OperationOutcome.Info
                ? _model.StepIndeterminate(_bestState, op.Input)
                : _model.Step(_bestState, op.Input, op.Output!);
            text.Append(CultureInfo.InvariantCulture,
                $"  {Describe(op)}: {(ok ? "the model accepts it, but every continuation fails later" : "the model rejects it")}").AppendLine();
        }

        if (candidates.Count > MaxListed)
        {
            text.Append(CultureInfo.InvariantCulture, $"  ... and {candidates.Count - MaxListed} more").AppendLine();
        }

        return text.ToString().TrimEnd();
    }

    private string Describe(Operation<TInput, TOutput> op)
    {
        var returned = op.Return == Operation<TInput, TOutput>.Infinity ? "inf" : op.Return.ToString(CultureInfo.InvariantCulture);
        return $"#{op.Id} client {op.ClientId} [{op.Call}, {returned}] {_model.Describe(op.Input, op.Output, op.Outcome)}";
    }
}
