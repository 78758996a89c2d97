using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using static KvCluster.Tests.Kv.EtcdCommands;
using static KvCluster.Tests.Kv.KvCommands;
using CompareResult = KvCluster.Client.Etcd.Compare.Types.CompareResult;

namespace KvCluster.Tests.Kv;

/// <summary>Reads at past revisions, compaction and its errors, HashKV, snapshots with history.</summary>
public sealed class KvHistorySpecs
{
    private readonly EtcdStore _store = new();

    [Fact]
    public void RangeAtAPastRevision_SeesTheStoreAsItWas()
    {
        _store.Put("a", "1");   // 2
        _store.Put("b", "1");   // 3
        _store.Put("a", "2");   // 4
        _store.Delete("b");     // 5
        _store.Put("b", "new"); // 6

        Assert.Equal("1", Text(_store.Get("a", revision: 3)!.Value));
        Assert.Equal("2", Text(_store.Get("a", revision: 4)!.Value));
        Assert.Null(_store.Get("b", revision: 5));
        Assert.Equal(6L, _store.Get("b", revision: 6)!.CreateRevision);
        Assert.Empty(_store.Range("\0", "\0", revision: 1).EtcdRange.Kvs);
        var at3 = _store.Range("\0", "\0", revision: 3).EtcdRange;
        Assert.Equal(["a", "b"], Keys(at3));
        Assert.Equal(6L, at3.Header.Revision);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomWorkload_EveryPastRevisionReadsAsTheStoreWasThen(int seed)
    {
        var states = new Dictionary<long, string> { [_store.Revision] = Dump(_store.Range("\0", "\0")) };
        foreach (var command in Workload(seed, count: 300))
        {
            _store.Apply(command);
            states[_store.Revision] = Dump(_store.Range("\0", "\0"));
        }

        foreach (var (revision, state) in states)
        {
            Assert.Equal(state, Dump(_store.Range("\0", "\0", revision: revision)));
        }
    }

    [Fact]
    public void RangeAboveTheRevision_IsFutureRevision()
    {
        _store.Put("a", "1");

        var result = _store.Range("a", revision: 3);

        Assert.Equal(KvStatus.FutureRevision, result.Status);
        Assert.Equal(EtcdErrors.FutureRevision, result.Error);
    }

    [Fact]
    public void RangeBelowTheCompactionPoint_IsCompacted_AtItIsServed()
    {
        for (var i = 0; i < 5; i++)
        {
            _store.Put("a", $"{i}");
        }

        Assert.Equal(KvStatus.Ok, _store.Apply(Compact(4)).Status);

        var below = _store.Range("a", revision: 3);
        Assert.Equal(KvStatus.Compacted, below.Status);
        Assert.Equal(EtcdErrors.Compacted, below.Error);
        Assert.Equal("2", Text(_store.Get("a", revision: 4)!.Value));
        Assert.Equal("4", Text(_store.Get("a")!.Value));
    }

    [Fact]
    public void Compact_AtOrBelowThePoint_IsCompacted_AboveTheRevision_IsFuture()
    {
        _store.Put("a", "1");
        _store.Put("a", "2");
        _store.Apply(Compact(2));

        var again = _store.Apply(Compact(2));
        var lower = _store.Apply(Compact(1));
        var future = _store.Apply(Compact(4));

        Assert.Equal(KvStatus.Compacted, again.Status);
        Assert.Equal(EtcdErrors.Compacted, again.Error);
        Assert.Equal(KvStatus.Compacted, lower.Status);
        Assert.Equal(KvStatus.FutureRevision, future.Status);
        Assert.Equal(EtcdErrors.FutureRevision, future.Error);
        Assert.Equal(2L, _store.Store.CompactRevision);
    }

    [Fact]
    public void Compact_MovesNoRevision_AndAnswersTheCurrentOne()
    {
        _store.Put("a", "1");

        var result = _store.Apply(Compact(2));

        Assert.Equal(2L, result.EtcdCompact.Header.Revision);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void Compact_KeepsTheNewestVersionAtOrBelow_DropsDeletedKeys()
    {
        _store.Put("a", "1");   // 2
        _store.Put("a", "2");   // 3
        _store.Put("gone", "x"); // 4
        _store.Delete("gone");  // 5
        _store.Put("a", "3");   // 6
        _store.Put("late", "1"); // 7
        _store.Delete("late");  // 8
        Assert.Equal(7L, _store.Store.VersionCount);

        _store.Apply(Compact(6));

        // a keeps only 6; gone is dropped entirely; late keeps its put (7) and tombstone (8).
        Assert.Equal(3L, _store.Store.VersionCount);
        Assert.Equal("3", Text(_store.Get("a", revision: 6)!.Value));
        Assert.Null(_store.Get("gone", revision: 6));
        Assert.Equal("1", Text(_store.Get("late", revision: 7)!.Value));

        _store.Apply(Compact(8));

        Assert.Equal(1L, _store.Store.VersionCount);
    }

    [Fact]
    public void Compact_PreservesEveryReadAtOrAboveIt()
    {
        var random = new Random(5);
        for (var i = 0; i < 400; i++)
        {
            var key = $"k{random.Next(15)}";
            if (random.Next(4) == 0)
            {
                _store.Delete(key);
            }
            else
            {
                _store.Put(key, $"v{i}");
            }
        }

        var point = _store.Revision - 100;
        var before = Enumerable.Range((int)point, 101).Select(r => Dump(_store.Range("\0", "\0", revision: r))).ToList();

        _store.Apply(Compact(point));

        var after = Enumerable.Range((int)point, 101).Select(r => Dump(_store.Range("\0", "\0", revision: r))).ToList();
        Assert.Equal(before, after);
    }

    [Fact]
    public void HashKv_TwoStoresFedTheSameLog_AreEqual_AndADifferentLogDiffers()
    {
        var first = new EtcdStore();
        var second = new EtcdStore();
        var third = new EtcdStore();
        foreach (var command in Workload(seed: 3, count: 500))
        {
            first.Apply(command);
            second.Apply(command);
            third.Apply(command);
        }

        third.Put("extra", "1");
        var hash = first.Store.HashKv(new HashKVRequest()).EtcdHashKv;

        Assert.Equal(hash, second.Store.HashKv(new HashKVRequest()).EtcdHashKv);
        Assert.Equal(first.Revision, hash.HashRevision);
        Assert.NotEqual(hash.Hash, third.Store.HashKv(new HashKVRequest()).EtcdHashKv.Hash);
        Assert.Equal(hash.Hash, third.Store.HashKv(new HashKVRequest { Revision = first.Revision }).EtcdHashKv.Hash);
    }

    [Fact]
    public void HashKv_AtARevision_IgnoresLaterChanges_AndRefusesTheFuture()
    {
        _store.Put("a", "1");
        var early = _store.Store.HashKv(new HashKVRequest()).EtcdHashKv.Hash;
        _store.Put("a", "2");

        Assert.Equal(early, _store.Store.HashKv(new HashKVRequest { Revision = 2 }).EtcdHashKv.Hash);
        Assert.NotEqual(early, _store.Store.HashKv(new HashKVRequest()).EtcdHashKv.Hash);
        Assert.Equal(KvStatus.FutureRevision, _store.Store.HashKv(new HashKVRequest { Revision = 9 }).Status);
        Assert.Equal(KvStateMachine.NotCompacted, _store.Store.HashKv(new HashKVRequest()).EtcdHashKv.CompactRevision);
    }

    [Fact]
    public void Snapshot_WithHistory_RestoresReadsAtPastRevisions_AndIsDeterministic()
    {
        var source = new EtcdStore();
        var twin = new EtcdStore();
        foreach (var command in Workload(seed: 8, count: 300))
        {
            source.Apply(command);
            twin.Apply(command);
        }

        source.Apply(Compact(source.Revision - 50));
        twin.Apply(Compact(twin.Revision - 50));
        var snapshot = source.Store.Snapshot();
        var restored = new KvStateMachine();

        restored.Restore(snapshot);

        Assert.Equal(snapshot, twin.Store.Snapshot());
        Assert.Equal(snapshot, restored.Snapshot());
        Assert.Equal(source.Store.CompactRevision, restored.CompactRevision);
        Assert.Equal(source.Revision, restored.Revision);
        Assert.Equal(source.Store.Count, restored.Count);
        for (var r = source.Revision - 50; r <= source.Revision; r++)
        {
            Assert.Equal(source.Range("\0", "\0", revision: r), restored.EtcdRange(ERange("\0", "\0", revision: r)));
        }

        Assert.Equal(KvStatus.Compacted, restored.EtcdRange(ERange("a", revision: source.Revision - 51)).Status);
        Assert.Equal(source.Store.HashKv(new HashKVRequest()), restored.HashKv(new HashKVRequest()));
    }

    [Fact]
    public void Snapshot_ImpossibleHistory_IsRefusedNamingTheKey()
    {
        _store.Put("key", "1");
        var snapshot = _store.Store.Snapshot();
        // Layout (format 3): magic(4) format(2) applied(1) revision(1) compact(1) sections(1), keys section type(1)
        // length(1), key count(1) keylen(1) "key"(3) versions(1) mod(1)...
        var modOffset = 4 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 3 + 1;
        Assert.Equal(2, snapshot[modOffset]);
        snapshot[modOffset] = 5;
        var body = snapshot.AsSpan(0, snapshot.Length - 32);
        System.Security.Cryptography.SHA256.HashData(body, snapshot.AsSpan(snapshot.Length - 32));

        var error = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(snapshot));

        Assert.Contains("\"key\"", error.Message);
        Assert.Contains("impossible", error.Message);
    }

    private static string Dump(KvResult result) => string.Join(';', result.EtcdRange.Kvs.Select(kv => kv.ToString()));

    internal static List<KvCommand> Workload(int seed, int count)
    {
        var random = new Random(seed);
        var commands = new List<KvCommand>(count);
        for (var i = 0; i < count; i++)
        {
            var key = $"k{random.Next(25):D2}";
            commands.Add(random.Next(6) switch
            {
                0 => EDelete(key),
                1 => EDelete($"k{random.Next(3)}", $"k{random.Next(3, 6)}"),
                2 => AsCommand(Txn([VersionIs(key, CompareResult.Greater, 1)], [OpPut(key, $"t{i}"), OpDelete(key + "/")], [OpPut(key + "/", "f")])),
                3 => Put(key, "cas", expected: random.Next(0, 40)),
                _ => EPut(key, $"v{random.Next(1000)}"),
            });
        }

        return commands;
    }
}
