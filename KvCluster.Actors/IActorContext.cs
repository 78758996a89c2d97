using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

/// <summary>A behaviour: returns true when it handled the message.</summary>
public delegate bool Receive(object message);

/// <summary>
/// The actor's view of the runtime (Akka's <c>IActorContext</c>). Use it only on the actor's own
/// thread, i.e. inside the constructor, lifecycle hooks and message handlers; it is not thread-safe.
/// </summary>
public interface IActorContext
{
    /// <summary>This actor's ref.</summary>
    IActorRef Self { get; }

    /// <summary>The sender of the message being handled; dead letters when there is none.</summary>
    IActorRef Sender { get; }

    /// <summary>The supervising parent.</summary>
    IActorRef Parent { get; }

    /// <summary>The live children (including ones being stopped).</summary>
    IEnumerable<IActorRef> Children { get; }

    /// <summary>The actor system.</summary>
    ActorSystem System { get; }

    /// <summary>The props this actor was created with.</summary>
    Props Props { get; }

    /// <summary>Keyed timers owned by this actor (cancelled on stop and restart).</summary>
    ITimerScheduler Timers { get; }

    /// <summary>The current receive timeout, or null when none is set.</summary>
    TimeSpan? ReceiveTimeout { get; }

    /// <summary>The child called <paramref name="name"/>, or <see cref="ActorRefs.Nobody"/>.</summary>
    IActorRef Child(string name);

    /// <summary>Creates and starts a child; <paramref name="name"/> null picks a unique <c>$</c>-prefixed name.</summary>
    /// <exception cref="InvalidActorNameException">The name is invalid or already used by a live sibling.</exception>
    IActorRef ActorOf(Props props, string? name = null);

    /// <summary>Stops <paramref name="actor"/> (a child, or this actor itself) asynchronously: after its current message, ahead of queued user messages.</summary>
    void Stop(IActorRef actor);

    /// <summary>Watches <paramref name="subject"/>: a <see cref="Terminated"/> arrives when it stops (at once if it is already gone). Idempotent.</summary>
    IActorRef Watch(IActorRef subject);

    /// <summary>Stops watching; a <see cref="Terminated"/> not yet handled is dropped.</summary>
    IActorRef Unwatch(IActorRef subject);

    /// <summary>Replaces the current behaviour.</summary>
    void Become(Receive receive);

    /// <summary>Pushes a behaviour on top of the current one (<see cref="UnbecomeStacked"/> pops it).</summary>
    void BecomeStacked(Receive receive);

    /// <summary>Pops the behaviour pushed by <see cref="BecomeStacked"/>; the initial behaviour is never popped.</summary>
    void UnbecomeStacked();

    /// <summary>
    /// Sets (or with null clears) the receive timeout: when no message that influences it arrives for
    /// <paramref name="timeout"/>, the actor receives <see cref="Actors.ReceiveTimeout"/>, repeatedly while idle.
    /// </summary>
    void SetReceiveTimeout(TimeSpan? timeout);

    /// <summary>A selection relative to this actor (<c>../sibling</c>, <c>child/*</c>) or absolute (<c>/user/a</c>, <c>kv://...</c>).</summary>
    ActorSelection ActorSelection(string path);

    /// <summary>A logger whose category is the actor's class, created from the system's <see cref="ILoggerFactory"/>.</summary>
    ILogger GetLogger();
}
