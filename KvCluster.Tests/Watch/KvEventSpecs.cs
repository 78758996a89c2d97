using KvCluster.Client.Etcd.Mvcc;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using KvCluster.Tests.Kv;
using static KvCluster.Tests.Kv.EtcdCommands;
using static KvCluster.Tests.Kv.KvCommands;

namespace KvCluster.Tests.Watch;

/// <summary>What the store hands the watch hub: one group per revision with the previous versions, and its history reads.</summary>
public sealed class KvEventSpecs
{
    private sealed class Recorder : IKvEventSink
    {
        public List<KvEventGroup> Groups { get; } = [];

        public List<(long Revision, long Compact)> Restores { get; } = [];

        public void OnRevision(KvEventGroup group) => Groups.Add(group);

        public void OnRestored(long revision, long compactRevision) => Restores.Add((revision, compactRevision));
    }

    private static (EtcdStore Store, Recorder Sink) NewStore()
    {
        var store = new EtcdStore();
        var sink = new Recorder();
        store.Store.Events = sink;
        return (store, sink);
    }

    [Fact]
    public void EveryChangingCommand_PublishesOneGroupAtItsRevision_AndNothingElseDoes()
    {
        var (store, sink) = NewStore();
        store.Put("a", "1");
        store.Put("a", "2");
        store.Delete("missing");
        store.Range("a");
        store.Txn(Txn([ValueIs("a", KvCluster.Client.Etcd.Compare.Types.CompareResult.Equal, "nope")], [OpPut("x", "1")]));
        store.Apply(Put("legacy", "v"));
        store.Delete("a");

        Assert.Equal([2L, 3L, 4L, 5L], sink.Groups.Select(g => g.Revision));
        var second = sink.Groups[1].Events.Single();
        Assert.Equal("2", second.Current.Value!.ToStringUtf8());
        Assert.Equal("1", second.Previous!.Value.Value!.ToStringUtf8());
        var delete = sink.Groups[3].Events.Single();
        Assert.True(delete.IsDelete);
        Assert.Equal(3, delete.Previous!.Value.ModRevision);
        Assert.Equal(Event.Types.EventType.Delete, delete.ToEtcd(withPrevious: false).Type);
    }

    [Fact]
    public void Txn_PublishesAllItsChangesInOneGroup_InTheOrderItMadeThem()
    {
        var (store, sink) = NewStore();
        store.Put("p/z", "old");
        store.Txn(Txn(success: [OpPut("p/b", "1"), OpDelete("p/z"), OpPut("p/a", "2")]));

        var group = sink.Groups[^1];
        Assert.Equal(store.Revision, group.Revision);
        Assert.Equal(["p/b", "p/z", "p/a"], group.Events.Select(e => e.Key.ToStringUtf8()).ToArray());
    }

    [Fact]
    public void ReadEvents_ReturnsWholeRevisionsInOrder_AndSaysWhereToContinue()
    {
        var (store, _) = NewStore();
        store.Put("r/a", "1");
        store.Txn(Txn(success: [OpPut("r/b", "1"), OpPut("r/c", "1")]));
        store.Put("other", "x");
        store.Delete("r/a");

        var all = store.Store.ReadEvents(B("r/"), B("r0"), fromRevision: 2, maxEvents: 0);
        Assert.Equal([2L, 3L, 3L, 5L], all.Events.Select(e => e.Kv.ModRevision));
        Assert.Equal(store.Revision + 1, all.NextRevision);
        Assert.Equal("1", all.Events[3].PrevKv.Value.ToStringUtf8());

        var slice = store.Store.ReadEvents(B("r/"), B("r0"), fromRevision: 2, maxEvents: 2);
        Assert.Equal([2L, 3L, 3L], slice.Events.Select(e => e.Kv.ModRevision));
        Assert.Equal(5, slice.NextRevision); // revision 4 did not touch the range
    }

    [Fact]
    public void ReadEvents_BelowTheCompactionPoint_ReportsIt()
    {
        var (store, _) = NewStore();
        store.Put("c", "1");
        store.Put("c", "2");
        store.Apply(Compact(3));

        var result = store.Store.ReadEvents(B("c"), Google.Protobuf.ByteString.Empty, fromRevision: 2, maxEvents: 10);

        Assert.Equal(3, result.CompactRevision);
        Assert.Empty(result.Events);
    }

    [Fact]
    public void WatchHistory_IsAQueryOnly_NeverACommand()
    {
        var (store, _) = NewStore();
        store.Put("q", "1");
        var command = new KvCommand { WatchHistory = new WatchHistoryRequest { Key = B("q"), StartRevision = 1 } };

        Assert.Equal(KvStatus.InvalidCommand, store.Apply(command).Status);
        Assert.Single(store.Store.Query(command)!.WatchHistory.Events);
    }

    [Fact]
    public void Restore_TellsTheSink_TheSnapshotsRevision()
    {
        var (source, _) = NewStore();
        source.Put("s", "1");
        source.Put("s", "2");
        var (store, sink) = NewStore();

        store.Store.Restore(source.Store.Snapshot());

        Assert.Equal([(3L, KvStateMachine.NotCompacted)], sink.Restores);
    }
}
