namespace KvCluster.Actors;

/// <summary>
/// Immutable recipe for creating an actor: a factory for the actor instance (called again on every
/// restart), plus the supervisor strategy it applies to ITS children, its mailbox throughput and its
/// stash capacity. Create with <see cref="Create{TActor}()"/> or <see cref="Create{TActor}(Func{TActor})"/>.
/// </summary>
public sealed class Props
{
    private readonly Func<ActorBase> _factory;

    private Props(Type actorType, Func<ActorBase> factory, SupervisorStrategy? supervisorStrategy, int? throughput, int? stashCapacity)
    {
        ActorType = actorType;
        _factory = factory;
        SupervisorStrategy = supervisorStrategy;
        Throughput = throughput;
        StashCapacity = stashCapacity;
    }

    /// <summary>The actor's class.</summary>
    public Type ActorType { get; }

    /// <summary>The strategy the actor applies to its children; null means the actor's own <c>SupervisorStrategy()</c>.</summary>
    public SupervisorStrategy? SupervisorStrategy { get; }

    /// <summary>Messages processed per mailbox turn before yielding the thread; null means the system default.</summary>
    public int? Throughput { get; }

    /// <summary>Maximum number of stashed messages; null means the system default.</summary>
    public int? StashCapacity { get; }

    /// <summary>Props for an actor with a public parameterless constructor.</summary>
    public static Props Create<TActor>() where TActor : ActorBase, new()
    {
        return new Props(typeof(TActor), static () => new TActor(), null, null, null);
    }

    /// <summary>Props whose factory (e.g. <c>() =&gt; new Counter(start)</c>) runs on every (re)start; it must return a new instance each time.</summary>
    public static Props Create<TActor>(Func<TActor> factory) where TActor : ActorBase
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new Props(typeof(TActor), factory, null, null, null);
    }

    /// <summary>Returns a copy whose actor supervises its children with <paramref name="strategy"/>.</summary>
    public Props WithSupervisorStrategy(SupervisorStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        return new Props(ActorType, _factory, strategy, Throughput, StashCapacity);
    }

    /// <summary>Returns a copy whose mailbox processes up to <paramref name="throughput"/> messages per turn (1 or more).</summary>
    public Props WithThroughput(int throughput)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(throughput, 1);
        return new Props(ActorType, _factory, SupervisorStrategy, throughput, StashCapacity);
    }

    /// <summary>Returns a copy whose stash holds at most <paramref name="capacity"/> messages (1 or more).</summary>
    public Props WithStashCapacity(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        return new Props(ActorType, _factory, SupervisorStrategy, Throughput, capacity);
    }

    /// <summary>Creates a new actor instance; called by the runtime on the actor's mailbox thread.</summary>
    internal ActorBase NewActor()
    {
        var actor = _factory();
        if (actor is null)
        {
            throw new InvalidOperationException($"The Props factory for {ActorType.Name} returned null.");
        }
        return actor;
    }

    /// <inheritdoc />
    public override string ToString() => $"Props({ActorType.Name})";
}
