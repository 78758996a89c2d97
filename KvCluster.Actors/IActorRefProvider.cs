namespace KvCluster.Actors;

/// <summary>
/// The seam that owns an actor system's refs: its address, its guardians, path resolution and
/// temporary refs. <see cref="LocalActorRefProvider"/> is the in-process implementation; the
/// remoting layer installs its own (through <see cref="ActorSystemSetup.WithProvider"/>) that
/// wraps a <see cref="LocalActorRefProvider"/> created with a <c>kv://name@host:port</c> address
/// and resolves paths of other addresses to remote refs. All members are thread-safe.
/// </summary>
public interface IActorRefProvider
{
    /// <summary>The actor system this provider serves.</summary>
    ActorSystem System { get; }

    /// <summary>The system's own address (<c>kv://name</c> or <c>kv://name@host:port</c>).</summary>
    Address DefaultAddress { get; }

    /// <summary>The root path of <see cref="DefaultAddress"/>.</summary>
    ActorPath RootPath { get; }

    /// <summary>The root guardian (<c>/</c>).</summary>
    InternalActorRef RootGuardian { get; }

    /// <summary>The user guardian (<c>/user</c>), parent of actors created with <see cref="ActorSystem.ActorOf"/>.</summary>
    InternalActorRef Guardian { get; }

    /// <summary>The system guardian (<c>/system</c>), parent of infrastructure actors; stopped after <c>/user</c>.</summary>
    InternalActorRef SystemGuardian { get; }

    /// <summary><c>/deadLetters</c>.</summary>
    InternalActorRef DeadLetters { get; }

    /// <summary>Creates the guardians. Called once by <see cref="ActorSystem"/> right after the provider is built.</summary>
    void Init();

    /// <summary>
    /// Resolves a path to a ref: a live local actor (checking the uid when the path carries one),
    /// a temporary Ask ref under <c>/temp</c>, dead letters, or a ref to a missing actor whose
    /// messages go to dead letters. Providers that know other addresses return remote refs.
    /// </summary>
    InternalActorRef ResolveActorRef(ActorPath path);

    /// <summary>Parses <paramref name="path"/> (a full <c>kv://</c> path, optionally with <c>#uid</c>) and resolves it; malformed text resolves to dead letters.</summary>
    InternalActorRef ResolveActorRef(string path);

    /// <summary>A fresh unique path under <c>/temp</c> for a temporary ref (e.g. an Ask reply ref).</summary>
    ActorPath TempPath();

    /// <summary>Makes <paramref name="actorRef"/> resolvable at its path (under <c>/temp</c>) until unregistered.</summary>
    void RegisterTempActor(InternalActorRef actorRef);

    /// <summary>Removes a temporary ref registered with <see cref="RegisterTempActor"/>.</summary>
    void UnregisterTempActor(ActorPath path);
}
