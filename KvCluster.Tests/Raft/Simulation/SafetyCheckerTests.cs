using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft.Simulation;

/// <summary>The simulation's checker must itself catch violations, or a green simulation proves nothing.</summary>
public sealed class SafetyCheckerTests
{
    private static Entry E(long index, long term, string data) => new(term, index, EntryType.Normal, RaftHarness.Cmd(data));

    [Fact]
    public void ObserveRole_TwoLeadersInOneTerm_ReportsElectionSafety()
    {
        var checker = new SafetyChecker();
        var one = new RaftHarness(3);
        one.Elect(1); // node 1 leads term 1
        checker.ObserveRole(one[1]);
        var other = new RaftHarness(3);
        other.Elect(2); // node 2 also leads term 1, as a split brain would show it

        var ex = Assert.Throws<SafetyViolationException>(() => checker.ObserveRole(other[2]));

        Assert.Contains("Election Safety", ex.Message);
    }

    [Fact]
    public void ObserveApply_DifferentEntriesAtOneIndex_ReportsStateMachineSafety()
    {
        var checker = new SafetyChecker();
        checker.ObserveApply(1, E(1, 1, "a"));

        var ex = Assert.Throws<SafetyViolationException>(() => checker.ObserveApply(2, E(1, 1, "b")));

        Assert.Contains("State Machine Safety", ex.Message);
    }

    [Fact]
    public void ObserveRead_IndexBelowEarlierCommit_ReportsLinearizability()
    {
        var checker = new SafetyChecker();

        var ex = Assert.Throws<SafetyViolationException>(() => checker.ObserveRead(1, new ReadState(3, 9), committedWhenRequested: 5));

        Assert.Contains("Linearizable read", ex.Message);
    }
}
