using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>
    /// Serves a read-only command from the applied state without changing anything: get, range,
    /// etcd range, a read-only etcd txn, etcd HashKV, lease time-to-live (granted TTL and keys), lease list and the
    /// lease table. Null for any other command (it must be
    /// proposed). Checked by the same rules as at apply time.
    /// </summary>
    public KvResult? Query(KvCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.OpCase == KvCommand.OpOneofCase.WatchHistory)
        {
            var history = command.WatchHistory;
            return new KvResult
            {
                Status = KvStatus.Ok,
                Revision = Revision,
                WatchHistory = ReadEvents(history.Key, history.RangeEnd, history.StartRevision, history.MaxEvents),
            };
        }

        if (command.OpCase is not (KvCommand.OpOneofCase.Get or KvCommand.OpOneofCase.Range or KvCommand.OpOneofCase.EtcdRange
            or KvCommand.OpOneofCase.EtcdTxn or KvCommand.OpOneofCase.EtcdHashKv or KvCommand.OpOneofCase.LeaseTimeToLive
            or KvCommand.OpOneofCase.LeaseLeases or KvCommand.OpOneofCase.LeaseTable)
            && !(command.OpCase == KvCommand.OpOneofCase.Auth && KvAuthState.IsRead(command.Auth)))
        {
            return null;
        }

        var rejection = KvCommandRules.Check(command, Limits);
        if (rejection is not null)
        {
            return rejection.ToResult(Revision);
        }

        if (AuthRefusal(command) is { } refusal)
        {
            return refusal;
        }

        return command.OpCase switch
        {
            KvCommand.OpOneofCase.Get => Get(command.Get.Key.Span),
            KvCommand.OpOneofCase.Range => Range(command.Range),
            KvCommand.OpOneofCase.EtcdRange => EtcdRange(command.EtcdRange),
            KvCommand.OpOneofCase.EtcdTxn => EtcdReadTxn(command.EtcdTxn),
            KvCommand.OpOneofCase.LeaseTimeToLive => LeaseTimeToLive(command.LeaseTimeToLive),
            KvCommand.OpOneofCase.LeaseLeases => LeaseLeases(),
            KvCommand.OpOneofCase.LeaseTable => LeaseTableQuery(),
            KvCommand.OpOneofCase.Auth => ApplyAuth(command.Auth),
            _ => HashKv(command.EtcdHashKv),
        };
    }

    /// <summary>
    /// Reads one key from the applied state (a local read: linearizable only when the caller has
    /// established, e.g. by ReadIndex, that everything committed before the read is applied).
    /// Returns <see cref="KvStatus.Ok"/> with the pair, or <see cref="KvStatus.NotFound"/>.
    /// The returned message shares the stored (immutable) byte strings.
    /// </summary>
    public KvResult Get(ReadOnlySpan<byte> key)
    {
        var live = Live(key);
        if (live is null)
        {
            return new KvResult { Status = KvStatus.NotFound, Revision = Revision };
        }

        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            Get = new GetResult { Kv = live.ToKeyValue(live.Latest, withValue: true) },
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
        foreach (var key in Scan(start, end))
        {
            if (!key.IsLive)
            {
                continue;
            }

            count++;
            if (request.Limit == 0 || (long)result.Kvs.Count < request.Limit)
            {
                result.Kvs.Add(key.ToKeyValue(key.Latest, withValue: !request.KeysOnly));
            }
        }

        result.Count = count;
        result.More = count > (long)result.Kvs.Count;
        return new KvResult { Status = KvStatus.Ok, Revision = Revision, Range = result };
    }
}
