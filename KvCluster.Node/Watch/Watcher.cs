using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;
using KvCluster.Node.Kv;

namespace KvCluster.Node.Watch;

/// <summary>One watcher of one stream, owned by the <see cref="WatchHub"/> (touched only on its turn).</summary>
internal sealed class Watcher
{
    /// <summary>Creates a watcher of [<paramref name="key"/>, <paramref name="end"/>) (see <see cref="End"/>).</summary>
    public Watcher(WatchStream stream, long id, ByteString key, ByteString? end, WatchCreateRequest request)
    {
        Stream = stream;
        Id = id;
        Key = key;
        End = end;
        PrevKv = request.PrevKv;
        ProgressNotify = request.ProgressNotify;
        Fragment = request.Fragment;
        foreach (var filter in request.Filters)
        {
            NoPut |= filter == WatchCreateRequest.Types.FilterType.Noput;
            NoDelete |= filter == WatchCreateRequest.Types.FilterType.Nodelete;
        }
    }

    /// <summary>The stream it belongs to.</summary>
    public WatchStream Stream { get; }

    /// <summary>Its watch id within the stream.</summary>
    public long Id { get; }

    /// <summary>The first key watched.</summary>
    public ByteString Key { get; }

    /// <summary>Null: only <see cref="Key"/>; empty: every key from <see cref="Key"/> on; otherwise the exclusive end.</summary>
    public ByteString? End { get; }

    /// <summary>Events carry the key's previous version.</summary>
    public bool PrevKv { get; }

    /// <summary>Gets progress responses when idle.</summary>
    public bool ProgressNotify { get; }

    /// <summary>Big responses are split into fragments.</summary>
    public bool Fragment { get; }

    /// <summary>Filters puts out.</summary>
    public bool NoPut { get; }

    /// <summary>Filters deletes out.</summary>
    public bool NoDelete { get; }

    /// <summary>The next revision this watcher must see: every revision below it was delivered (or did not concern it).</summary>
    public long Next { get; set; }

    /// <summary>True when it receives live revisions; false while it replays history.</summary>
    public bool Synced { get; set; }

    /// <summary>True once cancelled (by the client, for slowness, for compaction, or its stream closed).</summary>
    public bool Canceled { get; set; }

    /// <summary>The history query whose answer is awaited (older answers are ignored).</summary>
    public long QuerySequence { get; set; }

    /// <summary>The hub's revision when that query was sent.</summary>
    public long QueryHubRevision { get; set; }

    /// <summary>Live revisions that concern it, held while it catches up (null when synced).</summary>
    public List<KvEventGroup>? Held { get; set; }

    /// <summary>Events in <see cref="Held"/>.</summary>
    public int HeldEvents { get; set; }

    /// <summary>More live revisions came than may be held: the history is read again after this catch-up.</summary>
    public bool HeldOverflow { get; set; }

    /// <summary>Events were sent since the last progress tick (so no progress response is due).</summary>
    public bool SentSinceProgress { get; set; }

    /// <summary>The etcd range end form of the range (empty: one key; "\0": from the key on).</summary>
    public ByteString EtcdRangeEnd => End is null ? ByteString.Empty : End.IsEmpty ? s_fromKey : End;

    private static readonly ByteString s_fromKey = ByteString.CopyFrom(0);

    /// <summary>True when <paramref name="key"/> is in the watched range.</summary>
    public bool Covers(ReadOnlySpan<byte> key) =>
        End is null
            ? key.SequenceEqual(Key.Span)
            : KvKeyOrder.Compare(key, Key.Span) >= 0 && (End.IsEmpty || KvKeyOrder.Compare(key, End.Span) < 0);

    /// <summary>True when the watcher wants <paramref name="e"/> (range and filters).</summary>
    public bool Wants(in KvEvent e) => (e.IsDelete ? !NoDelete : !NoPut) && Covers(e.Key.Span);

    /// <summary>True when the watcher wants the etcd event <paramref name="e"/> (range and filters).</summary>
    public bool Wants(Event e) =>
        (e.Type == Event.Types.EventType.Delete ? !NoDelete : !NoPut) && Covers(e.Kv.Key.Span);
}

/// <summary>One watch stream (one gRPC Watch call) as the hub sees it.</summary>
internal sealed class WatchStream
{
    /// <summary>Creates the hub's state of the stream writing to <paramref name="output"/>.</summary>
    public WatchStream(WatchStreamOutput output)
    {
        Output = output;
    }

    /// <summary>Where its responses go.</summary>
    public WatchStreamOutput Output { get; }

    /// <summary>Its live watchers by id.</summary>
    public Dictionary<long, Watcher> Watchers { get; } = [];

    /// <summary>The next id to try when the client lets the server choose.</summary>
    public long NextId { get; set; }

    /// <summary>A progress request waits for every watcher of the stream to be synced.</summary>
    public bool ProgressRequested { get; set; }
}
