using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

/// <summary>
/// <c>/deadLetters</c>: receives every message that cannot be delivered. Each one is counted
/// (<see cref="ActorSystem.DeadLetterCount"/>), published on the event stream as
/// <see cref="DeadLetter"/> and logged (the first <see cref="ActorSystemSetup.DeadLetterLogLimit"/>,
/// then one summary line per 10 s). A <see cref="Watch"/> sent here is answered with a
/// <see cref="DeathWatchNotification"/> at once.
/// </summary>
internal sealed class DeadLetterActorRef(ActorSystem system, ActorPath path) : InternalActorRef
{
    private long _count;
    private long _logged;
    private long _suppressed;
    private long _lastSummaryTicks;

    public long Count => Volatile.Read(ref _count);

    public override ActorPath Path => path;

    public override IActorRefProvider Provider => system.Provider;

    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message is DeadLetter deadLetter)
        {
            Publish(deadLetter.Message, deadLetter.Sender, deadLetter.Recipient);
        }
        else
        {
            Publish(message, sender, this);
        }
    }

    public override void SendSystemMessage(ISystemMessage message)
    {
        if (message is Watch watch && !watch.Watcher.Equals(this))
        {
            ((InternalActorRef)watch.Watcher).SendSystemMessage(new DeathWatchNotification(watch.Watchee, ExistenceConfirmed: false, AddressTerminated: false));
        }
    }

    /// <summary>Counts, publishes and (rate-limited) logs an undeliverable message.</summary>
    public void Publish(object message, IActorRef? sender, IActorRef recipient)
    {
        Interlocked.Increment(ref _count);
        if (message is DeadLetter)
        {
            // A dead letter that could not reach its (stopped) subscriber: counting it is enough;
            // publishing it again could loop.
            return;
        }
        system.EventStream.Publish(new DeadLetter(message, sender, recipient));
        var limit = system.Settings.DeadLetterLogLimit;
        if (limit <= 0)
        {
            return;
        }
        if (Interlocked.Increment(ref _logged) <= limit)
        {
            system.Log.LogInformation("Dead letter: {MessageType} from {Sender} to {Recipient} was not delivered.",
                message.GetType().Name, sender?.Path.ToString() ?? "no sender", recipient.Path);
            return;
        }
        Interlocked.Increment(ref _suppressed);
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref _lastSummaryTicks);
        if (now - last >= 10_000 && Interlocked.CompareExchange(ref _lastSummaryTicks, now, last) == last)
        {
            var suppressed = Interlocked.Exchange(ref _suppressed, 0);
            system.Log.LogInformation("{Count} more dead letters were not logged (total so far: {Total}); the last was {MessageType} to {Recipient}.",
                suppressed, Count, message.GetType().Name, recipient.Path);
        }
    }
}

/// <summary><see cref="ActorRefs.Nobody"/>: silently drops messages; a watch on it terminates at once.</summary>
internal sealed class NobodyRef : InternalActorRef
{
    public static readonly NobodyRef Instance = new();

    private static readonly ActorPath s_path = ActorPath.CreateRoot(new Address("nobody")) / "Nobody";

    private NobodyRef()
    {
    }

    public override ActorPath Path => s_path;

    public override IActorRefProvider Provider => throw new NotSupportedException("Nobody belongs to no actor system.");

    public override bool IsTerminated => true;

    public override void Tell(object message, IActorRef? sender)
    {
    }

    public override void SendSystemMessage(ISystemMessage message)
    {
        if (message is Watch watch)
        {
            ((InternalActorRef)watch.Watcher).SendSystemMessage(new DeathWatchNotification(this, ExistenceConfirmed: false, AddressTerminated: false));
        }
    }
}

/// <summary>
/// A ref to a path where no actor lives (Akka's EmptyLocalActorRef): messages go to dead letters,
/// an <see cref="Identify"/> is answered with an empty <see cref="ActorIdentity"/>, a watch
/// terminates at once with <c>ExistenceConfirmed = false</c>.
/// </summary>
internal sealed class MissingActorRef(ActorSystem system, ActorPath path) : InternalActorRef
{
    public override ActorPath Path => path;

    public override IActorRefProvider Provider => system.Provider;

    public override bool IsTerminated => true;

    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        switch (message)
        {
            case Identify identify:
                sender?.Tell(new ActorIdentity(identify.MessageId, null), this);
                break;
            case ActorSelectionMessage { Message: Identify selectedIdentify }:
                sender?.Tell(new ActorIdentity(selectedIdentify.MessageId, null), this);
                break;
            default:
                system.DeadLetterRef.Publish(message, sender, this);
                break;
        }
    }

    public override void SendSystemMessage(ISystemMessage message)
    {
        if (message is Watch watch)
        {
            ((InternalActorRef)watch.Watcher).SendSystemMessage(new DeathWatchNotification(this, ExistenceConfirmed: false, AddressTerminated: false));
        }
    }
}

/// <summary>The parent of the root guardian: absorbs its notifications and logs its failures.</summary>
internal sealed class RootParentRef(ActorSystem system, ActorPath path) : InternalActorRef
{
    public override ActorPath Path => path;

    public override IActorRefProvider Provider => system.Provider;

    public override void Tell(object message, IActorRef? sender)
    {
    }

    public override void SendSystemMessage(ISystemMessage message)
    {
        switch (message)
        {
            case Failed failed:
                system.Log.LogError(failed.Cause, "The root guardian failed; resuming it.");
                failed.Child.SendSystemMessage(new Resume(failed.Cause));
                break;
            case DeathWatchNotification:
                system.OnRootTerminated();
                break;
        }
    }
}
