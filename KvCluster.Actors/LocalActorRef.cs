namespace KvCluster.Actors;

/// <summary>A ref to an actor in this process: Tell enqueues into its mailbox.</summary>
internal sealed class LocalActorRef : InternalActorRef
{
    private readonly ActorPath _path;

    public LocalActorRef(ActorSystem system, Props props, InternalActorRef parent, ActorPath path, bool callingThread = false)
    {
        _path = path;
        var mailbox = new Mailbox(props.Throughput ?? system.Settings.Throughput, callingThread, system.Settings.Dispatcher);
        Cell = new ActorCell(system, this, props, parent, mailbox);
        mailbox.SetCell(Cell);
    }

    /// <summary>The actor's cell (runtime state).</summary>
    public ActorCell Cell { get; }

    public override ActorPath Path => _path;

    public override IActorRefProvider Provider => Cell.System.Provider;

    public override bool IsTerminated => Cell.IsTerminated;

    public override InternalActorRef? Parent => Cell.ParentRef;

    /// <summary>Enqueues the Create system message: the actor instance is built on its mailbox turn.</summary>
    public void Start() => Cell.Mailbox.PostSystem(Create.Instance);

    public override void Tell(object message, IActorRef? sender)
    {
        if (message is null)
        {
            ThrowNullMessage();
        }
        Cell.Mailbox.Post(message, sender);
    }

    public override void SendSystemMessage(ISystemMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        Cell.Mailbox.PostSystem(message);
    }

    public override InternalActorRef? GetChild(string name) => Cell.GetChildRef(name);

    [global::System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNullMessage() => throw new ArgumentNullException("message", "A message must not be null.");
}
