using KvCluster.Actors;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Router;

/// <summary>
/// <c>/user/receptionist</c>, the entry point of clients, in the style of Akka's ClusterClientReceptionist. Scenarios:
/// <list type="number">
/// <item><see cref="GetContacts"/>: answers <see cref="Contacts"/> with every member's endpoint (this node first), the
/// leader's endpoint when the local Raft node knows it, and this node's id. The client uses them to fail over.</item>
/// <item><see cref="KvRequest"/>: forwarded to the router, keeping the client as the sender, so the router answers the
/// client directly.</item>
/// </list>
/// </summary>
public sealed class KvReceptionist : ReceiveActor
{
    /// <summary>How long the receptionist waits for the Raft status before answering without a leader.</summary>
    private static readonly TimeSpan s_statusTimeout = TimeSpan.FromSeconds(1);

    private readonly ulong _selfId;

    private readonly IActorRef _router;

    private readonly IActorRef _raft;

    private readonly IReadOnlyDictionary<ulong, KvPeer> _peers;

    private KvReceptionist(ulong selfId, IActorRef router, IActorRef raft, IReadOnlyDictionary<ulong, KvPeer> peers)
    {
        _selfId = selfId;
        _router = router;
        _raft = raft;
        _peers = peers;
        Receive<KvRequest>(request => _router.Forward(request));
        Receive<GetContacts>(_ => AnswerContacts());
    }

    /// <summary>Props of the receptionist.</summary>
    /// <param name="selfId">This node's Raft id.</param>
    /// <param name="router">The local router.</param>
    /// <param name="raft">The local RaftActor (for the leader hint).</param>
    /// <param name="peers">Every member by id, this node included.</param>
    public static Props Props(ulong selfId, IActorRef router, IActorRef raft, IReadOnlyDictionary<ulong, KvPeer> peers) =>
        KvCluster.Actors.Props.Create(() => new KvReceptionist(selfId, router, raft, peers));

    private void AnswerContacts()
    {
        var contacts = new Contacts { NodeId = _selfId };
        contacts.Endpoints.Add(_peers[_selfId].Endpoint.ToString());
        contacts.Endpoints.Add(_peers.Values.Where(p => p.Id != _selfId).OrderBy(p => p.Id).Select(p => p.Endpoint.ToString()));
        var replyTo = Sender;
        var peers = _peers;
        _raft.Ask<RaftStatus>(GetRaftStatus.Instance, s_statusTimeout).PipeTo(
            replyTo,
            Self,
            status =>
            {
                if (status.Leader != 0 && peers.TryGetValue(status.Leader, out var leader))
                {
                    contacts.LeaderEndpoint = leader.Endpoint.ToString();
                }

                return contacts;
            },
            _ => contacts);
    }
}
