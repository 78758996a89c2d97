namespace KvCluster.Actors;

/// <summary>The <c>/user</c> and <c>/system</c> guardians: parents of top-level actors; they handle no messages themselves.</summary>
internal sealed class GuardianActor : ActorBase
{
    protected override bool Receive(object message) => false;
}

/// <summary>
/// The root guardian (<c>/</c>). Orderly shutdown: when <c>/user</c> has stopped (after all user
/// actors, children before parents), it stops <c>/system</c>; when that is gone it stops itself,
/// which completes the system's termination.
/// </summary>
internal sealed class RootGuardianActor(LocalActorRefProvider provider) : ActorBase
{
    /// <summary>Sent once by the provider after creating the guardians.</summary>
    internal sealed class WatchGuardians
    {
        public static readonly WatchGuardians Instance = new();
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case WatchGuardians:
                Context.Watch(provider.UserGuardianRef);
                Context.Watch(provider.SystemGuardianRef);
                return true;
            case Terminated terminated when terminated.ActorRef.Equals(provider.UserGuardianRef):
                Context.Stop(provider.SystemGuardianRef);
                return true;
            case Terminated terminated when terminated.ActorRef.Equals(provider.SystemGuardianRef):
                Context.Stop(Self);
                return true;
            default:
                return false;
        }
    }
}
