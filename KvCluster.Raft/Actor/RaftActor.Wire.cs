using KvCluster.Actors;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Raft.Core;
using KvCluster.Raft.Protos;
using Microsoft.Extensions.Logging;
using W = KvCluster.Raft.Protos.Wire;

namespace KvCluster.Raft.Actor;

public sealed partial class RaftActor
{
    /// <summary>The remoting type id under which <see cref="RegisterWireTypes"/> registers Raft peer messages (Raft owns 100–199).</summary>
    public const int RaftMessageTypeId = 100;

    /// <summary>Peer messages from the network that failed to decode (dropped, counted, logged).</summary>
    private long _badWireMessages;

    /// <summary>
    /// Registers the protobuf form of Raft peer messages (<c>Protos/raft.proto</c>, <c>RaftMessage</c>) with a remoting
    /// registry, so RaftActors in different actor systems can talk. Call once per system before it starts, on every node,
    /// with the same id. A RaftActor sends the protobuf form to remote peer refs and the core record to local ones, and
    /// accepts both.
    /// </summary>
    /// <param name="registry">The registry given to <c>RemoteActorSystem.CreateAsync</c>.</param>
    /// <param name="typeId">The stable wire type id; default <see cref="RaftMessageTypeId"/>.</param>
    /// <exception cref="ArgumentException">The id is taken by another type.</exception>
    public static void RegisterWireTypes(MessageSerializerRegistry registry, int typeId = RaftMessageTypeId)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.Register<W.RaftMessage>(typeId);
    }

    /// <summary>Sends to a peer in the form its ref can carry: core records locally, protobuf across the network.</summary>
    private void SendToPeer(IActorRef peer, RaftMessage message)
    {
        if (peer is InternalActorRef { IsLocal: false })
        {
            peer.Tell(RaftWireFormat.ToWire(message), Self);
        }
        else
        {
            peer.Tell(message, Self);
        }
    }

    /// <summary>Decodes a peer message that came over the network; bad input is dropped and counted, never fatal.</summary>
    private void StepWireMessage(W.RaftMessage wire)
    {
        RaftMessage message;
        try
        {
            message = RaftWireFormat.FromWire(wire);
        }
        catch (InvalidDataException ex)
        {
            _badWireMessages++;
            Log.LogWarning("Raft node {NodeId} dropped an undecodable peer message from {Sender} ({Count} so far): {Error}", NodeId, Sender, _badWireMessages, ex.Message);
            return;
        }

        // A member added at run time (raft add-member) may be unknown to this node's peer map: its messages carry
        // the way back, so answer through the sender rather than dropping the reply.
        if (message.From != NodeId && !_peers.ContainsKey(message.From) && Sender is InternalActorRef { IsLocal: false })
        {
            _peers[message.From] = Sender;
            Log.LogInformation("Raft node {NodeId} learned peer {Peer} at {Ref} from its messages.", NodeId, message.From, Sender.Path);
        }

        StepPeerMessage(message);
    }
}
