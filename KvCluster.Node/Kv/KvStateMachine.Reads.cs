using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>
    /// Reads one key from the applied state (a local read: linearizable only when the caller has
    /// established, e.g. by ReadIndex, that everything committed before the read is applied).
    /// Returns <see cref="KvStatus.Ok"/> with the pair, or <see cref="KvStatus.NotFound"/>.
    /// The returned message shares the stored (immutable) byte strings.
    /// </summary>
    public KvResult Get(ReadOnlySpan<byte> key)
    {
        if (!_bySpan.TryGetValue(key, out var entry))
        {
            return new KvResult { Status = KvStatus.NotFound, Revision = Revision };
        }

        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            Get = new GetResult { Kv = entry.ToKeyValue(withValue: true) },
        };
    }

    /// <summary>
    /// Scans the applied state in unsigned byte order over the request's prefix or [start, end)
    /// interval, returning at most <see cref="RangeRequest.Limit"/> pairs (0 = all), with
    /// <see cref="RangeResult.Count"/> = every key in the range and <see cref="RangeResult.More"/>
    /// set when the limit cut the answer. Cost is O(log n + keys in range) because of the count.
    /// A malformed request gives <see cref="KvStatus.InvalidArgument"/>.
    /// </summary>
    public KvResult Range(RangeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var rejection = KvCommandRules.Check(new KvCommand { Range = request }, Limits);
        if (rejection is not null)
        {
            return rejection.ToResult(Revision);
        }

        ByteString start;
        ReadOnlySpan<byte> end;
        byte[] prefixEnd = [];
        if (request.BoundsCase == RangeRequest.BoundsOneofCase.Prefix)
        {
            start = request.Prefix;
            prefixEnd = KvKeyOrder.PrefixEnd(start.Span);
            end = prefixEnd;
        }
        else
        {
            start = request.Interval.Start;
            end = request.Interval.End.Span;
        }

        var result = new RangeResult();
        long count = 0;
        foreach (var entry in Scan(start, end))
        {
            count++;
            if (request.Limit == 0 || (long)result.Kvs.Count < request.Limit)
            {
                result.Kvs.Add(entry.ToKeyValue(withValue: !request.KeysOnly));
            }
        }

        result.Count = count;
        result.More = count > (long)result.Kvs.Count;
        return new KvResult { Status = KvStatus.Ok, Revision = Revision, Range = result };
    }

    /// <summary>
    /// The entries in [start, end) in key order; an empty <paramref name="end"/> means no upper
    /// bound. The store must not change while the enumeration runs.
    /// </summary>
    private IEnumerable<KvEntry> Scan(ByteString start, ReadOnlySpan<byte> end)
    {
        if (_sorted.Count == 0)
        {
            return [];
        }

        var max = _sorted.Max!;
        var lower = KvEntry.Probe(start);
        if (KvEntryKeyComparer.Instance.Compare(lower, max) > 0)
        {
            return [];
        }

        // GetViewBetween is inclusive on both ends: use the largest key as the upper bound when the
        // interval is open or reaches past it, and drop an entry equal to an exclusive end.
        KvEntry upper;
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

            upper = KvEntry.Probe(ByteString.CopyFrom(end));
            endIsExclusive = true;
        }

        var view = _sorted.GetViewBetween(lower, upper);
        return endIsExclusive ? ExcludeEnd(view, upper) : view;
    }

    private static IEnumerable<KvEntry> ExcludeEnd(SortedSet<KvEntry> view, KvEntry end)
    {
        foreach (var entry in view)
        {
            if (KvEntryKeyComparer.Instance.Compare(entry, end) < 0)
            {
                yield return entry;
            }
        }
    }
}
