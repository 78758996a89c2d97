using KvCluster.Actors.Remote.Transport;


namespace KvCluster.Actors.Remote.Actors;

/// <summary>
/// A ref to an actor in another actor system. <see cref="Tell"/> serializes the message (it must
/// be a registered protobuf message, or one of the runtime messages remoting translates:
/// <see cref="PoisonPill"/>, <see cref="Identify"/>, <see cref="ActorIdentity"/>,
/// <see cref="Status.Failure"/>, selections) and queues it on the association to the ref's
/// address; system messages (watch, unwatch, death-watch notification, terminate) travel the same way.
/// </summary>
internal sealed class RemoteActorRef : InternalActorRef
{
    private readonly RemoteActorRefProvider _provider;

    /// <summary>The association to <see cref="RemoteAddress"/>, looked up on first send
    /// (associations live as long as the transport, so the cached one stays valid).</summary>
    internal Association? Association;

    public RemoteActorRef(RemoteActorRefProvider provider, ActorPath path)
    {
        _provider = provider;
        Path = path;
        RemoteAddress = RemoteActorRefProvider.ToRemoteAddress(path.Address);
        WirePath = path.ToSerializationFormat();
    }

    /// <inheritdoc />
    public override ActorPath Path { get; }

    /// <inheritdoc />
    public override IActorRefProvider Provider => _provider;

    /// <inheritdoc />
    public override bool IsLocal => false;

    /// <summary>The transport address of the actor's system.</summary>
    public RemoteAddress RemoteAddress { get; }

    /// <summary>The path as it travels (with <c>#uid</c> when known), computed once.</summary>
    public string WirePath { get; }

    /// <inheritdoc />
    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        _provider.SendRemote(this, message, sender);
    }

    /// <inheritdoc />
    public override void SendSystemMessage(ISystemMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _provider.SendSystemRemote(this, message);
    }
}
