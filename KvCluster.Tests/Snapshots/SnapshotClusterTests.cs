using System.Collections.Concurrent;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Raft.Persistence;
using Microsoft.Data.Sqlite;

namespace KvCluster.Tests.Snapshots;

/// <summary>
/// Issue 17's cluster specs, against real node processes: followers and new members that need entries the leader no
/// longer has catch up through InstallSnapshot (checked with HashKV against the leader), the leader may die during a
/// transfer, a SIGKILL while snapshots are written loses nothing acknowledged, a corrupted snapshot is refused by name.
/// Small <c>--snapshot-count</c> / <c>--snapshot-catchup-entries</c> make the log compact quickly; the write counts are
/// the issue's (50,000 and 100,000 puts, each its own entry, from 64 concurrent callers).
/// </summary>
[Trait("Category", "Integration")]
public sealed class SnapshotClusterTests
{
    private const string WaitsForTransfer = "waits for InstallSnapshot (raft-snap)";

    private static readonly string[] s_snapshotEvery2000 = ["--snapshot-count", "2000", "--snapshot-catchup-entries", "500"];

    [Fact]
    public async Task FollowerStoppedDuringWrites_ComesBackWithHashKvEqualToTheLeaders()
    {
        // The same path with few writes: today a catch-up by AppendEntries, with small snapshot settings one that may
        // cross a compacted log. Keeps the process harness honest while the transfer specs wait.
        await using var cluster = SnapshotNodeProcesses.Start(3, "--snapshot-count", "300", "--snapshot-catchup-entries", "50");
        var leader = await cluster.AwaitLeaderAsync();
        var follower = (leader + 1) % 3;
        Assert.Equal(0, await cluster.StopNodeAsync(follower));

        var revision = await cluster.PutManyAsync(leader, "k", 2000, writers: 32);
        cluster.StartNode(follower);

        await cluster.AwaitSameHashAsync(follower, leader, revision);
    }

    [Fact]
    public async Task FollowerStoppedDuring50000Writes_CatchesUpThroughInstallSnapshot_AndHashKvEqualsTheLeaders()
    {
        await using var cluster = SnapshotNodeProcesses.Start(3, s_snapshotEvery2000);
        var leader = await cluster.AwaitLeaderAsync();
        var follower = (leader + 1) % 3;
        var stoppedAt = (long)(await cluster.AwaitStatusAsync(follower, s => s.RaftAppliedIndex > 0, "applying entries")).RaftAppliedIndex;
        Assert.Equal(0, await cluster.StopNodeAsync(follower));

        var revision = await cluster.PutManyAsync(leader, "k", 50_000);
        await cluster.AwaitStatusAsync(leader, s => s.AkkakvFirstLogIndex > stoppedAt + 1, "log compaction past the stopped follower's last entry");
        cluster.StartNode(follower);

        await cluster.AwaitSameHashAsync(follower, leader, revision);
        var caughtUp = await cluster.AwaitStatusAsync(follower, s => s.AkkakvSnapshotIndex > stoppedAt, "holding a snapshot past its old position");
        Assert.True(caughtUp.AkkakvFirstLogIndex > stoppedAt + 1, $"the follower's log starts at {caughtUp.AkkakvFirstLogIndex}: it cannot have replayed entries up to {stoppedAt + 1}");
    }

    [Fact]
    public async Task FourthNodeJoiningAfter100000Writes_CatchesUpThroughInstallSnapshot()
    {
        await using var cluster = SnapshotNodeProcesses.Start(3, s_snapshotEvery2000);
        var leader = await cluster.AwaitLeaderAsync();
        await cluster.PutManyAsync(leader, "k", 100_000);
        await cluster.AwaitStatusAsync(leader, s => s.AkkakvFirstLogIndex > 2, "log compaction");

        var joiner = cluster.StartJoiner();
        var revision = await cluster.PutManyAsync(leader, "after-join-", 10, writers: 1);

        await cluster.AwaitSameHashAsync(joiner, leader, revision);
        var joined = await cluster.AwaitStatusAsync(joiner, s => s.AkkakvSnapshotIndex > 0, "holding the leader's snapshot");
        Assert.True(joined.AkkakvFirstLogIndex > 2, $"the joiner's log starts at {joined.AkkakvFirstLogIndex}: it replayed from the start instead");
    }

    [Fact]
    public async Task FourthNodeJoiningAfter100000KeysWrittenAsTxns_CatchesUpThroughInstallSnapshot()
    {
        // 100,000 keys written as txns of 10 puts (10,000 Raft entries, five snapshots' worth) to stay near a minute.
        // Skipped until 2026-12-06 for a joiner that never caught up: not the txns but a split Akka cluster at start-up
        // (a founding node formed a cluster alone while its lower-id peers formed theirs; the joiner joined the one
        // without the Raft leader, whose membership follower never saw it). ClusterFormationTests covers that rule.
        await using var cluster = SnapshotNodeProcesses.Start(3, s_snapshotEvery2000);
        var leader = await cluster.AwaitLeaderAsync();
        await cluster.PutManyAsync(leader, "k", 100_000, batch: 10);
        await cluster.AwaitStatusAsync(leader, s => s.AkkakvFirstLogIndex > 2, "log compaction");

        var joiner = cluster.StartJoiner();
        var revision = await cluster.PutManyAsync(leader, "after-join-", 10, writers: 1);

        await cluster.AwaitSameHashAsync(joiner, leader, revision);
        var joined = await cluster.AwaitStatusAsync(joiner, s => s.AkkakvSnapshotIndex > 0, "holding the leader's snapshot");
        Assert.True(joined.AkkakvFirstLogIndex > 2, $"the joiner's log starts at {joined.AkkakvFirstLogIndex}: it replayed from the start instead");
    }

    [Fact]
    public async Task LeaderKilledMidTransfer_TheFollowerStillConverges()
    {
        // 20,000 keys of 2 KiB: a state of about 40 MiB, about 600 chunks of the default 64 KiB, so the transfer takes a while.
        await using var cluster = SnapshotNodeProcesses.Start(3, "--snapshot-count", "1000", "--snapshot-catchup-entries", "200");
        var leader = await cluster.AwaitLeaderAsync();
        var follower = (leader + 1) % 3;
        var other = (leader + 2) % 3;
        var stoppedAt = (long)(await cluster.AwaitStatusAsync(follower, s => s.RaftAppliedIndex > 0, "applying entries")).RaftAppliedIndex;
        Assert.Equal(0, await cluster.StopNodeAsync(follower));
        await cluster.PutManyAsync(leader, "big", 20_000, writers: 32, valueBytes: 2048);
        await cluster.AwaitStatusAsync(leader, s => s.AkkakvFirstLogIndex > stoppedAt + 1 && s.AkkakvSnapshotIndex > 0, "log compaction past the follower");

        cluster.StartNode(follower);
        await cluster.AwaitStatusAsync(follower, _ => true, "answering");
        await cluster.KillNodeAsync(leader);

        // Whether the kill lands mid-transfer depends on the machine's speed (a test must not time anything): the spec
        // kills as soon as the follower answers, which on a loaded machine is during the transfer, and in every case
        // checks that the follower converges with the new leader.
        var newLeader = await cluster.AwaitLeaderAsync(leader);
        Assert.Equal(other, newLeader == follower ? other : newLeader);
        var revision = await cluster.PutManyAsync(newLeader, "after-kill-", 10, writers: 1);
        await cluster.AwaitSameHashAsync(follower, other, revision);
    }

    [Fact]
    public async Task SigkillWhileSnapshotsAreWritten_LosesNothingAcknowledged()
    {
        await using var cluster = SnapshotNodeProcesses.Start(1, "--snapshot-count", "200", "--snapshot-catchup-entries", "50");
        await cluster.AwaitLeaderAsync();
        var acknowledged = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var writing = cluster.PutManyAsync(0, "w", 1_000_000, writers: 32, valueBytes: 512, acknowledged: acknowledged, stop: stop.Token);

        // Kill once several snapshots were taken and while writes (and so snapshot writes, every 200 entries) go on.
        await cluster.AwaitStatusAsync(0, s => s.AkkakvSnapshotIndex >= 1000, "a few snapshots taken");
        await cluster.KillNodeAsync(0);
        await stop.CancelAsync();
        await writing;
        cluster.StartNode(0);
        await cluster.AwaitLeaderAsync();

        var stored = await new KV.KVClient(cluster.Channel(0)).RangeAsync(
            new RangeRequest { Key = ByteString.CopyFromUtf8("w"), RangeEnd = ByteString.CopyFromUtf8("x"), KeysOnly = true },
            SnapshotNodeProcesses.Call(60));
        var present = stored.Kvs.Select(kv => kv.Key.ToStringUtf8()).ToHashSet();
        var lost = acknowledged.Where(k => !present.Contains(k)).Take(10).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged keys lost, such as {string.Join(", ", lost)} (of {acknowledged.Count} acknowledged)");
        Assert.True(acknowledged.Count >= 1000);
    }

    [Fact]
    public async Task CorruptedSnapshots_AreRefusedNamingTheFileAndIndex_AndTheNodeExitsThree()
    {
        await using var cluster = SnapshotNodeProcesses.Start(1, "--snapshot-count", "100", "--snapshot-catchup-entries", "10");
        await cluster.AwaitLeaderAsync();
        await cluster.PutManyAsync(0, "c", 1000, writers: 16);
        // Snapshots go on after the writes while one fell due during the previous save: wait until none is due (fewer
        // than --snapshot-count entries after the newest), so the newest is the one the corrupted rows hold. (An orderly
        // stop snapshots only after 1,000 entries or more: none here.)
        var status = await cluster.AwaitStatusAsync(
            0,
            s => s.AkkakvSnapshotIndex > 0 && s.AkkakvFirstLogIndex > 1 && (long)s.RaftAppliedIndex - (long)s.AkkakvSnapshotIndex < 100,
            "a snapshot and a compacted log, and no snapshot due");
        Assert.Equal(0, await cluster.StopNodeAsync(0));
        var journal = RaftJournalConfig.DatabasePath(cluster.DataDir(0), new RaftJournalOptions());
        var corrupted = CorruptSnapshotRows(journal);

        cluster.StartNode(0);
        var code = await cluster.ExitOfAsync(0);

        Assert.True(corrupted > 0, "no snapshot row found to corrupt");
        var output = cluster.Output(0);
        Assert.True(code == 3, $"exit code {code}, expected 3 (data directory unusable); output:\n{output}");
        Assert.Contains("refused", output);
        Assert.Contains(journal, output);
        Assert.Contains($"index {status.AkkakvSnapshotIndex}", output);
    }

    /// <summary>Flips bytes in the middle of every snapshot payload in the journal database; returns how many rows.</summary>
    private static int CorruptSnapshotRows(string database)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        var tables = new List<string>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%snapshot%'";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var corrupted = 0;
        foreach (var table in tables)
        {
            var rows = new List<(long RowId, string Column, byte[] Payload)>();
            using (var select = connection.CreateCommand())
            {
                select.CommandText = $"SELECT rowid, * FROM \"{table}\"";
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    for (var c = 1; c < reader.FieldCount; c++)
                    {
                        if (!reader.IsDBNull(c) && reader.GetValue(c) is byte[] { Length: > 64 } blob)
                        {
                            rows.Add((reader.GetInt64(0), reader.GetName(c), blob));
                        }
                    }
                }
            }

            foreach (var (rowId, column, payload) in rows)
            {
                for (var i = payload.Length / 2; i < Math.Min(payload.Length, (payload.Length / 2) + 8); i++)
                {
                    payload[i] ^= 0xA5;
                }

                using var update = connection.CreateCommand();
                update.CommandText = $"UPDATE \"{table}\" SET \"{column}\" = $payload WHERE rowid = $row";
                update.Parameters.AddWithValue("$payload", payload);
                update.Parameters.AddWithValue("$row", rowId);
                corrupted += update.ExecuteNonQuery();
            }
        }

        return corrupted;
    }
}
