namespace KvCluster.Actors;

/// <summary>
/// Marker of a system message: processed by the actor runtime (not the actor's behaviour) ahead of
/// all user messages in the mailbox. Deliver with <see cref="InternalActorRef.SendSystemMessage"/>.
/// Remote refs carry <see cref="Watch"/>, <see cref="Unwatch"/>, <see cref="DeathWatchNotification"/>
/// and <see cref="Terminate"/> over the wire; the rest are local to one process.
/// </summary>
public interface ISystemMessage
{
}

/// <summary><paramref name="Watcher"/> asks to be told (<see cref="Terminated"/>) when <paramref name="Watchee"/> stops. Sent to the watchee.</summary>
public sealed record Watch(IActorRef Watchee, IActorRef Watcher) : ISystemMessage;

/// <summary><paramref name="Watcher"/> no longer wants to hear of <paramref name="Watchee"/>'s death. Sent to the watchee.</summary>
public sealed record Unwatch(IActorRef Watchee, IActorRef Watcher) : ISystemMessage;

/// <summary>
/// Sent by a stopping actor (or on its behalf) to each watcher and to its parent; the watcher's
/// runtime turns it into a <see cref="Terminated"/> user message if the watch is still active.
/// </summary>
/// <param name="Actor">The actor that stopped.</param>
/// <param name="ExistenceConfirmed">False when the actor was never found (watching a missing path).</param>
/// <param name="AddressTerminated">True when inferred from the whole remote system going away.</param>
public sealed record DeathWatchNotification(IActorRef Actor, bool ExistenceConfirmed, bool AddressTerminated) : ISystemMessage;

/// <summary>Stops the receiving actor: children first, then its <c>PostStop</c>, then watchers are told.</summary>
public sealed class Terminate : ISystemMessage
{
    /// <summary>The single instance.</summary>
    public static readonly Terminate Instance = new();

    private Terminate()
    {
    }

    /// <inheritdoc />
    public override string ToString() => "Terminate";
}

/// <summary>Creates the actor instance (first system message of every actor).</summary>
internal sealed class Create : ISystemMessage
{
    public static readonly Create Instance = new();
}

/// <summary>A child reports its failure to its parent; the parent's supervisor strategy decides.</summary>
internal sealed record Failed(InternalActorRef Child, Exception Cause, long Uid) : ISystemMessage;

/// <summary>The supervisor orders a restart.</summary>
internal sealed record Recreate(Exception Cause) : ISystemMessage;

/// <summary>The supervisor orders a resume (Cause set) or a parent lifts a suspension (Cause null).</summary>
internal sealed record Resume(Exception? CausedByFailure) : ISystemMessage;

/// <summary>The parent failed: stop processing user messages until resumed or restarted.</summary>
internal sealed class Suspend : ISystemMessage
{
    public static readonly Suspend Instance = new();
}

/// <summary>Runs an <c>await</c> continuation of a <c>ReceiveAsync</c> handler on the actor.</summary>
internal sealed record RunContinuation(SendOrPostCallback Callback, object? State, IActorRef? Sender, SynchronizationContext Context) : ISystemMessage;

/// <summary>The task returned by a <c>ReceiveAsync</c> handler completed.</summary>
internal sealed record AsyncHandlerCompleted(Task Task) : ISystemMessage;

/// <summary>Runs an action on the actor's thread (used by the runtime, e.g. TestActorRef).</summary>
internal sealed record RunOnActor(Action Action) : ISystemMessage;
