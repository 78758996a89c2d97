using KvCluster.Actors;

namespace KvCluster.Actors.TestKit;

/// <summary>
/// A synchronous actor ref for unit-testing one actor: a message told to it is processed on the
/// calling thread before <c>Tell</c> returns (unless the actor is already processing on that
/// thread, in which case it is queued and processed right after), and the actor instance is
/// reachable through <see cref="UnderlyingActor"/>. Created under <c>/user</c> with normal
/// supervision. It is a full actor ref: it can be watched, stopped and used as a sender.
/// </summary>
public sealed class TestActorRef<TActor> : InternalActorRef where TActor : ActorBase
{
    private readonly LocalActorRef _ref;

    internal TestActorRef(ActorSystem system, Props props, string? name)
    {
        _ref = system.ActorOfCallingThread(props, name);
    }

    /// <summary>The current actor instance (a new one after a restart).</summary>
    /// <exception cref="InvalidOperationException">The actor is stopped or failed to start.</exception>
    public TActor UnderlyingActor => (TActor)(_ref.Cell.Actor ?? throw new InvalidOperationException($"{_ref.Path} has no live actor instance (stopped, or failed to start)."));

    /// <summary>The plain ref of the same actor.</summary>
    public IActorRef Ref => _ref;

    /// <inheritdoc />
    public override ActorPath Path => _ref.Path;

    /// <inheritdoc />
    public override IActorRefProvider Provider => _ref.Provider;

    /// <inheritdoc />
    public override bool IsTerminated => _ref.IsTerminated;

    /// <inheritdoc />
    public override InternalActorRef? Parent => _ref.Parent;

    /// <inheritdoc />
    public override void Tell(object message, IActorRef? sender) => _ref.Tell(message, sender);

    /// <summary>Tells with no sender.</summary>
    public void Tell(object message) => _ref.Tell(message, null);

    /// <inheritdoc />
    public override void SendSystemMessage(ISystemMessage message) => _ref.SendSystemMessage(message);

    /// <inheritdoc />
    public override InternalActorRef? GetChild(string name) => _ref.GetChild(name);
}
