using Akka.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

public sealed partial class RaftActor
{
    /// <summary>
    /// Sends a core message to a peer. Local and remote refs get the same record: Akka.Remote serializes it with
    /// <see cref="Serialization.RaftWireSerializer"/> (bound to <see cref="RaftMessage"/>), whose decoder validates
    /// what the core relies on; a message that fails to decode is dropped by the remoting layer (Raft tolerates a
    /// lost message) and logged there.
    /// </summary>
    private void SendToPeer(IActorRef peer, RaftMessage message) => peer.Tell(message, Self);
}
