using Akka.Actor;
using KvCluster.Client;

namespace KvCluster.Node.Router;

/// <summary>A member of the Raft group as the router sees it: its id, client endpoint and router.</summary>
/// <param name="Id">The member's Raft node id.</param>
/// <param name="Endpoint">host:port of its remoting listener (what clients dial).</param>
/// <param name="Router">Its <c>/user/kv-router</c> (local for this node, remote for the others).</param>
public sealed record KvPeer(ulong Id, KvEndpoint Endpoint, IActorRef Router);
