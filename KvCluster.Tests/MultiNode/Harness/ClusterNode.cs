using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Harness;

/// <summary>
/// An Akka.Cluster member for the harness's own specs: the spec's node configuration with the cluster provider, the
/// first role as seed, a fast failure detector and no downing (so an unreachable member stays a member).
/// </summary>
internal sealed class ClusterNode : IMultiNodeHandle
{
    private ClusterNode(RoleName role, ActorSystem system)
    {
        Role = role;
        System = system;
    }

    public RoleName Role { get; }

    public ActorSystem System { get; }

    public Address Address => MultiNodeSystems.AddressOf(System);

    public Cluster Cluster => Cluster.Get(System);

    public static async Task<ClusterNode> StartAsync(NodeStartInfo info, CancellationToken cancellationToken)
    {
        var own = ConfigurationFactory.ParseString($$"""
            akka.actor.provider = cluster
            akka.cluster {
              seed-nodes = ["{{info.Members[0].Address}}"]
              downing-provider-class = ""
              failure-detector {
                heartbeat-interval = 200ms
                acceptable-heartbeat-pause = 1s
              }
              unreachable-nodes-reaper-interval = 250ms
              gossip-interval = 200ms
              leader-actions-interval = 200ms
              retry-unsuccessful-join-after = 500ms
            }
            """);
        var system = await MultiNodeSystems.CreateSystemAsync(info, own, cancellationToken);
        return new ClusterNode(info.Role, system);
    }

    public Task CrashAsync() => MultiNodeSystems.CrashAsync(System);

    public Task StopAsync() => MultiNodeSystems.StopAsync(System);
}

/// <summary>Starts <see cref="ClusterNode"/>s.</summary>
internal sealed class ClusterNodeFactory : IMultiNodeFactory<ClusterNode>
{
    public Task<ClusterNode> StartAsync(NodeStartInfo info, CancellationToken cancellationToken) => ClusterNode.StartAsync(info, cancellationToken);
}
