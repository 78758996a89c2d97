using KvCluster.Testing.Linearizability;
using static KvCluster.Testing.Linearizability.KvInput;

namespace KvCluster.Tests.Linearizability;

public sealed class LinearizabilityCheckerSpecs
{
    [Fact]
    public void Check_SequentialHistory_IsLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(1))
            .Ok(1, 2, 3, Get("x"), KvOutput.Found("a", 1))
            .Ok(2, 4, 5, Cas("x", 1, "b"), KvOutput.Written(3))
            .Ok(2, 6, 7, Get("x"), KvOutput.Found("b", 3))
            .Ok(1, 8, 9, Delete("x"), KvOutput.Written(4))
            .Ok(1, 10, 11, Get("x"), KvOutput.NotFound)
            .Check();

        Assert.True(result.IsLinearizable, result.Explanation);
        Assert.Equal(6, result.Partitions.Single().LongestPrefix.Count);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("b")]
    public void Check_ConcurrentWritesThenRead_IsLinearizableInEitherOrder(string observed)
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 10, Put("x", "a"), KvOutput.Written())
            .Ok(2, 1, 11, Put("x", "b"), KvOutput.Written())
            .Ok(3, 12, 13, Get("x"), KvOutput.Found(observed))
            .Check();

        Assert.True(result.IsLinearizable, result.Explanation);
    }

    [Fact]
    public void Check_StaleReadAfterCompletedWrite_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Ok(1, 2, 3, Put("x", "b"), KvOutput.Written())
            .Ok(2, 4, 5, Get("x"), KvOutput.Found("a"))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        var offending = result.OffendingPartition!;
        Assert.Equal("x", offending.Key);
        Assert.Equal(2, offending.LongestPrefix.Count);
        Assert.Contains("#2 client 2", result.Explanation);
        Assert.Contains("\"b\"", result.Explanation);
    }

    [Fact]
    public void Check_ReadOverlappingWrite_MaySeeOldOrNewValue()
    {
        var old = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Ok(1, 2, 10, Put("x", "b"), KvOutput.Written())
            .Ok(2, 3, 4, Get("x"), KvOutput.Found("a"))
            .Ok(3, 5, 6, Get("x"), KvOutput.Found("b"))
            .Check();
        var flipFlop = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Ok(1, 2, 10, Put("x", "b"), KvOutput.Written())
            .Ok(2, 3, 4, Get("x"), KvOutput.Found("b"))
            .Ok(3, 5, 6, Get("x"), KvOutput.Found("a"))
            .Check();

        Assert.True(old.IsLinearizable, old.Explanation);
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, flipFlop.Verdict);
    }

    [Fact]
    public void Check_TwoCasFromSameVersionBothSucceed_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(1))
            .Ok(1, 2, 10, Cas("x", 1, "b"), KvOutput.Written(2))
            .Ok(2, 3, 11, Cas("x", 1, "c"), KvOutput.Written(3))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_SuccessfulCasLostByLaterRead_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(1))
            .Ok(1, 2, 3, Cas("x", 1, "b"), KvOutput.Written(2))
            .Ok(2, 4, 5, Get("x"), KvOutput.Found("a", 1))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_CasMismatchAgainstStaleVersion_IsLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(1))
            .Ok(1, 2, 3, Put("x", "b"), KvOutput.Written(2))
            .Ok(2, 4, 5, Cas("x", 1, "c"), KvOutput.Mismatch)
            .Ok(2, 6, 7, Cas("y", 0, "new"), KvOutput.Written(3))
            .Check();

        Assert.True(result.IsLinearizable, result.Explanation);
    }

    [Fact]
    public void Check_CasMismatchWhenVersionMatched_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(1))
            .Ok(2, 2, 3, Cas("x", 1, "c"), KvOutput.Mismatch)
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_ReadOfValueNeverWritten_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 10, Put("x", "a"), KvOutput.Written())
            .Ok(2, 1, 11, Get("x"), KvOutput.Found("ghost"))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Contains("the model rejects it", result.Explanation);
    }

    [Fact]
    public void Check_ReadReportsWrongVersion_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(5))
            .Ok(2, 2, 3, Get("x"), KvOutput.Found("a", 4))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Check_IndeterminateWrite_MayOrMayNotHaveHappened(bool happened)
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Info(1, 2, Put("x", "b"))
            .Ok(2, 20, 21, Get("x"), KvOutput.Found(happened ? "b" : "a"))
            .Check();

        Assert.True(result.IsLinearizable, result.Explanation);
    }

    [Fact]
    public void Check_IndeterminateWriteSeenThenUnseen_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Info(1, 2, Put("x", "b"))
            .Ok(2, 20, 21, Get("x"), KvOutput.Found("b"))
            .Ok(3, 22, 23, Get("x"), KvOutput.Found("a"))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_IndeterminateWriteBeforeItsCall_CannotBeSeen()
    {
        var result = new KvHistoryBuilder()
            .Ok(2, 0, 1, Get("x"), KvOutput.Found("b"))
            .Info(1, 2, Put("x", "b"))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_FailedWriteSeenByRead_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Fail(1, 0, 1, Put("x", "a"))
            .Ok(2, 2, 3, Get("x"), KvOutput.Found("a"))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Equal(1, result.OffendingPartition!.OperationCount);
    }

    [Fact]
    public void Check_EqualCallAndReturnTimes_CountAsOverlapping()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 5, Put("x", "a"), KvOutput.Written())
            .Ok(2, 5, 6, Get("x"), KvOutput.NotFound)
            .Check();

        Assert.True(result.IsLinearizable, result.Explanation);
    }

    [Fact]
    public void Check_DeleteThenRead_FollowsTheModel()
    {
        var good = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Ok(1, 2, 3, Delete("x"), KvOutput.Written())
            .Ok(2, 4, 5, Get("x"), KvOutput.NotFound)
            .Ok(2, 6, 7, Delete("x"), KvOutput.NotFound)
            .Check();
        var bad = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Ok(2, 2, 3, Delete("x"), KvOutput.NotFound)
            .Check();

        Assert.True(good.IsLinearizable, good.Explanation);
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, bad.Verdict);
    }

    [Fact]
    public void Check_ViolationOnOneKey_IsReportedForThatKeyOnly()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Ok(2, 0, 1, Put("y", "a"), KvOutput.Written())
            .Ok(1, 2, 3, Put("y", "b"), KvOutput.Written())
            .Ok(2, 4, 5, Get("x"), KvOutput.Found("a"))
            .Ok(3, 6, 7, Get("y"), KvOutput.Found("a"))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
        Assert.Equal(2, result.Partitions.Count);
        Assert.Equal(LinearizabilityVerdict.Linearizable, result.Partitions.Single(p => p.Key == "x").Verdict);
        Assert.Equal("y", result.OffendingPartition!.Key);
        Assert.Contains("Partition \"y\"", result.Explanation);
    }

    [Fact]
    public void Check_KeysAreIndependentPartitions_ReadOfOtherKeyValueIsNotConfused()
    {
        // As one register this would be a stale read; per key, each read sees its own key's write.
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "1"), KvOutput.Written())
            .Ok(1, 2, 3, Put("y", "2"), KvOutput.Written())
            .Ok(2, 4, 5, Get("x"), KvOutput.Found("1"))
            .Check();

        Assert.True(result.IsLinearizable, result.Explanation);
        Assert.Equal(2, result.Partitions.Count);
    }

    [Fact]
    public void Check_StepBudgetExhausted_IsUnknownNotAHang()
    {
        var builder = new KvHistoryBuilder();
        for (var i = 0; i < 40; i++)
        {
            builder.Ok(i, 0, 1000, Put("x", $"v{i}"), KvOutput.Written());
        }

        builder.Ok(99, 1001, 1002, Get("x"), KvOutput.Found("nobody"));

        var result = builder.Check(new CheckOptions { StepBudget = 500 });

        Assert.Equal(LinearizabilityVerdict.Unknown, result.Verdict);
        Assert.Contains("budget ran out", result.Explanation);
        Assert.True(result.Steps <= 501);
    }

    [Fact]
    public void Check_BudgetSpentOnFirstPartition_LeavesLaterOnesUnknown()
    {
        var builder = new KvHistoryBuilder();
        for (var i = 0; i < 40; i++)
        {
            builder.Ok(i, 0, 1000, Put("a", $"v{i}"), KvOutput.Written());
        }

        builder.Ok(99, 1001, 1002, Get("a"), KvOutput.Found("nobody"));
        builder.Ok(98, 0, 1, Put("b", "1"), KvOutput.Written());

        var result = builder.Check(new CheckOptions { StepBudget = 100 });

        Assert.Equal(LinearizabilityVerdict.Unknown, result.Verdict);
        Assert.All(result.Partitions, p => Assert.Equal(LinearizabilityVerdict.Unknown, p.Verdict));
    }

    [Fact]
    public void Check_EmptyHistory_IsLinearizable()
    {
        Assert.True(new KvHistoryBuilder().Check().IsLinearizable);
    }

    [Fact]
    public void History_ReturnBeforeCall_IsRejectedNamingOperation()
    {
        var error = Assert.Throws<ArgumentException>(() => new KvHistoryBuilder().Ok(3, 10, 5, Get("x"), KvOutput.NotFound).Build());

        Assert.Contains("Operation 0 (client 3)", error.Message);
    }

    [Fact]
    public void History_OkWithoutOutput_IsRejected()
    {
        var op = new Operation<KvInput, KvOutput>(0, 1, Get("x"), null, 0, 1, OperationOutcome.Ok);

        var error = Assert.Throws<ArgumentException>(() => new History<KvInput, KvOutput>([op]));

        Assert.Contains("no output", error.Message);
    }

    [Fact]
    public void Check_CasAfterIndeterminateWrite_AcceptsVersionRevealedByRead()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(1))
            .Info(1, 2, Put("x", "b"))
            .Ok(2, 10, 11, Get("x"), KvOutput.Found("b", 4))
            .Ok(2, 12, 13, Cas("x", 4, "c"), KvOutput.Written(6))
            .Ok(3, 14, 15, Get("x"), KvOutput.Found("c", 6))
            .Check();

        Assert.True(result.IsLinearizable, result.Explanation);
    }

    [Fact]
    public void Check_IndeterminateCasWhoseConditionFails_CannotTakeEffect()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(1))
            .Info(1, 2, Cas("x", 9, "b"))
            .Ok(2, 10, 11, Get("x"), KvOutput.Found("b"))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_WriteVersionsGoingBackwards_IsNotLinearizable()
    {
        var result = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(5))
            .Ok(1, 2, 3, Put("x", "b"), KvOutput.Written(3))
            .Check();

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_NonPositiveBudget_ThrowsNamingIt()
    {
        var builder = new KvHistoryBuilder().Ok(1, 0, 1, Get("x"), KvOutput.NotFound);

        var time = Assert.Throws<ArgumentOutOfRangeException>(() => builder.Check(new CheckOptions { TimeBudget = TimeSpan.Zero }));
        var steps = Assert.Throws<ArgumentOutOfRangeException>(() => builder.Check(new CheckOptions { StepBudget = 0 }));

        Assert.Contains(nameof(CheckOptions.TimeBudget), time.Message);
        Assert.Contains(nameof(CheckOptions.StepBudget), steps.Message);
    }

    [Fact]
    public void Check_ManyIndeterminateReadsBeforeViolation_DecidedWithinSmallStepBudget()
    {
        // 40 pending reads are 2^40 subsets; they never change the state, so memoization by
        // subsumption (fewer optional operations pending dominates) must collapse them.
        var builder = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written())
            .Ok(1, 2, 3, Put("x", "b"), KvOutput.Written());
        for (var i = 0; i < 40; i++)
        {
            builder.Info(10 + i, 4, Get("x"));
        }

        builder.Ok(2, 5, 6, Get("x"), KvOutput.Found("a"));

        var result = builder.Check(new CheckOptions { StepBudget = 100_000 });

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }

    [Fact]
    public void Check_IndeterminateWritesBeforeViolation_DecidedWithinStepBudget()
    {
        var builder = new KvHistoryBuilder().Ok(1, 0, 1, Put("x", "a"), KvOutput.Written());
        for (var i = 0; i < 12; i++)
        {
            builder.Info(10 + i, 2 + i, Put("x", $"lost{i}"));
        }

        builder.Ok(1, 20, 21, Put("x", "b"), KvOutput.Written());
        builder.Ok(2, 22, 23, Get("x"), KvOutput.Found("a"));

        var result = builder.Check(new CheckOptions { StepBudget = 1_000_000 });

        Assert.Equal(LinearizabilityVerdict.NotLinearizable, result.Verdict);
    }
}
