using Google.Protobuf;
using KvCluster.Client.Etcd.Mvcc;
using KeyValue = KvCluster.Client.Etcd.Mvcc.KeyValue;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>
/// Receives what the store changed, for the watch hub. Called on the store owner's thread (the RaftActor's turn), so an
/// implementation must return at once: hand the value to another thread or actor, never block or do I/O.
/// </summary>
internal interface IKvEventSink
{
    /// <summary>
    /// One revision's changes, all of them (a txn's puts and deletes together, in the order it made them), called once per
    /// revision in revision order. After a RaftActor restart the store replays the log from the start (or from its
    /// snapshot), so revisions already seen come again, with the same events: a receiver ignores what it has seen.
    /// </summary>
    void OnRevision(KvEventGroup group);

    /// <summary>
    /// The store was replaced by a snapshot at <paramref name="revision"/> (compaction point
    /// <paramref name="compactRevision"/>): revisions between the last group and this one have no groups.
    /// </summary>
    void OnRestored(long revision, long compactRevision);
}

/// <summary>
/// One change of one key at a revision: the key, the version written (a tombstone for a delete) and the version it
/// replaced when the key existed before (null otherwise). Immutable: shared with the hub's thread.
/// </summary>
/// <param name="Key">The key.</param>
/// <param name="Current">The version written (<see cref="KvVersion.IsTombstone"/> for a delete).</param>
/// <param name="Previous">The live version before the change, or null when the key did not exist.</param>
internal readonly record struct KvEvent(ByteString Key, KvVersion Current, KvVersion? Previous)
{
    /// <summary>True for a delete.</summary>
    public bool IsDelete => Current.IsTombstone;

    /// <summary>etcd's form: a PUT carries the key as written; a DELETE the key with only its mod revision.</summary>
    public Event ToEtcd(bool withPrevious)
    {
        var current = Current;
        var e = new Event
        {
            Type = current.IsTombstone ? Event.Types.EventType.Delete : Event.Types.EventType.Put,
            Kv = current.IsTombstone
                ? new KeyValue { Key = Key, ModRevision = current.ModRevision }
                : ToKeyValue(current),
        };
        if (withPrevious && Previous is { } previous)
        {
            e.PrevKv = ToKeyValue(previous);
        }

        return e;
    }

    private KeyValue ToKeyValue(in KvVersion version) => new()
    {
        Key = Key,
        Value = version.Value ?? ByteString.Empty,
        CreateRevision = version.CreateRevision,
        ModRevision = version.ModRevision,
        Version = version.Version,
        Lease = version.Lease,
    };
}

/// <summary>Every change made at one revision, in the order the command made them. Immutable once published.</summary>
/// <param name="Revision">The revision.</param>
/// <param name="Events">The changes (at least one).</param>
internal sealed record KvEventGroup(long Revision, KvEvent[] Events);

public sealed partial class KvStateMachine
{
    /// <summary>Changes of the command being applied, collected while <see cref="_events"/> is set.</summary>
    private readonly List<KvEvent> _pendingEvents = [];

    /// <summary>Where revisions go (null: nobody listens and nothing is collected).</summary>
    private IKvEventSink? _events;

    /// <summary>True only inside <see cref="Apply(long, KvCommand)"/> with a sink: the writes to record.</summary>
    private bool _recording;

    /// <summary>
    /// The receiver of every applied revision's changes (the node's watch hub), or null. Set by the owner before the first
    /// <see cref="Apply(long, KvCommand)"/>; the sink is called on the owner's thread.
    /// </summary>
    internal IKvEventSink? Events
    {
        get => _events;
        set => _events = value;
    }

    /// <summary>Starts collecting the changes of one command (called at the top of an apply).</summary>
    private void BeginEvents()
    {
        _recording = _events is not null;
        _pendingEvents.Clear();
    }

    /// <summary>Records one change (a no-op unless a command with a sink is being applied).</summary>
    private void RecordEvent(ByteString key, in KvVersion current, KvVersion? previous)
    {
        if (_recording)
        {
            _pendingEvents.Add(new KvEvent(key, current, previous));
        }
    }

    /// <summary>Hands the command's changes, one group for its revision, to the sink (called at the end of an apply).</summary>
    private void PublishEvents()
    {
        if (!_recording)
        {
            return;
        }

        _recording = false;
        if (_pendingEvents.Count == 0)
        {
            return;
        }

        var group = new KvEventGroup(Revision, [.. _pendingEvents]);
        _pendingEvents.Clear();
        _events!.OnRevision(group);
    }

    /// <summary>Tells the sink that the store was replaced by a snapshot (called at the end of a restore).</summary>
    private void PublishRestored() => _events?.OnRestored(Revision, CompactRevision);

    /// <summary>
    /// The changes to the keys of [<paramref name="key"/>, <paramref name="rangeEnd"/>) (etcd's forms: an empty range end
    /// is the one key, "\0" every key from it) at revisions from <paramref name="fromRevision"/> on, read from the
    /// retained history, whole revisions in revision order, at most about <paramref name="maxEvents"/> events (a single
    /// revision with more is returned whole). Within a revision, events are in key order (the order a command made them
    /// is not retained). A previous version is given when the history still holds it. The answer's
    /// <see cref="WatchHistoryResult.NextRevision"/> is the first revision not covered (the store revision + 1 when
    /// everything was read). Called on the owner's thread (a node-local query).
    /// </summary>
    public WatchHistoryResult ReadEvents(ByteString key, ByteString rangeEnd, long fromRevision, int maxEvents)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(rangeEnd);
        var result = new WatchHistoryResult { Revision = Revision, CompactRevision = CompactRevision };
        var from = Math.Max(fromRevision, 1);
        if (from < CompactRevision)
        {
            result.NextRevision = from;
            return result;
        }

        var found = new List<KvEvent>();
        foreach (var history in EtcdKeys(key, rangeEnd))
        {
            KvVersion? previous = null;
            foreach (var version in history.Versions())
            {
                if (version.ModRevision >= from)
                {
                    found.Add(new KvEvent(history.Key, version, previous));
                }

                previous = version.IsTombstone ? null : version;
            }
        }

        // A stable sort keeps key order within a revision.
        var ordered = found.OrderBy(e => e.Current.ModRevision).ToList();
        var take = ordered.Count;
        if (maxEvents > 0 && ordered.Count > maxEvents)
        {
            take = maxEvents;
            var cut = ordered[take - 1].Current.ModRevision;
            while (take < ordered.Count && ordered[take].Current.ModRevision == cut)
            {
                take++;
            }
        }

        for (var i = 0; i < take; i++)
        {
            result.Events.Add(ordered[i].ToEtcd(withPrevious: true));
        }

        result.NextRevision = take < ordered.Count ? ordered[take].Current.ModRevision : Revision + 1;
        return result;
    }
}
