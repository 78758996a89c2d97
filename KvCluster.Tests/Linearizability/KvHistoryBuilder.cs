using KvCluster.Testing.Linearizability;

namespace KvCluster.Tests.Linearizability;

/// <summary>Builds hand-made KV histories for specs; operation ids follow the order of calls to the builder.</summary>
internal sealed class KvHistoryBuilder
{
    private readonly List<Operation<KvInput, KvOutput>> _ops = [];

    public KvHistoryBuilder Ok(int client, long call, long ret, KvInput input, KvOutput output)
    {
        _ops.Add(new(_ops.Count, client, input, output, call, ret, OperationOutcome.Ok));
        return this;
    }

    public KvHistoryBuilder Info(int client, long call, KvInput input)
    {
        _ops.Add(new(_ops.Count, client, input, null, call, Operation<KvInput, KvOutput>.Infinity, OperationOutcome.Info));
        return this;
    }

    public KvHistoryBuilder Fail(int client, long call, long ret, KvInput input)
    {
        _ops.Add(new(_ops.Count, client, input, null, call, ret, OperationOutcome.Fail));
        return this;
    }

    public History<KvInput, KvOutput> Build() => new(_ops);

    public CheckResult<KvInput, KvOutput> Check(CheckOptions? options = null) =>
        LinearizabilityChecker.Check(KvModel.Instance, Build(), options);
}
