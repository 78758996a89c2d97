namespace KvCluster.Client.Bench.Etcd;

/// <summary>gRPC status codes (grpc/doc/statuscodes.md) and how a benchmark counts them.</summary>
internal static class GrpcStatus
{
    /// <summary>The call succeeded.</summary>
    public const int Ok = 0;

    /// <summary>
    /// Maps a non-OK status to a failure kind. DEADLINE_EXCEEDED is a timeout. UNAVAILABLE (etcd:
    /// leader changed, no leader, request timed out inside Raft), RESOURCE_EXHAUSTED (too many
    /// requests), CANCELLED and ABORTED mean "try again later". Everything else (invalid argument,
    /// permission denied, unimplemented, internal...) is a refusal of this request.
    /// </summary>
    public static BenchErrorKind ToErrorKind(int status) => status switch
    {
        4 => BenchErrorKind.Timeout,
        1 or 8 or 10 or 14 => BenchErrorKind.Unavailable,
        _ => BenchErrorKind.Rejected,
    };

    /// <summary>The canonical name of a status code, for messages.</summary>
    public static string Name(int status) => status switch
    {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "status " + status,
    };
}
