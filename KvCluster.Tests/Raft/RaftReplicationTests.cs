using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>Log replication and commitment rules of Raft Figure 2 and §5.3–§5.4, driven directly on the core.</summary>
public sealed class RaftReplicationTests
{
    private static Entry E(long index, long term, string? data = null) =>
        new(term, index, EntryType.Normal, RaftHarness.Cmd(data ?? $"{index}@{term}"));

    /// <summary>Gives node <paramref name="id"/> a durable log and term, then restarts it from them.</summary>
    private static void Seed(RaftHarness h, ulong id, long term, params Entry[] entries)
    {
        h.Storage[id].Append(entries);
        h.Storage[id].SetHardState(new HardState(term, 0, 0));
        h.Restart(id);
    }

    private static List<Entry> Log(RaftHarness h, ulong id) => h[id].LogEntries(1);

    [Fact]
    public void AppendEntries_StaleTerm_RejectedWithCurrentTerm()
    {
        var h = new RaftHarness(3);
        Seed(h, 1, 5, E(1, 5));

        h[1].Step(new AppendEntries(2, 1, 4, 1, 5, [E(2, 4)], 2));
        var reply = Assert.Single(h.Take<AppendEntriesResult>(from: 1));

        Assert.False(reply.Success);
        Assert.Equal(5, reply.Term);
        Assert.Single(Log(h, 1));
        Assert.Equal(0, h[1].CommitIndex);
        // Raft Figure 2, AppendEntries RPC receiver rule 1: reply false if term < currentTerm; §5.1
    }

    [Fact]
    public void AppendEntries_NoEntryAtPrevLogIndex_RejectedWithLogLengthHint()
    {
        var h = new RaftHarness(3);
        Seed(h, 1, 1, E(1, 1));

        h[1].Step(new AppendEntries(2, 1, 2, 5, 2, [E(6, 2)], 0));
        var reply = Assert.Single(h.Take<AppendEntriesResult>(from: 1));

        Assert.False(reply.Success);
        Assert.Equal(5, reply.Index);
        Assert.Equal(0, reply.ConflictTerm);
        Assert.Equal(2, reply.ConflictIndex);
        Assert.Single(Log(h, 1));
        // Raft Figure 2, AppendEntries RPC receiver rule 2: reply false if log doesn't contain an entry at prevLogIndex; §5.3
    }

    [Fact]
    public void AppendEntries_PrevLogTermMismatch_RejectedWithConflictTermAndItsFirstIndex()
    {
        var h = new RaftHarness(3);
        Seed(h, 1, 2, E(1, 1), E(2, 2), E(3, 2), E(4, 2));

        h[1].Step(new AppendEntries(2, 1, 3, 4, 3, [E(5, 3)], 0));
        var reply = Assert.Single(h.Take<AppendEntriesResult>(from: 1));

        Assert.False(reply.Success);
        Assert.Equal(2, reply.ConflictTerm);
        Assert.Equal(2, reply.ConflictIndex);
        Assert.Equal(4, Log(h, 1).Count);
        // Raft Figure 2, AppendEntries RPC receiver rule 2 (prevLogTerm mismatch) with the §5.3 conflict-term hint
    }

    [Fact]
    public void AppendEntries_ConflictingEntry_TruncatesItAndAllThatFollow()
    {
        var h = new RaftHarness(3);
        Seed(h, 1, 2, E(1, 1), E(2, 1), E(3, 2), E(4, 2));

        h[1].Step(new AppendEntries(2, 1, 3, 2, 1, [E(3, 3)], 0));
        var ready = h.Process(1).Single(r => r.Entries.Count > 0);

        Assert.Equal(3, ready.TruncateFrom);
        Assert.Equal(new[] { (1L, 1L), (2, 1), (3, 3) }, Log(h, 1).Select(e => (e.Index, e.Term)));
        Assert.Equal(3, h.Storage[1].LastIndex);
        Assert.Equal(3, h.Storage[1].Term(3));
        // Raft Figure 2, AppendEntries RPC receiver rule 3: delete the conflicting entry and all that follow; §5.3
    }

    [Fact]
    public void AppendEntries_StaleDuplicateOfPresentEntries_DoesNotTruncate()
    {
        var h = new RaftHarness(3);
        Seed(h, 1, 1, E(1, 1), E(2, 1), E(3, 1), E(4, 1));

        h[1].Step(new AppendEntries(2, 1, 1, 1, 1, [E(2, 1)], 0));
        var reply = Assert.Single(h.Take<AppendEntriesResult>(from: 1));

        Assert.True(reply.Success);
        Assert.Equal(2, reply.Index); // acknowledges only what this message verified
        Assert.Equal(4, Log(h, 1).Count);
        // Raft Figure 2, AppendEntries RPC receiver rules 3 and 4: truncate only on conflict, append entries not in the log; §5.3
    }

    [Fact]
    public void AppendEntries_NewEntries_AppendedPersistedThenAcknowledged()
    {
        var h = new RaftHarness(3);
        Seed(h, 1, 1, E(1, 1));

        h[1].Step(new AppendEntries(2, 1, 1, 1, 1, [E(2, 1), E(3, 1)], 0));
        var ready = h[1].GetReady();

        Assert.Equal(new long[] { 2, 3 }, ready.Entries.Select(e => e.Index));
        Assert.Empty(ready.Messages);
        var ack = Assert.IsType<AppendEntriesResult>(Assert.Single(ready.MessagesAfterPersist));
        Assert.True(ack.Success);
        Assert.Equal(3, ack.Index);
        // Raft Figure 2, AppendEntries RPC receiver rule 4, with the acknowledgement released only after the persist (§5.3, "persistent state")
    }

    [Theory]
    [InlineData(2, 2)] // leaderCommit below the last new entry
    [InlineData(9, 3)] // leaderCommit beyond it: capped at the index of the last new entry
    public void AppendEntries_LeaderCommit_SetsCommitToMinOfLeaderCommitAndLastNewEntry(long leaderCommit, long expected)
    {
        var h = new RaftHarness(3);
        Seed(h, 1, 1, E(1, 1));

        h[1].Step(new AppendEntries(2, 1, 1, 1, 1, [E(2, 1), E(3, 1)], leaderCommit));
        h.ProcessAll();

        Assert.Equal(expected, h[1].CommitIndex);
        Assert.Equal(expected, h.Applied[1].Count);
        // Raft Figure 2, AppendEntries RPC receiver rule 5; Rules for Servers, All Servers: apply once commitIndex > lastApplied
    }

    [Fact]
    public void Leader_OnElection_SendsAppendEntriesWithNoOpToEveryFollower()
    {
        var h = new RaftHarness(3);
        var appends = new List<AppendEntries>();
        h[1].Campaign();
        h.DeliverAll(drop: m =>
        {
            if (m is AppendEntries a)
            {
                appends.Add(a);
                return true;
            }

            return false;
        });

        Assert.Equal(new ulong[] { 2, 3 }, appends.Select(a => a.To).Order());
        Assert.All(appends, a => Assert.Equal((EntryType.Empty, h[1].Term), (Assert.Single(a.Entries).Type, a.Entries[0].Term)));
        h.Deliver(appends);
        h.DeliverAll();
        Assert.All(h.Nodes.Values, n => Assert.Equal(1, n.CommitIndex));
        // Raft Figure 2, Rules for Servers, Leaders: upon election send initial AppendEntries; §5.4.2 / §8: a no-op of the new term
    }

    [Fact]
    public void Leader_Idle_SendsHeartbeatEveryInterval()
    {
        var h = new RaftHarness(3, c => c with { HeartbeatIntervalTicks = 3 });
        h.Elect(1);

        h.Tick(1, 2);
        Assert.Empty(h.Take<Heartbeat>(from: 1));
        h.Tick(1);

        Assert.Equal(new ulong[] { 2, 3 }, h.Take<Heartbeat>(from: 1).Select(m => m.To).Order());
        // Raft Figure 2, Rules for Servers, Leaders: repeat heartbeats during idle periods to prevent election timeouts; §5.2
    }

    [Fact]
    public void Leader_Propose_AppendsLocallyAndAppliesOnlyAfterMajority()
    {
        var h = new RaftHarness(3);
        h.Elect(1);

        var result = h[1].Propose(RaftHarness.Cmd("set x"));
        h.Process(1);
        Assert.Equal(ProposeStatus.Accepted, result.Status);
        Assert.Equal(h[1].LastIndex, result.Index);
        Assert.Empty(h.AppliedCommands(1));
        h.DeliverAll();

        Assert.Equal(new[] { "set x" }, h.AppliedCommands(1));
        Assert.All(h.Nodes.Keys, id => Assert.Equal(new[] { "set x" }, h.AppliedCommands(id)));
        // Raft Figure 2, Rules for Servers, Leaders: append to local log, respond after the entry is applied; §5.3
    }

    [Fact]
    public void Leader_FollowerWithDivergentLog_BacktracksUntilLogsMatch()
    {
        var h = new RaftHarness(3);
        Seed(h, 1, 3, E(1, 1), E(2, 3));
        Seed(h, 2, 2, E(1, 1), E(2, 2), E(3, 2), E(4, 2));
        Seed(h, 3, 3, E(1, 1), E(2, 3));

        h.Elect(1);

        Assert.Equal(Log(h, 1).Select(e => (e.Index, e.Term)), Log(h, 2).Select(e => (e.Index, e.Term)));
        Assert.Equal(3, h[2].CommitIndex);
        // Raft Figure 2, Rules for Servers, Leaders: on inconsistency decrement nextIndex and retry; §5.3 (Log Matching)
    }

    [Fact]
    public void Leader_ConflictTermHint_SkipsWholeTermPerRoundTrip()
    {
        var h = new RaftHarness(3);
        var leaderLog = new[] { E(1, 1) }.Concat(Enumerable.Range(2, 10).Select(i => E(i, 3))).ToArray();
        var staleLog = new[] { E(1, 1) }.Concat(Enumerable.Range(2, 40).Select(i => E(i, 2))).ToArray();
        Seed(h, 1, 3, leaderLog);
        Seed(h, 2, 2, staleLog);
        Seed(h, 3, 3, leaderLog);
        var rejections = 0;

        h.Elect(1);
        h.DeliverAll(drop: m =>
        {
            rejections += m is AppendEntriesResult { Success: false, From: 2 } ? 1 : 0;
            return false;
        });

        Assert.True(rejections <= 2, $"{rejections} rejections");
        Assert.Equal(Log(h, 1).Select(e => (e.Index, e.Term)), Log(h, 2).Select(e => (e.Index, e.Term)));
        // Raft §5.3 (end): the conflicting term and its first index let the leader bypass all conflicting entries of a term
    }

    [Fact]
    public void Leader_PreviousTermEntryOnMajority_NotCommittedUntilCurrentTermEntryIs()
    {
        // Figure 8 (c): the leader of term 4 replicates its term-2 entry to a majority; counting replicas must not commit it,
        // because node 3 (last log term 3) could still be elected and overwrite index 2.
        var h = new RaftHarness(3, c => c with { MaxEntriesPerMessage = 1 });
        Seed(h, 1, 3, E(1, 1), E(2, 2));
        Seed(h, 2, 3, E(1, 1));
        Seed(h, 3, 3, E(1, 1), E(2, 3));
        h.Storage[1].SetHardState(new HardState(3, 0, 1));
        h.Storage[2].SetHardState(new HardState(3, 0, 1));
        h.Restart(1);
        h.Restart(2);
        h[1].Campaign();
        h.DeliverAll(drop: m => m.To == 3 || m.From == 3 || m is AppendEntriesResult { Success: true, Index: >= 3 });
        Assert.Equal(RaftRole.Leader, h[1].Role);
        Assert.Equal(4, h[1].Term);
        Assert.Equal(2, h[1].ProgressOf(2)!.Match); // index 2 (term 2) is on nodes 1 and 2: a majority

        Assert.Equal(1, h[1].CommitIndex);

        h.Tick(1);
        h.DeliverAll(drop: m => m.To == 3 || m.From == 3);
        Assert.Equal(3, h[1].CommitIndex); // committing the term-4 no-op commits index 2 indirectly
        // Raft §5.4.2, Figure 8: only entries of the leader's current term are committed by counting replicas
    }

    [Fact]
    public void Leader_InflightMessageBound_PausesPipelineUntilAcknowledged()
    {
        var h = new RaftHarness(3, c => c with { MaxInflightMessages = 2, MaxEntriesPerMessage = 1 });
        h.Elect(1);

        for (var i = 0; i < 5; i++)
        {
            h[1].Propose(RaftHarness.Cmd($"c{i}"));
        }

        var sent = h.Take<AppendEntries>(from: 1, to: 2);
        Assert.Equal(2, sent.Count);
        Assert.Equal(2, h[1].ProgressOf(2)!.InflightCount);

        h.Deliver(sent.Take(1));
        h.Deliver(h.Take<AppendEntriesResult>(from: 2));

        Assert.Single(h.Take<AppendEntries>(from: 1, to: 2), a => a.Entries.Count > 0);
        // Raft §5.3 with pipelining (thesis §10.2.2): in-flight appends per follower are bounded by count
    }

    [Fact]
    public void Leader_InflightByteBound_PausesPipeline()
    {
        var h = new RaftHarness(3, c => c with { MaxInflightMessages = 100, MaxInflightBytes = 100, MaxEntriesPerMessage = 1 });
        h.Elect(1);

        for (var i = 0; i < 5; i++)
        {
            h[1].Propose(new byte[50]); // 66 bytes each with the per-entry allowance
        }

        Assert.Equal(2, h.Take<AppendEntries>(from: 1, to: 2).Count);
        Assert.True(h[1].ProgressOf(2)!.InflightBytes >= 100);
        // Thesis §10.2.2: in-flight appends per follower are bounded by bytes
    }

    [Fact]
    public void Leader_ProposalsBetweenReadies_BatchedIntoOneAppendPerFollower()
    {
        var h = new RaftHarness(3);
        h.Elect(1);

        for (var i = 0; i < 10; i++)
        {
            h[1].Propose(RaftHarness.Cmd($"c{i}"));
        }

        var appends = h.Take<AppendEntries>(from: 1);
        Assert.Equal(2, appends.Count);
        Assert.All(appends, a => Assert.Equal(10, a.Entries.Count));
        // Thesis §10.2.1: batching proposals into one append per follower
    }

    [Fact]
    public void Leader_MaxEntriesPerMessage_SplitsAppends()
    {
        var h = new RaftHarness(3, c => c with { MaxEntriesPerMessage = 4 });
        h.Elect(1);

        for (var i = 0; i < 10; i++)
        {
            h[1].Propose(RaftHarness.Cmd($"c{i}"));
        }

        Assert.Equal(new[] { 4, 4, 2 }, h.Take<AppendEntries>(from: 1, to: 2).Select(a => a.Entries.Count));
        // Raft §5.3: AppendEntries carries a bounded batch
    }

    [Fact]
    public void Leader_UncommittedBytesBeyondBound_DropsProposal()
    {
        var h = new RaftHarness(3, c => c with { MaxUncommittedBytes = 200 });
        h.Elect(1);
        h.Isolated.Add(2);
        h.Isolated.Add(3);

        var first = h[1].Propose(new byte[100]);
        var second = h[1].Propose(new byte[100]);

        Assert.Equal(ProposeStatus.Accepted, first.Status);
        Assert.Equal(ProposeStatus.Dropped, second.Status);
        Assert.Contains("MaxUncommittedBytes", second.Reason);
    }

    [Fact]
    public void Follower_Propose_ReturnsNotLeaderWithHint()
    {
        var h = new RaftHarness(3);
        h.Elect(1);

        var result = h[2].Propose(RaftHarness.Cmd("x"));

        Assert.Equal(ProposeStatus.NotLeader, result.Status);
        Assert.Equal(1UL, result.LeaderHint);
        Assert.Contains("node 1", result.Reason);
    }

    [Fact]
    public void Node_RestartFromStorage_ReappliesCommittedEntriesOnceInOrder()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        foreach (var c in new[] { "a", "b", "c" })
        {
            h[1].Propose(RaftHarness.Cmd(c));
            h.DeliverAll();
        }

        h.Restart(2);
        h.ProcessAll();

        Assert.Equal(new[] { "a", "b", "c" }, h.AppliedCommands(2));
        Assert.Equal(h.Applied[2].Select(e => e.Index), Enumerable.Range(1, h.Applied[2].Count).Select(i => (long)i));
        // Raft Figure 2, Rules for Servers, All Servers: apply log[lastApplied] in order; commit index survives restarts
    }
}
