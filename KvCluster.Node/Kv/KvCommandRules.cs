using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>
/// The shape and size rules every command must satisfy, shared by <see cref="KvRequestValidator"/>
/// (before the log) and <see cref="KvStateMachine"/> (defensively, at apply time) so both reject
/// exactly the same commands with exactly the same messages.
/// </summary>
internal static class KvCommandRules
{
    /// <summary>Returns null when <paramref name="command"/> is acceptable, else the rejection.</summary>
    public static KvValidationError? Check(KvCommand command, KvLimits limits)
    {
        return command.OpCase switch
        {
            KvCommand.OpOneofCase.Put => CheckPut(command.Put, limits),
            KvCommand.OpOneofCase.Get => CheckKey(command.Get.Key, "get", limits),
            KvCommand.OpOneofCase.Delete => CheckKey(command.Delete.Key, "delete", limits),
            KvCommand.OpOneofCase.DeleteRange => CheckBound(command.DeleteRange.Prefix, "delete-range prefix", limits),
            KvCommand.OpOneofCase.Range => CheckRange(command.Range, limits),
            KvCommand.OpOneofCase.EtcdRange or KvCommand.OpOneofCase.EtcdPut or KvCommand.OpOneofCase.EtcdDeleteRange
                or KvCommand.OpOneofCase.EtcdTxn or KvCommand.OpOneofCase.EtcdCompact or KvCommand.OpOneofCase.EtcdHashKv
                => KvEtcdRules.Check(command, limits),
            KvCommand.OpOneofCase.LeaseGrant or KvCommand.OpOneofCase.LeaseRevoke or KvCommand.OpOneofCase.LeaseKeepAlive
                or KvCommand.OpOneofCase.LeaseTimeToLive or KvCommand.OpOneofCase.LeaseLeases or KvCommand.OpOneofCase.LeaseTable
                => LeaseRules.Check(command),
            KvCommand.OpOneofCase.Auth when command.Auth.OpCase == AuthCommand.OpOneofCase.None => new KvValidationError(
                KvStatus.InvalidCommand, "The auth command has no operation set."),
            KvCommand.OpOneofCase.Auth => null,
            KvCommand.OpOneofCase.WatchHistory => new KvValidationError(
                KvStatus.InvalidCommand, "A watch history read is a node-local query of the watch hub, not a command."),
            _ => new KvValidationError(
                KvStatus.InvalidCommand, "The command has no operation set (expected put, get, delete, delete-range, range or an etcd request)."),
        };
    }

    private static KvValidationError? CheckPut(PutRequest put, KvLimits limits)
    {
        var keyError = CheckKey(put.Key, "put", limits);
        if (keyError is not null)
        {
            return keyError;
        }

        if (put.Value.Length > limits.MaxValueBytes)
        {
            return new KvValidationError(
                KvStatus.InvalidArgument,
                $"The value for key {KvKeyOrder.Describe(put.Key.Span)} is {put.Value.Length} bytes; " +
                $"the limit is {limits.MaxValueBytes} bytes ({nameof(KvLimits.MaxValueBytes)}).");
        }

        return null;
    }

    private static KvValidationError? CheckKey(ByteString key, string operation, KvLimits limits)
    {
        if (key.IsEmpty)
        {
            return new KvValidationError(KvStatus.InvalidArgument, $"The {operation} key is empty; keys must have at least one byte.");
        }

        return CheckBound(key, operation, " key", limits);
    }

    private static KvValidationError? CheckBound(ByteString key, string what, KvLimits limits) => CheckBound(key, what, string.Empty, limits);

    // The description is passed in two parts so the common (valid) path builds no string.
    private static KvValidationError? CheckBound(ByteString key, string what, string whatSuffix, KvLimits limits)
    {
        if (key.Length > limits.MaxKeyBytes)
        {
            return new KvValidationError(
                KvStatus.InvalidArgument,
                $"The {what}{whatSuffix} {KvKeyOrder.Describe(key.Span)} is {key.Length} bytes; " +
                $"the limit is {limits.MaxKeyBytes} bytes ({nameof(KvLimits.MaxKeyBytes)}).");
        }

        return null;
    }

    private static KvValidationError? CheckRange(RangeRequest range, KvLimits limits)
    {
        if (range.Limit < 0)
        {
            return new KvValidationError(
                KvStatus.InvalidArgument, $"The range limit is {range.Limit}; use 0 for no limit or a positive number of keys.");
        }

        switch (range.BoundsCase)
        {
            case RangeRequest.BoundsOneofCase.Prefix:
                return CheckBound(range.Prefix, "range prefix", limits);
            case RangeRequest.BoundsOneofCase.Interval:
                var start = range.Interval.Start;
                var end = range.Interval.End;
                var error = CheckBound(start, "range start", limits) ?? CheckBound(end, "range end", limits);
                if (error is not null)
                {
                    return error;
                }

                if (!end.IsEmpty && KvKeyOrder.Compare(end.Span, start.Span) < 0)
                {
                    return new KvValidationError(
                        KvStatus.InvalidArgument,
                        $"The range end {KvKeyOrder.Describe(end.Span)} sorts before its start {KvKeyOrder.Describe(start.Span)}; " +
                        "the interval is [start, end) and an empty end means no upper bound.");
                }

                return null;
            default:
                return new KvValidationError(
                    KvStatus.InvalidArgument, "The range has neither a prefix nor an interval; set one of them.");
        }
    }
}
