using Grpc.Core;

namespace KvCluster.Client;

/// <summary>
/// etcd's "require leader" call metadata (clientv3's <c>WithRequireLeader</c>): a stream sent with it is ended by the
/// server with "etcdserver: no leader" once the member has been without a leader for a while, so the client moves to a
/// member that has one instead of waiting on a partitioned one. etcdctl 3.4 sends it on <c>watch</c> and on lease
/// keep-alive streams; <c>kv watch</c>, <c>kv lease keep-alive</c>, <c>kv lock</c> and <c>kv elect</c> do the same, and
/// the node's interceptor reads it.
/// </summary>
public static class EtcdRequireLeader
{
    /// <summary>clientv3's metadata key (rpctypes.MetadataRequireLeaderKey).</summary>
    public const string MetadataKey = "hasleader";

    /// <summary>clientv3's value (rpctypes.MetadataHasLeader).</summary>
    public const string MetadataValue = "true";

    /// <summary>New call headers carrying the requirement.</summary>
    public static Metadata Headers() => new() { { MetadataKey, MetadataValue } };
}
