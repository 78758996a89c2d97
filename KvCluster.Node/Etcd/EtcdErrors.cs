using Grpc.Core;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's server errors with its gRPC status codes and messages (etcd's <c>api/v3rpc/rpctypes</c>), so etcd clients
/// recognise them and react as they do with etcd (clientv3 retries Unavailable, maps the messages back to its errors).
/// </summary>
internal static class EtcdErrors
{
    /// <summary>The message etcd clients match for a compacted revision.</summary>
    public const string CompactedMessage = Kv.EtcdErrors.Compacted;

    /// <summary>The message etcd clients match for a revision the store has not reached.</summary>
    public const string FutureRevisionMessage = Kv.EtcdErrors.FutureRevision;

    /// <summary>A read or compaction below the compacted revision.</summary>
    public static RpcException Compacted() => New(StatusCode.OutOfRange, CompactedMessage);

    /// <summary>A read or compaction above the store's revision.</summary>
    public static RpcException FutureRevision() => New(StatusCode.OutOfRange, FutureRevisionMessage);

    /// <summary>No leader is known (an election, or no quorum).</summary>
    public static RpcException NoLeader() => New(StatusCode.Unavailable, "etcdserver: no leader");

    /// <summary>A request that must run on the leader reached a follower (MoveLeader).</summary>
    public static RpcException NotLeader() => New(StatusCode.FailedPrecondition, "etcdserver: not leader");

    /// <summary>The deadline passed; a write may or may not have been committed.</summary>
    public static RpcException Timeout() => New(StatusCode.Unavailable, "etcdserver: request timed out");

    /// <summary>The node is stopping.</summary>
    public static RpcException Stopped() => New(StatusCode.Unavailable, "etcdserver: server stopped");

    /// <summary>The node holds its maximum of requests in flight.</summary>
    public static RpcException TooManyRequests() => New(StatusCode.ResourceExhausted, "etcdserver: too many requests");

    /// <summary>The encoded request is over <see cref="Hosting.NodeOptions.MaxRequestBytes"/>.</summary>
    public static RpcException RequestTooLarge() => New(StatusCode.InvalidArgument, Kv.EtcdErrors.RequestTooLarge);

    /// <summary>A request etcd refuses (empty key, too many operations, duplicate key...), with etcd's message.</summary>
    public static RpcException InvalidArgument(string message) => New(StatusCode.InvalidArgument, message);

    /// <summary>MemberRemove or MemberPromote of an id that is not a member.</summary>
    public static RpcException MemberNotFound() => New(StatusCode.NotFound, "etcdserver: member not found");

    /// <summary>MemberPromote of a voter.</summary>
    public static RpcException MemberNotLearner() => New(StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member");

    /// <summary>MemberPromote of a learner that did not catch up with the leader.</summary>
    public static RpcException LearnerNotReady() => New(StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader");

    /// <summary>MemberAdd with peer URLs that name no reachable AkkaKv node.</summary>
    public static RpcException MemberBadUrls() => New(StatusCode.InvalidArgument, "etcdserver: given member URLs are invalid");

    /// <summary>MoveLeader to a node that is not a voter.</summary>
    public static RpcException BadLeaderTransferee() => New(StatusCode.FailedPrecondition, "etcdserver: bad leader transferee");

    /// <summary>
    /// etcd's gRPC error for one of the auth store's refusals (<see cref="Kv.AuthErrors"/>), with etcd's code for it, or
    /// null for another message.
    /// </summary>
    public static RpcException? ForAuth(string message)
    {
        if (!Kv.AuthErrors.IsAuthError(message))
        {
            return null;
        }

        var code = message switch
        {
            Kv.AuthErrors.UserEmpty or Kv.AuthErrors.RoleEmpty or Kv.AuthErrors.AuthFailed or Kv.AuthErrors.PermissionNotGiven
                or Kv.AuthErrors.InvalidAuthManagement or Kv.AuthErrors.OldRevision => StatusCode.InvalidArgument,
            Kv.AuthErrors.PermissionDenied => StatusCode.PermissionDenied,
            Kv.AuthErrors.InvalidAuthToken => StatusCode.Unauthenticated,
            _ => StatusCode.FailedPrecondition,
        };
        return New(code, message);
    }

    /// <summary>A status etcd has no error for: the code and our own sentence.</summary>
    public static RpcException New(StatusCode code, string message) => new(new Status(code, message), message);
}
