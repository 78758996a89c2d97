using KvCluster.Actors;

namespace KvCluster.Actors.TestKit;

/// <summary>
/// A synchronous actor ref for unit-testing one actor: a message told to it is processed on the
/// calling thread before <c>Tell</c> returns (unless the actor is already processing on that
/// thread, in which case it is queued and processed right after), and the actor instance is
/// reachable through <see cref="UnderlyingActor"/>. Created under <c>/user</c> with normal supervision.
/// </summary>
public sealed class TestActorRef<TActor> : IActorRef where TActor : ActorBase
{
    private readonly LocalActorRef _ref;

    internal TestActorRef(ActorSystem system, Props props, string? name)
    {
        _ref = system.ActorOfCallingThread(props, name);
    }

    /// <summary>The actor instance (replaced on restart; null-forgiving after stop is the caller's problem).</summary>
    public TActor UnderlyingActor => (TActor)(_ref.Cell.Actor ?? throw new InvalidOperationException($"{_ref.Path} has no live actor instance (stopped, or failed to start)."));

    /// <summary>The plain ref.</summary>
    public IActorRef Ref => _ref;

    /// <inheritdoc />
    public ActorPath Path => _ref.Path;

    /// <inheritdoc />
    public void Tell(object message, IActorRef? sender) => _ref.Tell(message, sender);

    /// <summary>Tells with no sender.</summary>
    public void Tell(object message) => _ref.Tell(message, null);

    /// <inheritdoc />
    public bool Equals(IActorRef? other) => _ref.Equals(other);

    /// <inheritdoc />
    public int CompareTo(IActorRef? other) => _ref.CompareTo(other);

    /// <inheritdoc />
    public override bool Equals(object? obj) => _ref.Equals(obj);

    /// <inheritdoc />
    public override int GetHashCode() => _ref.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => _ref.ToString();
}
