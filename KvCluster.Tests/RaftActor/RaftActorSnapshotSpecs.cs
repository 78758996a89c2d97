using Akka.Actor;
using Akka.Persistence;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// Snapshots, log compaction, InstallSnapshot and recovery of the RaftActor (Raft §7, thesis ch. 5) over Akka's
/// in-memory journal and snapshot store, in virtual time (waits poll conditions in real time, bounded).
/// </summary>
public sealed class RaftActorSnapshotSpecs : RaftActorTestKit
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    internal static Func<RaftActorSettings, RaftActorSettings> Snapshots(long every, long margin, int chunk = 256 * 1024) =>
        s => s with { SnapshotEntries = every, CompactionMarginEntries = margin, SnapshotChunkBytes = chunk };

    private void Commit(RaftActorCluster cluster, ulong leader, IEnumerable<string> commands) => Commit(this, cluster, leader, commands);

    internal static void Commit(RaftActorTestKit kit, RaftActorCluster cluster, ulong leader, IEnumerable<string> commands)
    {
        foreach (var command in commands)
        {
            cluster.Nodes[leader].Tell(RaftActorCluster.Command(command), kit.TestActor);
            kit.ExpectMsg<ProposeApplied>();
        }
    }

    internal static string[] Commands(int count, string prefix = "c", int padding = 0) =>
        Enumerable.Range(1, count).Select(i => $"{prefix}{i}{new string('.', padding)}").ToArray();

    [Fact]
    public void Snapshot_AfterSnapshotEntries_TakenAndLogAndJournalCompacted()
    {
        var cluster = new RaftActorCluster(this, 3, configureActor: Snapshots(every: 10, margin: 2));
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5).NodeId;

        Commit(cluster, leader, Commands(30));

        // Two snapshots at least (about every 10 entries); memory keeps 2 entries behind the newest, the journal keeps
        // everything after the previous one, so a damaged newest snapshot can fall back to it (Raft §7).
        AwaitAssert(() =>
        {
            var status = cluster.Status(leader);
            Assert.InRange(status.SnapshotIndex, 20, status.Applied);
            Assert.Equal(status.SnapshotIndex - 2 + 1, status.FirstLogIndex);
            Assert.NotNull(status.SnapshotTakenAt);
            Assert.True(status.SnapshotBytes > 0);
        }, s_wait);
        var journal = ReadJournal(this, cluster.Settings(leader).EffectivePersistenceId).Log;
        AwaitAssert(() => Assert.True(ReadJournal(this, cluster.Settings(leader).EffectivePersistenceId).Log.Offset >= 10), s_wait);
        Assert.True(journal.Offset < cluster.Status(leader).SnapshotIndex);
    }

    [Fact]
    public void Snapshot_LogOutgrowsTheLastSnapshot_NextOneIsTaken_WithTheEntryAndByteTriggersOff()
    {
        // The recording state machine's image holds every applied command, so each snapshot is bigger than the last and
        // the log after it must grow as big before the next (5, then about 12, 25, 50...).
        var cluster = new RaftActorCluster(this, 3, configureActor: s => s with
        {
            SnapshotEntries = 1_000_000, SnapshotBytes = 0, SnapshotMinEntries = 5, SnapshotLogRatio = 1.0, CompactionMarginEntries = 2,
        });
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5).NodeId;

        Commit(cluster, leader, Commands(3, padding: 40));
        Assert.Equal(0, cluster.Status(leader).SnapshotIndex); // 4 entries with the leader's no-op: fewer than SnapshotMinEntries

        Commit(cluster, leader, Commands(40, "d", padding: 40));
        AwaitAssert(() =>
        {
            var status = cluster.Status(leader);
            Assert.InRange(status.SnapshotIndex, 10, status.Applied - 1); // a second snapshot, and not one per entry
            Assert.True(status.SnapshotBytes > 0);
        }, s_wait);
    }

    [Fact]
    public void Snapshot_LogRatioOff_EntryAndByteTriggersOff_NoSnapshot()
    {
        var cluster = new RaftActorCluster(this, 3, configureActor: s => s with
        {
            SnapshotEntries = 1_000_000, SnapshotBytes = 0, SnapshotMinEntries = 5, SnapshotLogRatio = 0,
        });
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5).NodeId;

        Commit(cluster, leader, Commands(44, padding: 40));

        Assert.All(cluster.Statuses(), s => Assert.Equal(0, s.SnapshotIndex));
    }

    [Fact]
    public void Restart_AfterSnapshots_RecoversSnapshotThenReplaysOnlyTheTail() => RestartRecoversSnapshotAndTail(this);

    /// <summary>A follower with snapshots restarts: the state machine is restored from the newest snapshot, the
    /// journal tail after it is replayed, nothing is applied twice or skipped.</summary>
    internal static void RestartRecoversSnapshotAndTail(RaftActorTestKit kit)
    {
        var cluster = new RaftActorCluster(kit, 3, configureActor: Snapshots(every: 10, margin: 2));
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5).NodeId;
        var follower = cluster.Ids.First(id => id != leader);
        var commands = Commands(25);
        Commit(kit, cluster, leader, commands);
        cluster.Tick(2);
        kit.AwaitAssert(() => Assert.True(cluster.Status(follower).SnapshotIndex >= 20), s_wait);
        var before = cluster.Status(follower);

        cluster.Stop(follower);
        cluster.Start(follower);

        var after = cluster.Status(follower);
        var machine = cluster.Machines[follower];
        var restored = Assert.Single(machine.Restored);
        Assert.True(restored.Index >= before.SnapshotIndex, $"restored {restored.Index}, snapshot was {before.SnapshotIndex}");
        Assert.Equal(restored.Index, after.SnapshotIndex);
        Assert.True(after.FirstLogIndex > 1);
        cluster.Tick(2);
        kit.AwaitAssert(() => Assert.Equal(commands, cluster.Machines[follower].Commands), s_wait);
        var indexes = cluster.Machines[follower].Applied.Select(a => a.Index).ToArray();
        Assert.Equal(indexes.Distinct().Order(), indexes); // applied once each, in order, across the snapshot
    }

    [Fact]
    public void LaggingFollower_LeaderCompactedPastIt_CatchesUpByChunkedInstallSnapshotDespiteALostChunk()
    {
        var cluster = new RaftActorCluster(this, 3, configureActor: Snapshots(every: 8, margin: 0, chunk: 1024));
        cluster.Stop(3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5, among: [1, 2]).NodeId;

        // 40 commands of ~200 bytes: the leader's snapshot is several chunks long, and every entry node 3 lacks is compacted.
        var commands = Commands(40, padding: 200);
        Commit(cluster, leader, commands);
        AwaitAssert(() => Assert.True(cluster.Status(leader).FirstLogIndex > 2), s_wait);
        cluster.Start(3);

        for (var i = 0; i < 200 && !cluster.Machines[3].Commands.SequenceEqual(commands); i++)
        {
            cluster.Tick(1);
        }

        Assert.Equal(commands, cluster.Machines[3].Commands);
        var status = cluster.Status(3);
        Assert.True(status.SnapshotIndex > 0);
        Assert.Equal(status.SnapshotIndex, Assert.Single(cluster.Machines[3].Restored).Index);

        // Replication continues after the snapshot: a new command is applied by node 3 as an entry. (The catch-up ticks
        // run as fast as the machine allows; once in CI the leader no longer led after them, "no leader is known": the
        // command goes to whoever leads now, which is all this part needs.)
        leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5).NodeId;
        Commit(cluster, leader, ["after"]);
        for (var i = 0; i < 50 && cluster.Machines[3].Commands.LastOrDefault() != "after"; i++)
        {
            cluster.Tick(1);
        }

        Assert.Equal("after", cluster.Machines[3].Commands[^1]);
    }

    [Fact]
    public void LaggingFollower_LeaderDroppedItsIdleSnapshotCopy_ReadsItBackFromTheStoreAndSends()
    {
        var cluster = new RaftActorCluster(this, 3, configureActor: Snapshots(every: 8, margin: 0, chunk: 1024));
        cluster.Stop(3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5, among: [1, 2]).NodeId;
        var commands = Commands(20, padding: 100);
        Commit(cluster, leader, commands);
        AwaitAssert(() => Assert.True(cluster.Status(leader).FirstLogIndex > 2), s_wait);
        cluster.Tick((RaftActorCluster.MaxTimeout * 10) + 1, live: [1, 2]); // idle long enough to drop the in-memory copy

        cluster.Start(3);
        for (var i = 0; i < 200 && !cluster.Machines[3].Commands.SequenceEqual(commands); i++)
        {
            cluster.Tick(1);
        }

        Assert.Equal(commands, cluster.Machines[3].Commands);
        Assert.Single(cluster.Machines[3].Restored);
    }

    [Fact]
    public void LostChunk_LeaderResendsFromTheFollowersOffset()
    {
        var cluster = new RaftActorCluster(
            this, 3, network: Props.Create(() => new LossyNetwork(2048)), configureActor: Snapshots(every: 8, margin: 0, chunk: 1024));
        cluster.Stop(3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5, among: [1, 2]).NodeId;
        var commands = Commands(40, padding: 200);
        Commit(cluster, leader, commands);
        AwaitAssert(() => Assert.True(cluster.Status(leader).FirstLogIndex > 2), s_wait);

        cluster.Start(3);
        for (var i = 0; i < 200 && !cluster.Machines[3].Commands.SequenceEqual(commands); i++)
        {
            cluster.Tick(1);
        }

        Assert.Equal(commands, cluster.Machines[3].Commands);
        cluster.Network.Tell(LossyNetwork.GetStats.Instance, TestActor);
        var stats = ExpectMsg<LossyNetwork.Stats>();
        Assert.Equal(1, stats.Dropped);
        Assert.True(stats.ChunksAtDroppedOffset >= 2, $"the chunk at offset 2048 was sent {stats.ChunksAtDroppedOffset} time(s)");
        Assert.True(stats.Chunks > 3, $"only {stats.Chunks} chunks: the snapshot was not split");
    }

    [Fact]
    public void CorruptNewestSnapshot_RecoveryFallsBackToThePreviousSnapshotAndTheLog() => CorruptNewestFallsBack(this);

    /// <summary>The newest snapshot is damaged (a flipped byte): recovery reports it and uses the previous one plus the
    /// journal after it, which compaction kept for exactly this.</summary>
    internal static void CorruptNewestFallsBack(RaftActorTestKit kit)
    {
        var cluster = new RaftActorCluster(kit, 1, configureActor: Snapshots(every: 5, margin: 0));
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        var commands = Commands(14);
        Commit(kit, cluster, 1, commands);
        var persistenceId = cluster.Settings(1).EffectivePersistenceId;
        kit.AwaitAssert(() => Assert.True(ReadJournal(kit, persistenceId).Log.Offset > 0), s_wait); // two snapshots, journal compacted
        var newest = LoadSnapshot(kit, persistenceId, long.MaxValue)!;
        var previous = LoadSnapshot(kit, persistenceId, newest.Metadata.SequenceNr - 1)!;
        cluster.Stop(1);
        Corrupt(kit, newest);

        kit.EventFilter.Error(contains: "is refused").ExpectOne(() => cluster.Start(1));

        var restored = Assert.Single(cluster.Machines[1].Restored);
        Assert.Equal(RaftSnapshotEnvelopeIndex(previous), restored.Index);
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5); // the commit index is re-established by the new term's entry
        kit.AwaitAssert(() => Assert.Equal(commands, cluster.Machines[1].Commands), s_wait); // the journal after the previous snapshot fills the rest
    }

    [Fact]
    public void NoValidSnapshotCoversTheCompactedJournal_FailsWithRaftUnrecoverableStateException()
    {
        var cluster = new RaftActorCluster(this, 1, configureActor: Snapshots(every: 5, margin: 0));
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        Commit(cluster, 1, Commands(14));
        var persistenceId = cluster.Settings(1).EffectivePersistenceId;
        AwaitAssert(() => Assert.True(ReadJournal(this, persistenceId).Log.Offset > 0), s_wait);
        cluster.Stop(1);
        for (var snapshot = LoadSnapshot(this, persistenceId, long.MaxValue); snapshot is not null; snapshot = LoadSnapshot(this, persistenceId, snapshot.Metadata.SequenceNr - 1))
        {
            Corrupt(this, snapshot);
        }

        Sys.EventStream.Subscribe(TestActor, typeof(RaftNodeFailed));
        var node = Sys.ActorOf(KvCluster.Raft.Actor.RaftActor.Props(cluster.Settings(1)), "raft-1-unrecoverable");
        Watch(node);

        var failed = ExpectMsg<RaftNodeFailed>(s_wait);
        ExpectTerminated(node);
        var cause = Assert.IsType<RaftUnrecoverableStateException>(failed.Cause);
        Assert.Contains(persistenceId, cause.Message);
        Assert.Contains("compacted up to index", cause.Message);
        Assert.Contains("refused", cause.Message);
    }

    private static SelectedSnapshot? LoadSnapshot(RaftActorTestKit kit, string persistenceId, long maxSequenceNr)
    {
        var store = Akka.Persistence.Persistence.Instance.Apply(kit.Sys).SnapshotStoreFor(null);
        store.Tell(new Akka.Persistence.LoadSnapshot(persistenceId, new SnapshotSelectionCriteria(maxSequenceNr, DateTime.MaxValue), long.MaxValue), kit.TestActor);
        return kit.ExpectMsg<LoadSnapshotResult>().Snapshot;
    }

    /// <summary>Replaces a stored snapshot with a copy whose last data byte is flipped (a damaged file).</summary>
    private static void Corrupt(RaftActorTestKit kit, SelectedSnapshot snapshot)
    {
        var store = Akka.Persistence.Persistence.Instance.Apply(kit.Sys).SnapshotStoreFor(null);
        var bytes = ((byte[])snapshot.Snapshot).ToArray();
        bytes[^1] ^= 0x5A;
        store.Tell(new DeleteSnapshot(snapshot.Metadata), kit.TestActor);
        kit.ExpectMsg<DeleteSnapshotSuccess>();
        store.Tell(new SaveSnapshot(snapshot.Metadata, bytes), kit.TestActor);
        kit.ExpectMsg<SaveSnapshotSuccess>();
    }

    private static long RaftSnapshotEnvelopeIndex(SelectedSnapshot snapshot) => RaftSnapshotEnvelope.Decode((byte[])snapshot.Snapshot).Metadata.Index;

    /// <summary>A <see cref="SimNetwork"/> that loses the first snapshot chunk at one offset, and counts chunks.</summary>
    private sealed class LossyNetwork : ReceiveActor
    {
        private readonly Dictionary<ulong, IActorRef> _nodes = new();
        private int _dropped;
        private int _chunks;
        private int _atOffset;

        public LossyNetwork(long dropOffset)
        {
            Receive<RegisterNode>(r => _nodes[r.Id] = r.Ref);
            Receive<GetStats>(_ => Sender.Tell(new Stats(_dropped, _chunks, _atOffset)));
            Receive<RaftMessage>(m =>
            {
                if (m is SnapshotChunk chunk)
                {
                    _chunks++;
                    if (chunk.Offset == dropOffset)
                    {
                        _atOffset++;
                        if (_dropped == 0)
                        {
                            _dropped++;
                            return;
                        }
                    }
                }

                if (_nodes.TryGetValue(m.To, out var target))
                {
                    target.Tell(m, Sender);
                }
            });
        }

        public sealed record GetStats : INoSerializationVerificationNeeded
        {
            public static GetStats Instance { get; } = new();
        }

        public sealed record Stats(int Dropped, int Chunks, int ChunksAtDroppedOffset) : INoSerializationVerificationNeeded;
    }
}
