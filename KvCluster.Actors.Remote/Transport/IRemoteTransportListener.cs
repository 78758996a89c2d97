using Google.Protobuf;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// The layer above the transport (the remote actor-ref provider) receives inbound messages and
/// association events through this interface.
/// </summary>
/// <remarks>
/// Every callback runs on a transport thread (a connection's reader loop or an association's
/// timer loop) and must not block: hand the work to an actor. Messages from one peer arrive in
/// the order that peer sent them. A callback that throws is logged and does not close the
/// connection.
/// </remarks>
public interface IRemoteTransportListener
{
    /// <summary>A message from another system, decoded and ready to be delivered.</summary>
    void OnMessage(InboundMessage message);

    /// <summary>An outbound message that could not be sent (queue full, not serializable, frame
    /// too large, transport stopped). The owner routes it to its dead letters.</summary>
    void OnDeadLetter(OutboundDeadLetter deadLetter);

    /// <summary>An outbound association completed a handshake with the given incarnation.</summary>
    void OnAssociated(RemoteAddress peer, ulong peerUid)
    {
    }

    /// <summary>The peer at <paramref name="peer"/> restarted: it now runs incarnation
    /// <paramref name="newUid"/>, so everything of <paramref name="oldUid"/> is dead.</summary>
    void OnPeerRestarted(RemoteAddress peer, ulong oldUid, ulong newUid)
    {
    }

    /// <summary>The failure detector judged the incarnation <paramref name="peerUid"/> at
    /// <paramref name="peer"/> unreachable (raised once per incarnation).</summary>
    void OnAddressTerminated(RemoteAddress peer, ulong peerUid)
    {
    }
}

/// <summary>One decoded inbound message.</summary>
/// <param name="From">The sending system's address, from its handshake.</param>
/// <param name="FromUid">The sending system's incarnation uid.</param>
/// <param name="Recipient">Full path of the recipient actor.</param>
/// <param name="Sender">Full path of the sender, or empty.</param>
/// <param name="TypeId">The payload's registered type id.</param>
/// <param name="Message">The payload message.</param>
public readonly record struct InboundMessage(RemoteAddress From, ulong FromUid, string Recipient, string Sender, int TypeId, IMessage Message);

/// <summary>An outbound message the transport gave up on.</summary>
/// <param name="To">The address it was sent to.</param>
/// <param name="Recipient">Full path of the recipient.</param>
/// <param name="Sender">Full path of the sender, or null.</param>
/// <param name="Message">The message.</param>
/// <param name="Reason">Why it was not sent, for the dead-letter log.</param>
public readonly record struct OutboundDeadLetter(RemoteAddress To, string Recipient, string? Sender, IMessage Message, string Reason);

/// <summary>Outcome of <see cref="RemoteTransport.Send"/>.</summary>
public enum SendStatus
{
    /// <summary>Queued on the association; it is sent when connected (not a delivery guarantee).</summary>
    Enqueued,

    /// <summary>The outbound queue was full; the message went to dead letters.</summary>
    QueueFull,

    /// <summary>The message type is not registered; the message went to dead letters.</summary>
    UnknownType,

    /// <summary>The encoded frame exceeds the maximum frame size; the message went to dead letters.</summary>
    TooLarge,

    /// <summary>The transport is stopped; the message went to dead letters.</summary>
    Stopped,
}
