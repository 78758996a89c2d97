using KvCluster.Testing.Linearizability;

namespace KvCluster.Tests.Linearizability;

public sealed class LinearizabilityRandomizedSpecs
{
    private static readonly CheckOptions s_budget = new() { TimeBudget = TimeSpan.FromSeconds(30) };

    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        for (var seed = 1; seed <= 25; seed++)
        {
            seeds.Add(seed);
        }

        return seeds;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Check_HistoryFromSequentialExecution_IsLinearizable(int seed)
    {
        var ops = RandomKvHistories.Generate(seed, operations: 300, keys: 4, clients: 6, indeterminate: 0.05);

        var result = LinearizabilityChecker.Check(KvModel.Instance, new History<KvInput, KvOutput>(ops), s_budget);

        Assert.True(result.IsLinearizable, $"seed {seed}: {result.Explanation}");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Check_HistoryWithInjectedStaleRead_IsNotLinearizable(int seed)
    {
        var ops = RandomKvHistories.Generate(seed, operations: 300, keys: 4, clients: 6, indeterminate: 0.05);
        var mutated = RandomKvHistories.InjectStaleRead(ops, seed);
        Assert.NotNull(mutated);

        var result = LinearizabilityChecker.Check(KvModel.Instance, new History<KvInput, KvOutput>(mutated), s_budget);

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_SameHistoryTwice_GivesSameVerdictAndSteps()
    {
        var ops = RandomKvHistories.InjectStaleRead(RandomKvHistories.Generate(7, 300, 4, 6, 0.05), 7)!;
        var history = new History<KvInput, KvOutput>(ops);

        var first = LinearizabilityChecker.Check(KvModel.Instance, history, s_budget);
        var second = LinearizabilityChecker.Check(KvModel.Instance, history, s_budget);

        Assert.Equal(first.Verdict, second.Verdict);
        Assert.Equal(first.Steps, second.Steps);
        Assert.Equal(first.OffendingPartition!.LongestPrefix, second.OffendingPartition!.LongestPrefix);
    }

    [Fact]
    public void Check_LargerHistoryManyClients_IsLinearizable()
    {
        var ops = RandomKvHistories.Generate(seed: 99, operations: 2000, keys: 8, clients: 12, indeterminate: 0.02);

        var result = LinearizabilityChecker.Check(KvModel.Instance, new History<KvInput, KvOutput>(ops), s_budget);

        Assert.True(result.IsLinearizable, result.Explanation);
    }
}
