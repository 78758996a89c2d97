namespace KvCluster.Actors;

/// <summary>Messages the runtime handles before (or instead of) the actor's behaviour.</summary>
internal interface IAutoReceivedMessage
{
}

/// <summary>A message that does not reset the receive timeout (see <see cref="IActorContext.SetReceiveTimeout"/>).</summary>
public interface INotInfluenceReceiveTimeout
{
}

/// <summary>A user message that stops the actor when processed: messages queued before it are handled first.</summary>
public sealed class PoisonPill : IAutoReceivedMessage
{
    /// <summary>The single instance.</summary>
    public static readonly PoisonPill Instance = new();

    private PoisonPill()
    {
    }

    /// <inheritdoc />
    public override string ToString() => "PoisonPill";
}

/// <summary>A user message that makes the actor throw <see cref="ActorKilledException"/>; its supervisor decides (default: stop).</summary>
public sealed class Kill : IAutoReceivedMessage
{
    /// <summary>The single instance.</summary>
    public static readonly Kill Instance = new();

    private Kill()
    {
    }

    /// <inheritdoc />
    public override string ToString() => "Kill";
}

/// <summary>
/// Delivered to a watcher when a watched actor stopped. If the actor does not handle it, the
/// runtime throws <see cref="DeathPactException"/> (Akka's death pact).
/// </summary>
/// <param name="ActorRef">The actor that stopped.</param>
/// <param name="ExistenceConfirmed">False when the watched actor never existed.</param>
/// <param name="AddressTerminated">True when inferred from its whole actor system becoming unreachable.</param>
public sealed record Terminated(IActorRef ActorRef, bool ExistenceConfirmed, bool AddressTerminated) : IAutoReceivedMessage;

/// <summary>Delivered when no message arrived within the receive timeout set with <see cref="IActorContext.SetReceiveTimeout"/>.</summary>
public sealed class ReceiveTimeout : INotInfluenceReceiveTimeout
{
    /// <summary>The single instance.</summary>
    public static readonly ReceiveTimeout Instance = new();

    private ReceiveTimeout()
    {
    }

    /// <inheritdoc />
    public override string ToString() => "ReceiveTimeout";
}

/// <summary>Every actor answers this with <see cref="ActorIdentity"/> (used by <see cref="ActorSelection.ResolveOne"/>).</summary>
/// <param name="MessageId">Correlation id echoed in the reply.</param>
public sealed record Identify(object? MessageId) : IAutoReceivedMessage;

/// <summary>The reply to <see cref="Identify"/>; <paramref name="Subject"/> is null when nothing lives at the selected path.</summary>
public sealed record ActorIdentity(object? MessageId, IActorRef? Subject);

/// <summary>Reply conventions for Ask and PipeTo.</summary>
public static class Status
{
    /// <summary>A successful outcome carrying <paramref name="Result"/>.</summary>
    public sealed record Success(object? Result);

    /// <summary>A failed outcome; an Ask that receives it faults with <paramref name="Cause"/>.</summary>
    public sealed record Failure(Exception Cause, object? State = null);
}

/// <summary>Published on the event stream for every message that could not be delivered.</summary>
/// <param name="Message">The undelivered message.</param>
/// <param name="Sender">Its sender, or null.</param>
/// <param name="Recipient">The intended recipient.</param>
public sealed record DeadLetter(object Message, IActorRef? Sender, IActorRef Recipient);

/// <summary>Published on the event stream (and logged) when an actor's behaviour did not handle a message.</summary>
public sealed record UnhandledMessage(object Message, IActorRef? Sender, IActorRef Recipient);

/// <summary>
/// Published on the event stream (by the remoting or cluster layer) when a remote actor system is
/// known to be gone; every local watcher of an actor at <paramref name="Address"/> then receives
/// <see cref="Terminated"/> with <c>AddressTerminated = true</c>.
/// </summary>
public sealed record AddressTerminated(Address Address) : IAutoReceivedMessage, INotInfluenceReceiveTimeout;
