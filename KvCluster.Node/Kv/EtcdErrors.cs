namespace KvCluster.Node.Kv;

/// <summary>
/// etcd's error messages (etcd api/v3rpc/rpctypes), returned verbatim in <c>KvResult.error</c> for the
/// etcd_* commands so clients that match on them react as they do with etcd. The gRPC status code
/// etcd uses for each is named in its doc line (the node's gRPC layer maps status and message).
/// </summary>
public static class EtcdErrors
{
    /// <summary>An empty key (gRPC InvalidArgument).</summary>
    public const string EmptyKey = "etcdserver: key is not provided";

    /// <summary>A txn with more operations than the limit (gRPC InvalidArgument).</summary>
    public const string TooManyOps = "etcdserver: too many operations in txn request";

    /// <summary>A txn that writes one key twice (gRPC InvalidArgument).</summary>
    public const string DuplicateKey = "etcdserver: duplicate key given in txn request";

    /// <summary>A request over the size limit (gRPC InvalidArgument).</summary>
    public const string RequestTooLarge = "etcdserver: request is too large";

    /// <summary>A put with ignore_value and a value (gRPC InvalidArgument).</summary>
    public const string ValueProvided = "etcdserver: value is provided";

    /// <summary>A put with ignore_lease and a lease (gRPC InvalidArgument).</summary>
    public const string LeaseProvided = "etcdserver: lease is provided";

    /// <summary>A range with an unknown sort order or target (gRPC InvalidArgument).</summary>
    public const string InvalidSortOption = "etcdserver: invalid sort option";

    /// <summary>A put with ignore_value or ignore_lease on a key that does not exist, or an empty txn op (gRPC InvalidArgument).</summary>
    public const string KeyNotFound = "etcdserver: key not found";

    /// <summary>A put naming a lease that does not exist (gRPC NotFound).</summary>
    public const string LeaseNotFound = "etcdserver: requested lease not found";

    /// <summary>A lease grant naming an id already in use (gRPC FailedPrecondition).</summary>
    public const string LeaseExists = "etcdserver: lease already exists";

    /// <summary>A lease grant with a TTL above etcd's maximum, 9,000,000,000 s (gRPC OutOfRange).</summary>
    public const string LeaseTtlTooLarge = "etcdserver: too large lease TTL";

    /// <summary>A read or compaction below the compaction point (gRPC OutOfRange; status COMPACTED).</summary>
    public const string Compacted = "etcdserver: mvcc: required revision has been compacted";

    /// <summary>A read or compaction above the store revision (gRPC OutOfRange; status FUTURE_REVISION).</summary>
    public const string FutureRevision = "etcdserver: mvcc: required revision is a future revision";
}
