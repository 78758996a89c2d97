using Akka.Actor;
using Akka.TestKit.Xunit2;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;
using KvCluster.Client.Protocol;
using KvCluster.Node.Watch;
using static KvCluster.Tests.Watch.WatchSpecSupport;
using DeleteRangeRequest = KvCluster.Client.Etcd.DeleteRangeRequest;
using KeyValue = KvCluster.Client.Etcd.Mvcc.KeyValue;
using PutRequest = KvCluster.Client.Etcd.PutRequest;

namespace KvCluster.Tests.Watch;

/// <summary>
/// The watch hub over a real store applied on another actor's turn (as the RaftActor applies): live order, txn grouping,
/// history replay joined to the live stream, compaction, slow watchers, filters, progress, cancel, etcd's refusals.
/// </summary>
public sealed class WatchHubSpecs : TestKit
{
    private static readonly TimeSpan s_ask = TimeSpan.FromSeconds(20);

    private (IActorRef Hub, IActorRef Store) Start(WatchHubSettings? settings = null)
    {
        var hub = Sys.ActorOf(WatchHub.Props(settings ?? new WatchHubSettings()));
        var store = Sys.ActorOf(StoreActor.Props(hub));
        hub.Tell(new SetWatchHistorySource(store));
        return (hub, store);
    }

    private static async Task<long> PutAsync(IActorRef store, string key, string value)
    {
        var result = await store.Ask<KvResult>(new ApplyCommand(new KvCommand { EtcdPut = new PutRequest { Key = B(key), Value = B(value) } }), s_ask);
        Assert.Equal(KvStatus.Ok, result.Status);
        return result.Revision;
    }

    private static async Task<long> DeleteAsync(IActorRef store, string key)
    {
        var result = await store.Ask<KvResult>(new ApplyCommand(new KvCommand { EtcdDeleteRange = new DeleteRangeRequest { Key = B(key) } }), s_ask);
        Assert.Equal(KvStatus.Ok, result.Status);
        return result.Revision;
    }

    private static Task<WatchHubStatus> StatusAsync(IActorRef hub) => hub.Ask<WatchHubStatus>(GetWatchHubStatus.Instance, s_ask);

    /// <summary>Reads event responses until one carries an event at <paramref name="lastRevision"/>; returns them all.</summary>
    private static async Task<List<WatchResponse>> EventsUntilAsync(WatchStreamProbe probe, long lastRevision)
    {
        var responses = new List<WatchResponse>();
        while (true)
        {
            var response = await probe.NextAsync();
            Assert.False(response.Canceled, $"the watcher was cancelled: {response.CancelReason}");
            if (response.Events.Count == 0)
            {
                continue;
            }

            responses.Add(response);
            if (response.Events[^1].Kv.ModRevision >= lastRevision)
            {
                return responses;
            }
        }
    }

    [Fact]
    public async Task Live_PrefixWatcher_GetsEveryChangeOfItsRangeOnceInRevisionOrder()
    {
        var (hub, store) = Start();
        await using var probe = new WatchStreamProbe(hub);
        probe.Create(Prefix("a/"));
        var created = await probe.NextAsync();
        Assert.True(created.Created);
        Assert.Equal(0, created.WatchId);

        var expected = new List<long>();
        for (var i = 0; i < 40; i++)
        {
            var inRange = i % 3 != 0;
            var revision = await PutAsync(store, inRange ? $"a/{i % 5}" : $"b/{i}", $"v{i}");
            if (inRange)
            {
                expected.Add(revision);
            }
        }

        expected.Add(await DeleteAsync(store, "a/1"));
        var responses = await EventsUntilAsync(probe, expected[^1]);

        var seen = responses.SelectMany(r => r.Events).Select(e => e.Kv.ModRevision).ToList();
        Assert.Equal(expected, seen);
        Assert.All(responses, r => Assert.Equal(r.Events[0].Kv.ModRevision, r.Header.Revision));
        Assert.Equal(Event.Types.EventType.Delete, responses[^1].Events[^1].Type);
        Assert.Equal("a/1", Text(responses[^1].Events[^1].Kv.Key));
    }

    [Fact]
    public async Task Txn_AllItsEvents_ArriveTogetherInOneResponse()
    {
        var (hub, store) = Start();
        await PutAsync(store, "t/gone", "x");
        await using var probe = new WatchStreamProbe(hub);
        probe.Create(Prefix("t/"));
        await probe.NextAsync();

        var txn = new TxnRequest();
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("t/b"), Value = B("2") } });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("t/a"), Value = B("1") } });
        txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("t/gone") } });
        var result = await store.Ask<KvResult>(new ApplyCommand(new KvCommand { EtcdTxn = txn }), s_ask);

        var response = await probe.NextAsync();
        Assert.Equal(3, response.Events.Count);
        Assert.All(response.Events, e => Assert.Equal(result.Revision, e.Kv.ModRevision));
        Assert.Equal(["t/b", "t/a", "t/gone"], response.Events.Select(e => Text(e.Kv.Key)).ToArray());
        Assert.Equal(Event.Types.EventType.Delete, response.Events[2].Type);
    }

    [Fact]
    public async Task PastStartRevision_ReplaysHistoryThenJoinsLive_WithNoGapAndNoDuplicate()
    {
        // Small history slices force several reads while a writer keeps going.
        var (hub, store) = Start(new WatchHubSettings { HistorySliceEvents = 3 });
        var first = await PutAsync(store, "h/0", "0");
        for (var i = 1; i < 30; i++)
        {
            await PutAsync(store, $"h/{i % 4}", $"{i}");
        }

        await using var probe = new WatchStreamProbe(hub);
        probe.Create(Prefix("h/", startRevision: first));
        Assert.True((await probe.NextAsync()).Created);
        var last = 0L;
        for (var i = 0; i < 30; i++)
        {
            last = await PutAsync(store, $"h/{i % 7}", $"live{i}");
        }

        var revisions = (await EventsUntilAsync(probe, last)).SelectMany(r => r.Events).Select(e => e.Kv.ModRevision).ToList();
        Assert.Equal(Enumerable.Range((int)first, (int)(last - first + 1)).Select(r => (long)r), revisions);
        Assert.Equal(1, (await StatusAsync(hub)).Synced);
    }

    [Fact]
    public async Task History_PrevKv_CarriesThePreviousVersion()
    {
        var (hub, store) = Start();
        var first = await PutAsync(store, "p", "one");
        await PutAsync(store, "p", "two");
        await DeleteAsync(store, "p");
        await using var probe = new WatchStreamProbe(hub);
        probe.Create(new WatchCreateRequest { Key = B("p"), StartRevision = first, PrevKv = true });
        await probe.NextAsync();

        var events = (await EventsUntilAsync(probe, first + 2)).SelectMany(r => r.Events).ToList();
        Assert.Null(events[0].PrevKv);
        Assert.Equal("one", Text(events[1].PrevKv.Value));
        Assert.Equal("two", Text(events[2].PrevKv.Value));
        Assert.Equal(2, events[2].PrevKv.Version);
    }

    [Fact]
    public async Task StartBelowCompaction_IsCreatedThenCancelledWithTheCompactRevision()
    {
        var (hub, store) = Start();
        var first = await PutAsync(store, "c", "1");
        var second = await PutAsync(store, "c", "2");
        await store.Ask<KvResult>(new ApplyCommand(new KvCommand { EtcdCompact = new CompactionRequest { Revision = second } }), s_ask);
        await using var probe = new WatchStreamProbe(hub);
        probe.Create(new WatchCreateRequest { Key = B("c"), StartRevision = first });

        var created = await probe.NextAsync();
        Assert.True(created.Created);
        Assert.False(created.Canceled);
        var cancelled = await probe.NextAsync();
        Assert.True(cancelled.Canceled);
        Assert.Equal(created.WatchId, cancelled.WatchId);
        Assert.Equal(second, cancelled.CompactRevision);
    }

    [Fact]
    public async Task SlowWatcher_IsCancelledWithAReason_AndTheHubKeepsServingOthers()
    {
        var (hub, store) = Start(new WatchHubSettings { MaxPendingResponses = 5 });
        await using var slow = new WatchStreamProbe(hub);
        slow.Create(Prefix("s/"));
        for (var i = 0; i < 12; i++)
        {
            await PutAsync(store, $"s/{i}", "x");
        }

        await using var fast = new WatchStreamProbe(hub);
        fast.Create(Prefix("s/"));
        Assert.True((await fast.NextAsync()).Created);
        var after = await PutAsync(store, "s/after", "y");
        Assert.Equal(after, (await fast.NextAsync()).Events[0].Kv.ModRevision);

        var responses = new List<WatchResponse>();
        WatchResponse response;
        do
        {
            response = await slow.NextAsync();
            responses.Add(response);
        }
        while (!response.Canceled);

        Assert.StartsWith(WatchHub.SlowWatcherReason, response.CancelReason);
        Assert.True(responses[0].Created);
        Assert.Equal(4, responses.Count(r => r.Events.Count > 0));
        Assert.Equal(0, (await StatusAsync(hub)).CatchingUp);
    }

    [Fact]
    public async Task Filters_NoPutAndNoDelete_DropThoseEvents()
    {
        var (hub, store) = Start();
        await using var probe = new WatchStreamProbe(hub);
        var noPut = Prefix("f/", watchId: 7);
        noPut.Filters.Add(WatchCreateRequest.Types.FilterType.Noput);
        var noDelete = Prefix("f/", watchId: 8);
        noDelete.Filters.Add(WatchCreateRequest.Types.FilterType.Nodelete);
        probe.Create(noPut);
        probe.Create(noDelete);
        Assert.Equal(7, (await probe.NextAsync()).WatchId);
        Assert.Equal(8, (await probe.NextAsync()).WatchId);

        await PutAsync(store, "f/1", "a");
        var deleted = await DeleteAsync(store, "f/1");

        var put = await probe.NextAsync();
        Assert.Equal(8, put.WatchId);
        Assert.Equal(Event.Types.EventType.Put, put.Events.Single().Type);
        var delete = await probe.NextAsync();
        Assert.Equal(7, delete.WatchId);
        Assert.Equal(deleted, delete.Events.Single().Kv.ModRevision);
    }

    [Fact]
    public async Task ProgressNotify_IdleWatcherGetsTheRevision_AndAProgressRequestIsAnswered()
    {
        var (hub, store) = Start(new WatchHubSettings { ProgressInterval = TimeSpan.FromMilliseconds(100) });
        var revision = await PutAsync(store, "other", "x");
        await using var probe = new WatchStreamProbe(hub);
        var create = Prefix("idle/");
        create.ProgressNotify = true;
        probe.Create(create);
        Assert.True((await probe.NextAsync()).Created);

        var progress = await probe.NextAsync();
        Assert.Equal(0, progress.WatchId);
        Assert.Empty(progress.Events);
        Assert.Equal(revision, progress.Header.Revision);

        await using var plain = new WatchStreamProbe(hub);
        plain.Create(Prefix("x/"));
        Assert.True((await plain.NextAsync()).Created);
        plain.Send(new WatchRequest { ProgressRequest = new WatchProgressRequest() });
        var answer = await plain.NextAsync();
        Assert.Equal(WatchHub.InvalidWatchId, answer.WatchId);
        Assert.Equal(revision, answer.Header.Revision);
    }

    [Fact]
    public async Task Cancel_StopsTheWatcher_AndEtcdsRefusalsNameTheProblem()
    {
        var (hub, store) = Start();
        await using var probe = new WatchStreamProbe(hub);
        probe.Create(Prefix("k/", watchId: 3));
        Assert.Equal(3, (await probe.NextAsync()).WatchId);

        probe.Create(Prefix("k/", watchId: 3));
        var duplicate = await probe.NextAsync();
        Assert.True(duplicate.Created && duplicate.Canceled);
        Assert.Equal(WatchHub.InvalidWatchId, duplicate.WatchId);
        Assert.Equal(WatchHub.DuplicateIdReason, duplicate.CancelReason);

        probe.Create(new WatchCreateRequest { Key = B("z"), RangeEnd = B("a") });
        Assert.Equal(WatchHub.EmptyRangeReason, (await probe.NextAsync()).CancelReason);

        probe.Send(new WatchRequest { CancelRequest = new WatchCancelRequest { WatchId = 3 } });
        var cancelled = await probe.NextAsync();
        Assert.True(cancelled.Canceled);
        Assert.Equal(3, cancelled.WatchId);

        await PutAsync(store, "k/1", "after");
        var status = await StatusAsync(hub);
        Assert.Equal(0, status.Synced);
        Assert.True(probe.IsIdle);
    }

    [Fact]
    public async Task Restore_FromASnapshotAhead_SyncedWatcherCatchesUpFromTheHistory()
    {
        var (hub, store) = Start();
        var (_, ahead) = Start();
        await using var probe = new WatchStreamProbe(hub);
        probe.Create(Prefix("r/"));
        await probe.NextAsync();
        await PutAsync(store, "r/0", "0");
        await PutAsync(ahead, "r/0", "0");
        var last = 0L;
        for (var i = 1; i < 6; i++)
        {
            last = await PutAsync(ahead, $"r/{i}", $"{i}");
        }

        var snapshot = await ahead.Ask<byte[]>(new TakeSnapshot(), s_ask);
        Assert.Equal(last, await store.Ask<long>(new RestoreSnapshot(snapshot), s_ask));

        var revisions = (await EventsUntilAsync(probe, last)).SelectMany(r => r.Events).Select(e => e.Kv.ModRevision).ToList();
        Assert.Equal(Enumerable.Range(2, (int)last - 1).Select(r => (long)r), revisions);
        Assert.Equal(last + 1, await PutAsync(store, "r/next", "n"));
        Assert.Equal(last + 1, (await probe.NextAsync()).Events.Single().Kv.ModRevision);
    }

    [Fact]
    public void Fragments_SplitABigResponse_AllButTheLastMarked()
    {
        var response = new WatchResponse { Header = new ResponseHeader { Revision = 9 }, WatchId = 4 };
        for (var i = 0; i < 10; i++)
        {
            response.Events.Add(new Event { Kv = new KeyValue { Key = B($"k{i}"), Value = Google.Protobuf.ByteString.CopyFrom(new byte[600]), ModRevision = 9 } });
        }

        var fragments = WatchHub.Fragments(response, limit: 1500);

        Assert.True(fragments.Count > 1);
        Assert.All(fragments[..^1], f => Assert.True(f.Fragment));
        Assert.False(fragments[^1].Fragment);
        Assert.Equal(response.Events, fragments.SelectMany(f => f.Events));
        Assert.All(fragments, f => Assert.Equal(4, f.WatchId));
    }
}
