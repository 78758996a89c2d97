using Grpc.Core;

namespace KvCluster.Client.Bench.Etcd;

/// <summary>How an etcd-API call's gRPC failure is counted and reported.</summary>
internal static class EtcdErrors
{
    /// <summary>
    /// Maps a non-OK status to a failure kind. DEADLINE_EXCEEDED is a timeout. UNAVAILABLE (etcd: leader changed,
    /// no leader, request timed out inside Raft), RESOURCE_EXHAUSTED (too many requests), CANCELLED and ABORTED mean
    /// "try again later". Everything else (invalid argument, out of range, unimplemented...) refuses this request.
    /// </summary>
    public static BenchErrorKind ToErrorKind(StatusCode status) => status switch
    {
        StatusCode.DeadlineExceeded => BenchErrorKind.Timeout,
        StatusCode.Cancelled or StatusCode.ResourceExhausted or StatusCode.Aborted or StatusCode.Unavailable => BenchErrorKind.Unavailable,
        _ => BenchErrorKind.Rejected,
    };

    /// <summary>The canonical upper-case name of a status (INVALID_ARGUMENT), as gRPC documents them.</summary>
    public static string Name(StatusCode status) => status switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => "status " + (int)status,
    };

    /// <summary>The exception a bench client throws for a failed call to <paramref name="endpoint"/>.</summary>
    public static BenchTargetException ToBenchException(RpcException e, BenchEndpoint endpoint)
    {
        var detail = e.Status.Detail;
        if (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is { } inner)
        {
            detail = $"{detail} ({inner.GetBaseException().Message})";
        }

        return new BenchTargetException(ToErrorKind(e.StatusCode), $"{endpoint}: {Name(e.StatusCode)}: {detail}", e);
    }
}
