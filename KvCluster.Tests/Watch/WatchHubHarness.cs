using Akka.Actor;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using KvCluster.Node.Watch;
using KvCluster.Raft.Actor;

namespace KvCluster.Tests.Watch;

/// <summary>
/// Stands where the RaftActor stands for the hub: owns a real <see cref="KvRaftStateMachine"/>, applies commands on its
/// own turn (the store's events go to the hub through the real <see cref="WatchEventFeed"/>) and answers
/// <see cref="LocalQuery"/> on the same turn, so the hub's history reads never race an apply, as on a node.
/// </summary>
internal sealed class StoreActor : ReceiveActor
{
    private readonly KvRaftStateMachine _machine = new(KvLimits.Default);
    private long _index;

    public StoreActor(IActorRef hub)
    {
        _machine.Store.Events = new WatchEventFeed(hub);
        Receive<ApplyCommand>(m => Sender.Tell(KvResult.Parser.ParseFrom(_machine.Apply(++_index, m.Command.ToByteArray()).Span)));
        Receive<LocalQuery>(m => Sender.Tell(new LocalQueryReply(_index, _machine.Query(m.Query))));
        Receive<RestoreSnapshot>(m =>
        {
            _machine.Store.Restore(m.Snapshot);
            _index = _machine.Store.AppliedIndex;
            Sender.Tell(_machine.Store.Revision);
        });
        Receive<TakeSnapshot>(_ => Sender.Tell(_machine.Store.Snapshot()));
    }

    public static Props Props(IActorRef hub) => Akka.Actor.Props.Create(() => new StoreActor(hub));
}

/// <summary>Applies a command (answered with its <see cref="KvResult"/>).</summary>
internal sealed record ApplyCommand(KvCommand Command) : INoSerializationVerificationNeeded;

/// <summary>Replaces the store with a snapshot (answered with the new revision).</summary>
internal sealed record RestoreSnapshot(byte[] Snapshot) : INoSerializationVerificationNeeded;

/// <summary>Asks for the store's snapshot bytes.</summary>
internal sealed record TakeSnapshot : INoSerializationVerificationNeeded;

/// <summary>One watch stream seen from the client's side of the hub: its output, read in order with a deadline.</summary>
internal sealed class WatchStreamProbe : IAsyncDisposable
{
    private readonly IActorRef _hub;
    private readonly CancellationTokenSource _cts = new();
    private readonly IAsyncEnumerator<WatchResponse> _responses;

    public WatchStreamProbe(IActorRef hub)
    {
        _hub = hub;
        Output = new WatchStreamOutput();
        _hub.Tell(new OpenWatchStream(Output));
        _responses = Output.ReadAllAsync(_cts.Token).GetAsyncEnumerator();
    }

    public WatchStreamOutput Output { get; }

    public void Send(WatchRequest request) => _hub.Tell(new WatchStreamRequest(Output, request));

    public void Create(WatchCreateRequest create) => Send(new WatchRequest { CreateRequest = create });

    /// <summary>The next response, failing the test when none comes within <paramref name="seconds"/>.</summary>
    public async Task<WatchResponse> NextAsync(int seconds = 20)
    {
        var next = _responses.MoveNextAsync().AsTask();
        var winner = await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(seconds)));
        Assert.True(winner == next, $"no watch response within {seconds} s");
        Assert.True(await next, "the watch stream ended");
        return _responses.Current;
    }

    /// <summary>True when no response is queued right now (the hub's turns before this call have all run: ask it first).</summary>
    public bool IsIdle => Output.Pending == 0;

    public async ValueTask DisposeAsync()
    {
        _hub.Tell(new CloseWatchStream(Output));
        await _cts.CancelAsync();
        try
        {
            await _responses.DisposeAsync();
        }
        catch (OperationCanceledException)
        {
        }

        _cts.Dispose();
    }
}

/// <summary>Builders for the hub specs.</summary>
internal static class WatchSpecSupport
{
    public static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    public static string Text(ByteString bytes) => bytes.ToStringUtf8();

    public static WatchCreateRequest Prefix(string prefix, long startRevision = 0, bool prevKv = false, long watchId = 0) => new()
    {
        Key = B(prefix),
        RangeEnd = ByteString.CopyFrom(KvKeyOrder.PrefixEnd(B(prefix).Span)),
        StartRevision = startRevision,
        PrevKv = prevKv,
        WatchId = watchId,
    };
}
