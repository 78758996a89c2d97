using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>The key if it exists now (newest version not a tombstone), else null.</summary>
    private KvKeyHistory? Live(ReadOnlySpan<byte> key) =>
        _bySpan.TryGetValue(key, out var history) && history.IsLive ? history : null;

    /// <summary>
    /// Writes a put of <paramref name="value"/> at <paramref name="revision"/> (the caller moves
    /// <see cref="Revision"/>): a new generation (create revision = this one, version 1) when the key
    /// does not exist now, else the next version of the current one.
    /// </summary>
    /// <remarks><paramref name="history"/> is the key's history as the caller looked it up (null: none stored).</remarks>
    private KvKeyHistory WriteVersion(KvKeyHistory? history, ByteString key, ByteString value, long lease, long revision)
    {
        if (history is null)
        {
            history = new KvKeyHistory(key, new KvVersion(revision, revision, 1, lease, value));
            RecordEvent(key, history.Latest, null);
            _byKey.Add(key, history);
            _sorted.Add(history);
            _liveCount++;
            MoveLease(key, 0, lease);
            return history;
        }

        var latest = history.Latest;
        MoveLease(key, latest.IsTombstone ? 0 : latest.Lease, lease);
        KvVersion? previous = latest.IsTombstone ? null : latest;
        if (latest.IsTombstone)
        {
            history.Append(new KvVersion(revision, revision, 1, lease, value));
            _liveCount++;
        }
        else
        {
            history.Append(new KvVersion(revision, latest.CreateRevision, latest.Version + 1, lease, value));
        }

        RecordEvent(history.Key, history.Latest, previous);
        _compactable.Add(history);
        return history;
    }

    /// <summary>Records the delete of a live key at <paramref name="revision"/> (the caller moves <see cref="Revision"/>).</summary>
    private void WriteTombstone(KvKeyHistory live, long revision)
    {
        MoveLease(live.Key, live.Latest.Lease, 0);
        RecordEvent(live.Key, KvVersion.Tombstone(revision), live.Latest);
        live.Append(KvVersion.Tombstone(revision));
        _liveCount--;
        _compactable.Add(live);
    }

    /// <summary>
    /// The stored keys (live or not) in etcd's key/range_end forms: an empty range_end is the one
    /// key; "\0" is every key at or above key; otherwise [key, range_end), empty when range_end is
    /// not above key.
    /// </summary>
    private IEnumerable<KvKeyHistory> EtcdKeys(ByteString key, ByteString rangeEnd)
    {
        if (rangeEnd.IsEmpty)
        {
            return _bySpan.TryGetValue(key.Span, out var one) ? [one] : [];
        }

        return rangeEnd.Length == 1 && rangeEnd[0] == 0
            ? Scan(key, ReadOnlySpan<byte>.Empty)
            : Scan(key, rangeEnd.Span);
    }

    /// <summary>
    /// Checks a read revision as etcd does: 0 or less is the newest; above <see cref="Revision"/> is
    /// a future revision; below <see cref="CompactRevision"/> is compacted. Null when acceptable.
    /// </summary>
    private KvValidationError? CheckReadRevision(long revision)
    {
        if (revision > Revision)
        {
            return new KvValidationError(KvStatus.FutureRevision, EtcdErrors.FutureRevision);
        }

        if (revision > 0 && revision < CompactRevision)
        {
            return new KvValidationError(KvStatus.Compacted, EtcdErrors.Compacted);
        }

        return null;
    }

    /// <summary>
    /// The stored keys in [start, end) in key order; an empty <paramref name="end"/> means no upper
    /// bound. The key set must not change while the enumeration runs.
    /// </summary>
    private IEnumerable<KvKeyHistory> Scan(ByteString start, ReadOnlySpan<byte> end)
    {
        if (_sorted.Count == 0)
        {
            return [];
        }

        var max = _sorted.Max!;
        var lower = KvKeyHistory.Probe(start);
        if (KvKeyHistoryComparer.Instance.Compare(lower, max) > 0)
        {
            return [];
        }

        // GetViewBetween is inclusive on both ends: use the largest key as the upper bound when the
        // interval is open or reaches past it, and drop a key equal to an exclusive end.
        KvKeyHistory upper;
        var endIsExclusive = false;
        if (end.IsEmpty || KvKeyOrder.Compare(end, max.Key.Span) > 0)
        {
            upper = max;
        }
        else
        {
            if (KvKeyOrder.Compare(end, start.Span) <= 0)
            {
                return [];
            }

            upper = KvKeyHistory.Probe(ByteString.CopyFrom(end));
            endIsExclusive = true;
        }

        var view = _sorted.GetViewBetween(lower, upper);
        return endIsExclusive ? ExcludeEnd(view, upper) : view;
    }

    private static IEnumerable<KvKeyHistory> ExcludeEnd(SortedSet<KvKeyHistory> view, KvKeyHistory end)
    {
        foreach (var key in view)
        {
            if (KvKeyHistoryComparer.Instance.Compare(key, end) < 0)
            {
                yield return key;
            }
        }
    }
}
