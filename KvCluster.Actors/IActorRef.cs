namespace KvCluster.Actors;

/// <summary>
/// An immutable, thread-safe handle to an actor (local or remote). The only way to talk to an actor.
/// Two refs are equal when their paths are equal AND their incarnation uids are equal, so a ref to
/// a stopped actor never equals a ref to a new actor created later under the same name.
/// </summary>
public interface IActorRef : IEquatable<IActorRef>, IComparable<IActorRef>
{
    /// <summary>The actor's path; <see cref="ActorPath.Uid"/> is its incarnation uid.</summary>
    ActorPath Path { get; }

    /// <summary>
    /// Enqueues <paramref name="message"/> for the actor and returns at once (fire and forget).
    /// Messages from one sender to one receiver arrive in the order they were sent. A message to a
    /// stopped actor goes to dead letters. Callable from any thread.
    /// </summary>
    /// <param name="message">The message; must not be null and should be immutable.</param>
    /// <param name="sender">The ref the receiver sees as <c>Sender</c>; <c>null</c> (<see cref="ActorRefs.NoSender"/>) for none.</param>
    void Tell(object message, IActorRef? sender);
}

/// <summary>Well-known refs.</summary>
public static class ActorRefs
{
    /// <summary>A ref that drops everything sent to it; returned by <c>Context.Child</c> when there is no such child.</summary>
    public static readonly IActorRef Nobody = NobodyRef.Instance;

    /// <summary>"No sender": pass it as the sender of a message that needs no reply.</summary>
    public static readonly IActorRef? NoSender = null;
}

/// <summary>Convenience extensions on <see cref="IActorRef"/>.</summary>
public static class ActorRefExtensions
{
    /// <summary>
    /// Tells <paramref name="message"/> with the current actor as sender when called inside an
    /// actor's message handler, otherwise with no sender.
    /// </summary>
    public static void Tell(this IActorRef receiver, object message)
    {
        receiver.Tell(message, ActorCell.Current?.Self);
    }

    /// <summary>
    /// Sends <paramref name="message"/> keeping the original sender of the message being handled.
    /// Only valid inside an actor's message handler.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called outside an actor.</exception>
    public static void Forward(this IActorRef receiver, object message)
    {
        var cell = ActorCell.Current ?? throw new InvalidOperationException("Forward can only be called from inside an actor's message handler.");
        receiver.Tell(message, cell.Sender);
    }

    /// <summary>True when <paramref name="actorRef"/> is <see cref="ActorRefs.Nobody"/> or null.</summary>
    public static bool IsNobody(this IActorRef? actorRef) => actorRef is null || ReferenceEquals(actorRef, ActorRefs.Nobody);
}
