namespace KvCluster.Actors;

/// <summary>
/// The extensible base of every actor ref implementation: local refs here, remote refs in
/// KvCluster.Actors.Remote, temporary Ask refs. A subclass supplies <see cref="Path"/>,
/// <see cref="Tell"/> and <see cref="SendSystemMessage"/>; equality, hashing and printing are
/// provided. Death watch works for any subclass because <see cref="Watch"/>, <see cref="Unwatch"/>
/// and <see cref="DeathWatchNotification"/> travel through <see cref="SendSystemMessage"/>.
/// </summary>
public abstract class InternalActorRef : IActorRef
{
    /// <inheritdoc />
    public abstract ActorPath Path { get; }

    /// <summary>The provider of the system this ref belongs to (used by Ask to create temporary refs).</summary>
    public abstract IActorRefProvider Provider { get; }

    /// <summary>True when the actor lives in this process (false for remote refs).</summary>
    public virtual bool IsLocal => true;

    /// <summary>True when the actor is known to be stopped (best effort; remote refs answer false).</summary>
    public virtual bool IsTerminated => false;

    /// <inheritdoc />
    public abstract void Tell(object message, IActorRef? sender);

    /// <summary>
    /// Delivers a system message (<see cref="Watch"/>, <see cref="Unwatch"/>,
    /// <see cref="DeathWatchNotification"/>, <see cref="Terminate"/> and the runtime's internal ones).
    /// System messages are processed ahead of user messages. Callable from any thread.
    /// </summary>
    public abstract void SendSystemMessage(ISystemMessage message);

    /// <summary>Stops the actor (sends <see cref="Terminate"/>).</summary>
    public void Stop() => SendSystemMessage(Terminate.Instance);

    /// <summary>The child called <paramref name="name"/> for local path walking, or null (remote refs: null).</summary>
    public virtual InternalActorRef? GetChild(string name) => null;

    /// <summary>The parent ref for local path walking (<c>..</c> in selections), or null.</summary>
    public virtual InternalActorRef? Parent => null;

    /// <summary>Equal when paths are equal and incarnation uids are equal.</summary>
    public bool Equals(IActorRef? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }
        if (other is null)
        {
            return false;
        }
        var mine = Path;
        var theirs = other.Path;
        return mine.Uid == theirs.Uid && mine.Equals(theirs);
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is IActorRef other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Path.GetHashCode(), Path.Uid);

    /// <summary>Orders by path, then uid.</summary>
    public int CompareTo(IActorRef? other) => other is null ? 1 : Path.CompareTo(other.Path);

    /// <summary>Prints <c>[kv://system/user/a#uid]</c>.</summary>
    public override string ToString() => "[" + Path.ToSerializationFormat() + "]";
}
