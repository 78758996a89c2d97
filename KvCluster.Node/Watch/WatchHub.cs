using Akka.Actor;
using Akka.Event;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;
using KvCluster.Node.Kv;

namespace KvCluster.Node.Watch;

/// <summary>
/// A node's watch hub (etcd's watchable store): serves every watcher of every Watch stream on this node from this node's
/// applied state, so any node serves watches. One actor; nothing else touches its state.
/// <list type="number">
/// <item>Live: the store hands each applied revision's changes, one group per revision, to the hub through
/// <see cref="WatchEventFeed"/> (an enqueue on the RaftActor's turn). A synced watcher whose range and filters keep some
/// of a group's events gets them in one response (a txn's events together), in revision order; its
/// <see cref="Watcher.Next"/> moves past every revision, so a revision is never sent twice, even when a restarted
/// RaftActor replays the log.</item>
/// <item>History: a watcher whose start revision is in the past catches up by reading the store's retained history
/// with a node-local query to the RaftActor (<c>LocalQuery</c> of a <c>watch_history</c> read, answered on the
/// RaftActor's turn, so the read never races an apply), a slice of whole revisions at a time. Live groups that concern
/// it meanwhile are held. The answer reflects the store at revision R, and every group up to R reached the hub's
/// mailbox before the answer did (both come from the RaftActor, the groups first), so the watcher gets the history up
/// to R, then the held groups above R, and is synced: no gap, no duplicate. A store behind the hub (replaying after a
/// restart) is asked again.</item>
/// <item>Compaction: a start revision below the store's compaction point gets the created response and then a cancel
/// carrying compact_revision, as etcd does.</item>
/// <item>Snapshots: when the store is replaced by a snapshot (or a revision is skipped), synced watchers catch up again
/// from their next revision (cancelled with compact_revision when the snapshot's history no longer has it).</item>
/// <item>Slow clients: responses queue per stream (<see cref="WatchStreamOutput"/>); a watcher that has something to
/// send while its stream holds <see cref="WatchHubSettings.MaxPendingResponses"/> is cancelled with a reason. The hub
/// never waits for a client.</item>
/// <item>Progress: watchers with progress_notify get a progress response (header revision, no events) every
/// <see cref="WatchHubSettings.ProgressInterval"/> when no event was sent to them meanwhile; an explicit progress request
/// is answered (watch id -1) once every watcher of the stream is synced.</item>
/// </list>
/// Watcher matching is a scan of the synced watchers per revision (no interval index): O(watchers) per revision.
/// </summary>
public sealed partial class WatchHub : ReceiveActor, IWithTimers
{
    /// <summary>etcd's watch id of a response that concerns no single watcher (clientv3.InvalidWatchID).</summary>
    public const long InvalidWatchId = -1;

    private readonly WatchHubSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<WatchStreamOutput, WatchStream> _streams = new(ReferenceEqualityComparer.Instance);

    /// <summary>Watchers receiving live revisions (entries that left the state are dropped lazily).</summary>
    private readonly List<Watcher> _synced = [];

    /// <summary>Watchers replaying history (entries that left the state are dropped lazily).</summary>
    private readonly List<Watcher> _catching = [];

    private IActorRef _raft;
    private long _revision = KvStateMachine.InitialRevision;
    private long _querySequence;
    private bool _dirty;

    /// <summary>Creates the hub; <paramref name="raft"/> answers its history queries (may come later by <see cref="SetWatchHistorySource"/>).</summary>
    public WatchHub(WatchHubSettings settings, IActorRef? raft)
    {
        settings.EnsureValid();
        _settings = settings;
        _raft = raft ?? ActorRefs.Nobody;
        Receive<RevisionApplied>(m => OnRevision(m.Group));
        Receive<StoreRestored>(m => OnRestored(m.Revision));
        Receive<OpenWatchStream>(m => _streams.TryAdd(m.Output, new WatchStream(m.Output)));
        Receive<WatchStreamRequest>(OnRequest);
        Receive<CloseWatchStream>(m => CloseStream(m.Output));
        Receive<SetWatchHistorySource>(m => _raft = m.Raft);
        Receive<HistoryLoaded>(OnHistory);
        Receive<RetryHistory>(m =>
        {
            if (!m.Watcher.Canceled && !m.Watcher.Synced && m.Watcher.QuerySequence == m.Sequence)
            {
                Query(m.Watcher);
            }
        });
        Receive<ProgressTick>(_ => SendProgress());
        Receive<GetWatchHubStatus>(_ => Sender.Tell(Status()));
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for a hub with <paramref name="settings"/> reading history from <paramref name="raft"/>.</summary>
    public static Props Props(WatchHubSettings settings, IActorRef? raft = null) =>
        Akka.Actor.Props.Create(() => new WatchHub(settings, raft));

    /// <inheritdoc />
    protected override void PreStart() =>
        Timers.StartPeriodicTimer(nameof(ProgressTick), ProgressTick.Instance, _settings.ProgressInterval);

    /// <inheritdoc />
    protected override void PostStop()
    {
        foreach (var stream in _streams.Keys)
        {
            stream.Complete();
        }
    }

    private void OnRevision(KvEventGroup group)
    {
        if (group.Revision > _revision + 1)
        {
            // A revision never came (the store skipped ahead): every synced watcher reads what it missed.
            _log.Info("Watch hub: revision {0} follows {1}; synced watchers catch up from the history.", group.Revision, _revision);
            OnRestored(group.Revision - 1);
        }

        _revision = Math.Max(_revision, group.Revision);
        var view = new GroupView(group);
        foreach (var watcher in _synced)
        {
            if (watcher.Synced && !watcher.Canceled && group.Revision >= watcher.Next)
            {
                watcher.Next = group.Revision + 1;
                Deliver(watcher, view);
            }
        }

        foreach (var watcher in _catching)
        {
            if (!watcher.Synced && !watcher.Canceled && group.Revision >= watcher.Next)
            {
                Hold(watcher, group);
            }
        }

        Tidy();
    }

    private void OnRestored(long revision)
    {
        if (revision <= _revision)
        {
            return;
        }

        _revision = revision;
        foreach (var watcher in _synced)
        {
            if (watcher.Synced && !watcher.Canceled && watcher.Next <= revision)
            {
                StartCatchUp(watcher);
            }
        }

        Tidy();
    }

    /// <summary>Sends <paramref name="watcher"/> the events of <paramref name="view"/> it wants, if any.</summary>
    private void Deliver(Watcher watcher, GroupView view)
    {
        var events = view.Group.Events;
        WatchResponse? response = null;
        for (var i = 0; i < events.Length; i++)
        {
            if (watcher.Wants(events[i]))
            {
                response ??= new WatchResponse { Header = new ResponseHeader { Revision = view.Group.Revision }, WatchId = watcher.Id };
                response.Events.Add(view.Get(i, watcher.PrevKv));
            }
        }

        if (response is not null)
        {
            Send(watcher, response);
        }
    }

    /// <summary>Holds a live group for a watcher that is catching up (only when it concerns it).</summary>
    private void Hold(Watcher watcher, KvEventGroup group)
    {
        if (watcher.HeldOverflow)
        {
            return;
        }

        var wanted = 0;
        foreach (var e in group.Events)
        {
            if (watcher.Wants(e))
            {
                wanted++;
            }
        }

        if (wanted == 0)
        {
            return;
        }

        if (watcher.HeldEvents + wanted > _settings.MaxPendingResponses)
        {
            // Too much to hold: drop it and read the history again after this catch-up.
            watcher.Held = [];
            watcher.HeldEvents = 0;
            watcher.HeldOverflow = true;
            return;
        }

        (watcher.Held ??= []).Add(group);
        watcher.HeldEvents += wanted;
    }

    /// <summary>Queues <paramref name="response"/> (events) for <paramref name="watcher"/>, cancelling it when its stream is too far behind.</summary>
    private void Send(Watcher watcher, WatchResponse response)
    {
        var output = watcher.Stream.Output;
        if (output.Pending >= _settings.MaxPendingResponses)
        {
            _log.Info("Watch hub: watcher {0} cancelled: its client left {1} responses unread.", watcher.Id, output.Pending);
            Cancel(watcher, new WatchResponse
            {
                Header = new ResponseHeader { Revision = _revision },
                WatchId = watcher.Id,
                Canceled = true,
                CancelReason = $"{SlowWatcherReason}: {output.Pending} responses were queued unread (the limit is {_settings.MaxPendingResponses}); resume from revision {watcher.Next - 1}",
            });
            return;
        }

        watcher.SentSinceProgress = true;
        if (watcher.Fragment && response.Events.Count > 1 && response.CalculateSize() > _settings.FragmentBytes)
        {
            foreach (var fragment in Fragments(response, _settings.FragmentBytes))
            {
                output.Enqueue(fragment);
            }

            return;
        }

        output.Enqueue(response, mergeable: !watcher.Fragment);
    }

    /// <summary>The start of the cancel reason of a watcher cancelled for slowness.</summary>
    public const string SlowWatcherReason = "etcdserver: watcher too slow";

    /// <summary>Splits a response into fragments of at most about <paramref name="limit"/> bytes (at least one event each); all but the last say fragment.</summary>
    internal static List<WatchResponse> Fragments(WatchResponse response, int limit)
    {
        var fragments = new List<WatchResponse>();
        WatchResponse? current = null;
        var size = 0;
        foreach (var e in response.Events)
        {
            var eventSize = e.CalculateSize() + 4;
            if (current is not null && current.Events.Count > 0 && size + eventSize > limit)
            {
                fragments.Add(current);
                current = null;
            }

            if (current is null)
            {
                current = new WatchResponse { Header = response.Header.Clone(), WatchId = response.WatchId, Fragment = true };
                size = current.CalculateSize();
            }

            current.Events.Add(e);
            size += eventSize;
        }

        if (current is not null)
        {
            current.Fragment = false;
            fragments.Add(current);
        }

        return fragments;
    }

    /// <summary>Removes <paramref name="watcher"/> and queues <paramref name="response"/> (a cancel) past the stream's bound.</summary>
    private void Cancel(Watcher watcher, WatchResponse response)
    {
        if (watcher.Canceled)
        {
            return;
        }

        watcher.Canceled = true;
        watcher.Held = null;
        _dirty = true;
        watcher.Stream.Watchers.Remove(watcher.Id);
        watcher.Stream.Output.Enqueue(response);
        AnswerProgressIfSynced(watcher.Stream);
    }

    private void CloseStream(WatchStreamOutput output)
    {
        if (!_streams.Remove(output, out var stream))
        {
            output.Complete();
            return;
        }

        foreach (var watcher in stream.Watchers.Values)
        {
            watcher.Canceled = true;
            watcher.Held = null;
        }

        stream.Watchers.Clear();
        _dirty = true;
        output.Complete();
        Tidy();
    }

    /// <summary>Drops watchers that left the synced or catching-up state from the lists.</summary>
    private void Tidy()
    {
        if (!_dirty)
        {
            return;
        }

        _dirty = false;
        _synced.RemoveAll(w => w.Canceled || !w.Synced);
        _catching.RemoveAll(w => w.Canceled || w.Synced);
    }

    private WatchHubStatus Status()
    {
        Tidy();
        return new WatchHubStatus(_revision, _streams.Count, _synced.Count, _catching.Count);
    }

    /// <summary>One revision's events in etcd's form, built once (with and without prev_kv) and shared by every watcher's response.</summary>
    private sealed class GroupView(KvEventGroup group)
    {
        private Event?[]? _plain;
        private Event?[]? _withPrevious;

        public KvEventGroup Group { get; } = group;

        public Event Get(int i, bool withPrevious)
        {
            var cache = withPrevious
                ? _withPrevious ??= new Event?[Group.Events.Length]
                : _plain ??= new Event?[Group.Events.Length];
            return cache[i] ??= Group.Events[i].ToEtcd(withPrevious);
        }
    }

    /// <summary>The periodic progress timer's message.</summary>
    private sealed record ProgressTick
    {
        public static ProgressTick Instance { get; } = new();
    }
}
