using Google.Protobuf;
using Google.Protobuf.Collections;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using DeleteRangeRequest = KvCluster.Client.Etcd.DeleteRangeRequest;
using PutRequest = KvCluster.Client.Etcd.PutRequest;
using RangeRequest = KvCluster.Client.Etcd.RangeRequest;

namespace KvCluster.Node.Kv;

/// <summary>
/// The stateless checks etcd makes on its requests before they reach the log (etcd's v3rpc
/// checkRangeRequest, checkPutRequest, checkTxnRequest and checkIntervals), with etcd's messages
/// (<see cref="EtcdErrors"/>) and <see cref="KvStatus.InvalidArgument"/>. Shared by the router's
/// validator and the state machine (again at apply time), so both refuse exactly the same requests.
/// Size limits: a key over <see cref="KvLimits.MaxKeyBytes"/>, a value over
/// <see cref="KvLimits.MaxValueBytes"/> or a command over <see cref="KvLimits.MaxRequestBytes"/> is
/// "request is too large".
/// </summary>
public static class KvEtcdRules
{
    /// <summary>Null when the etcd command in <paramref name="command"/> is acceptable, else the rejection.</summary>
    internal static KvValidationError? Check(KvCommand command, KvLimits limits)
    {
        if (command.CalculateSize() > limits.MaxRequestBytes)
        {
            return Refuse(EtcdErrors.RequestTooLarge);
        }

        return command.OpCase switch
        {
            KvCommand.OpOneofCase.EtcdRange => CheckRange(command.EtcdRange, limits),
            KvCommand.OpOneofCase.EtcdPut => CheckPut(command.EtcdPut, limits),
            KvCommand.OpOneofCase.EtcdDeleteRange => CheckDelete(command.EtcdDeleteRange, limits),
            KvCommand.OpOneofCase.EtcdTxn => CheckTxn(command.EtcdTxn, limits),
            _ => null,
        };
    }

    /// <summary>
    /// True when every operation of <paramref name="txn"/>, in both branches and in nested txns, is a
    /// range: the txn changes nothing whatever its compares give, so it may be served as a read.
    /// </summary>
    public static bool IsReadOnly(TxnRequest txn)
    {
        ArgumentNullException.ThrowIfNull(txn);
        return OnlyRanges(txn.Success) && OnlyRanges(txn.Failure);
    }

    /// <summary>True when <paramref name="txn"/> is read-only and every range in it asks for a serializable read (etcd's rule).</summary>
    public static bool IsSerializable(TxnRequest txn)
    {
        ArgumentNullException.ThrowIfNull(txn);
        return IsReadOnly(txn) && AllSerializable(txn.Success) && AllSerializable(txn.Failure);
    }

    internal static KvValidationError? CheckRange(RangeRequest range, KvLimits limits)
    {
        if (range.Key.IsEmpty)
        {
            return Refuse(EtcdErrors.EmptyKey);
        }

        if (!Enum.IsDefined(range.SortOrder) || !Enum.IsDefined(range.SortTarget))
        {
            return Refuse(EtcdErrors.InvalidSortOption);
        }

        return TooLong(range.Key, limits) ?? TooLong(range.RangeEnd, limits);
    }

    private static KvValidationError? CheckPut(PutRequest put, KvLimits limits)
    {
        if (put.Key.IsEmpty)
        {
            return Refuse(EtcdErrors.EmptyKey);
        }

        if (put.IgnoreValue && !put.Value.IsEmpty)
        {
            return Refuse(EtcdErrors.ValueProvided);
        }

        if (put.IgnoreLease && put.Lease != 0)
        {
            return Refuse(EtcdErrors.LeaseProvided);
        }

        return TooLong(put.Key, limits) ?? (put.Value.Length > limits.MaxValueBytes ? Refuse(EtcdErrors.RequestTooLarge) : null);
    }

    private static KvValidationError? CheckDelete(DeleteRangeRequest delete, KvLimits limits) =>
        delete.Key.IsEmpty ? Refuse(EtcdErrors.EmptyKey) : TooLong(delete.Key, limits) ?? TooLong(delete.RangeEnd, limits);

    /// <summary>etcd's checkTxnRequest (op counts, empty keys, each operation) then checkIntervals on both branches.</summary>
    internal static KvValidationError? CheckTxn(TxnRequest txn, KvLimits limits) =>
        CheckTxnShape(txn, limits, limits.MaxTxnOps) ?? CheckIntervals(txn.Success, out _, out _) ?? CheckIntervals(txn.Failure, out _, out _);

    // A nested txn may use what its parent leaves of the limit (etcd passes maxTxnOps - ops down).
    private static KvValidationError? CheckTxnShape(TxnRequest txn, KvLimits limits, int maxOps)
    {
        var ops = Math.Max(txn.Compare.Count, Math.Max(txn.Success.Count, txn.Failure.Count));
        if (ops > maxOps)
        {
            return Refuse(EtcdErrors.TooManyOps);
        }

        foreach (var compare in txn.Compare)
        {
            if (compare.Key.IsEmpty)
            {
                return Refuse(EtcdErrors.EmptyKey);
            }

            if ((TooLong(compare.Key, limits) ?? TooLong(compare.RangeEnd, limits)) is { } tooLong)
            {
                return tooLong;
            }
        }

        foreach (var op in txn.Success.Concat(txn.Failure))
        {
            var error = op.RequestCase switch
            {
                RequestOp.RequestOneofCase.RequestRange => CheckRange(op.RequestRange, limits),
                RequestOp.RequestOneofCase.RequestPut => CheckPut(op.RequestPut, limits),
                RequestOp.RequestOneofCase.RequestDeleteRange => CheckDelete(op.RequestDeleteRange, limits),
                RequestOp.RequestOneofCase.RequestTxn => CheckTxnShape(op.RequestTxn, limits, maxOps - ops),
                _ => Refuse(EtcdErrors.KeyNotFound),
            };
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }

    /// <summary>
    /// etcd's checkIntervals: within one branch list (and the nested txns in it), no key may be put
    /// twice or both put and deleted; the two branches of a nested txn may put the same key (only one
    /// runs); deletes may overlap each other.
    /// </summary>
    private static KvValidationError? CheckIntervals(RepeatedField<RequestOp> ops, out HashSet<ByteString> puts, out List<KeySpan> deletes)
    {
        puts = [];
        deletes = [];
        foreach (var op in ops)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestDeleteRange)
            {
                deletes.Add(new KeySpan(op.RequestDeleteRange.Key, op.RequestDeleteRange.RangeEnd));
            }
        }

        foreach (var op in ops)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestTxn)
            {
                continue;
            }

            var error = CheckIntervals(op.RequestTxn.Success, out var putsThen, out var deletesThen);
            if (error is not null)
            {
                return error;
            }

            error = CheckIntervals(op.RequestTxn.Failure, out var putsElse, out var deletesElse);
            if (error is not null)
            {
                return error;
            }

            foreach (var key in putsThen)
            {
                if (puts.Contains(key) || Intersects(deletes, key))
                {
                    return Refuse(EtcdErrors.DuplicateKey);
                }

                puts.Add(key);
            }

            foreach (var key in putsElse)
            {
                if ((puts.Contains(key) && !putsThen.Contains(key)) || Intersects(deletes, key))
                {
                    return Refuse(EtcdErrors.DuplicateKey);
                }

                puts.Add(key);
            }

            deletes.AddRange(deletesThen);
            deletes.AddRange(deletesElse);
        }

        foreach (var op in ops)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestPut)
            {
                continue;
            }

            var key = op.RequestPut.Key;
            if (puts.Contains(key) || Intersects(deletes, key))
            {
                return Refuse(EtcdErrors.DuplicateKey);
            }

            puts.Add(key);
        }

        return null;
    }

    private static bool Intersects(List<KeySpan> spans, ByteString key)
    {
        foreach (var span in spans)
        {
            if (span.Contains(key.Span))
            {
                return true;
            }
        }

        return false;
    }

    private static bool OnlyRanges(RepeatedField<RequestOp> ops)
    {
        foreach (var op in ops)
        {
            var readOnly = op.RequestCase switch
            {
                RequestOp.RequestOneofCase.RequestRange => true,
                RequestOp.RequestOneofCase.RequestTxn => IsReadOnly(op.RequestTxn),
                _ => false,
            };
            if (!readOnly)
            {
                return false;
            }
        }

        return true;
    }

    private static bool AllSerializable(RepeatedField<RequestOp> ops)
    {
        foreach (var op in ops)
        {
            var serializable = op.RequestCase switch
            {
                RequestOp.RequestOneofCase.RequestRange => op.RequestRange.Serializable,
                RequestOp.RequestOneofCase.RequestTxn => AllSerializable(op.RequestTxn.Success) && AllSerializable(op.RequestTxn.Failure),
                _ => false,
            };
            if (!serializable)
            {
                return false;
            }
        }

        return true;
    }

    private static KvValidationError? TooLong(ByteString key, KvLimits limits) =>
        key.Length > limits.MaxKeyBytes ? Refuse(EtcdErrors.RequestTooLarge) : null;

    private static KvValidationError Refuse(string message) => new(KvStatus.InvalidArgument, message);

    /// <summary>A key or a key range in etcd's forms (empty end: one key; "\0": every key from start).</summary>
    private readonly record struct KeySpan(ByteString Start, ByteString End)
    {
        public bool Contains(ReadOnlySpan<byte> key)
        {
            if (End.IsEmpty)
            {
                return key.SequenceEqual(Start.Span);
            }

            var unbounded = End.Length == 1 && End[0] == 0;
            return KvKeyOrder.Compare(key, Start.Span) >= 0 && (unbounded || KvKeyOrder.Compare(key, End.Span) < 0);
        }
    }
}
