using Akka.Actor;

namespace KvCluster.Node.Kv;

/// <summary>
/// Carries the state machine's <see cref="LeaseChange"/>s (raised on the RaftActor's thread as entries are applied) to
/// the node's <see cref="LeaseActor"/>, which is created after the RaftActor. Changes raised before the target is set
/// are dropped: the lessor reads the whole table when it starts to lead. Thread-safe.
/// </summary>
public sealed class LeaseFeed
{
    private volatile IActorRef? _target;

    /// <summary>Where changes go from now on.</summary>
    public void Connect(IActorRef target) => _target = target;

    /// <summary>Tells the change to the target, if any (the <see cref="KvStateMachine.LeaseObserver"/>).</summary>
    public void Publish(LeaseChange change) => _target?.Tell(change, ActorRefs.NoSender);
}
