using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

/// <summary>
/// Base class of every actor. Instances are created only by the runtime from <see cref="Props"/>
/// (never with <c>new</c> outside a Props factory); the constructor, the lifecycle hooks and the
/// message handlers all run on the actor's mailbox turn, one message at a time, so actor state
/// needs no locks. Override <see cref="Receive(object)"/> or derive from <see cref="ReceiveActor"/>.
/// </summary>
public abstract class ActorBase
{
    private ActorCell? _cell;

    /// <summary>Binds the instance to the cell that is creating it.</summary>
    /// <exception cref="ActorInitializationException">The actor was created with <c>new</c> outside <see cref="Props"/>.</exception>
    protected ActorBase()
    {
        _cell = ActorCell.Current ?? throw new ActorInitializationException(null,
            $"{GetType().Name} must be created by the actor system (ActorOf with Props), not with 'new'.", null);
        InitialReceive = Receive;
    }

    /// <summary>The actor's context (self, sender, children, timers, ...). Valid on the actor's thread only.</summary>
    protected IActorContext Context => _cell ?? throw new InvalidOperationException($"{GetType().Name} is no longer attached to a running actor (stopped or restarted).");

    /// <summary>This actor's ref.</summary>
    protected IActorRef Self => Context.Self;

    /// <summary>The sender of the message being handled (dead letters when none).</summary>
    protected IActorRef Sender => Context.Sender;

    /// <summary>The actor's keyed timers.</summary>
    protected ITimerScheduler Timers => Context.Timers;

    internal Receive InitialReceive { get; }

    internal ActorCell? Cell => _cell;

    internal void AttachCell(ActorCell cell) => _cell = cell;

    internal void DetachCell() => _cell = null;

    /// <summary>The initial behaviour: return true when the message was handled.</summary>
    protected abstract bool Receive(object message);

    /// <summary>Called before the first message (and by the default <see cref="PostRestart"/>).</summary>
    protected virtual void PreStart()
    {
    }

    /// <summary>Called after the actor and all its children stopped; the mailbox is closed right after.</summary>
    protected virtual void PostStop()
    {
    }

    /// <summary>Called on the failing instance before a restart. Default: stop all children, then <see cref="PostStop"/>.</summary>
    /// <param name="reason">The exception that caused the restart.</param>
    /// <param name="message">The message being handled when it failed, if any.</param>
    protected virtual void PreRestart(Exception reason, object? message)
    {
        foreach (var child in Context.Children)
        {
            Context.Unwatch(child);
            Context.Stop(child);
        }
        PostStop();
    }

    /// <summary>Called on the new instance after a restart. Default: <see cref="PreStart"/>.</summary>
    protected virtual void PostRestart(Exception reason)
    {
        PreStart();
    }

    /// <summary>How this actor supervises its children (ignored when its Props set a strategy). Default: <see cref="Actors.SupervisorStrategy.DefaultStrategy"/>.</summary>
    protected virtual SupervisorStrategy SupervisorStrategy() => Actors.SupervisorStrategy.DefaultStrategy;

    internal SupervisorStrategy SupervisorStrategyInternal() => SupervisorStrategy();

    /// <summary>
    /// Called for a message no behaviour handled. Default: an unhandled <see cref="Terminated"/>
    /// throws <see cref="DeathPactException"/>; anything else is published as
    /// <see cref="UnhandledMessage"/> on the event stream and logged at Debug level.
    /// </summary>
    protected internal virtual void Unhandled(object message)
    {
        if (message is Terminated terminated)
        {
            throw new DeathPactException(terminated.ActorRef);
        }
        _cell?.PublishUnhandled(message);
    }

    /// <summary>Replaces the current behaviour.</summary>
    protected void Become(Receive receive) => Context.Become(receive);

    /// <summary>Pushes a behaviour (pop it with <see cref="UnbecomeStacked"/>).</summary>
    protected void BecomeStacked(Receive receive) => Context.BecomeStacked(receive);

    /// <summary>Pops the behaviour pushed by <see cref="BecomeStacked(Actors.Receive)"/>.</summary>
    protected void UnbecomeStacked() => Context.UnbecomeStacked();

    /// <summary>Hook around every message delivery; layers above (persistence) override it to intercept. Call the base to deliver.</summary>
    protected internal virtual bool AroundReceive(Receive receive, object message) => receive(message);

    /// <summary>Hook around <see cref="PreStart"/>.</summary>
    protected internal virtual void AroundPreStart() => PreStart();

    /// <summary>Hook around <see cref="PostStop"/>.</summary>
    protected internal virtual void AroundPostStop() => PostStop();

    /// <summary>Hook around <see cref="PreRestart"/>.</summary>
    protected internal virtual void AroundPreRestart(Exception cause, object? message) => PreRestart(cause, message);

    /// <summary>Hook around <see cref="PostRestart"/>.</summary>
    protected internal virtual void AroundPostRestart(Exception cause) => PostRestart(cause);

    /// <summary>Runs an async step as part of the current message: the mailbox processes no other user message until the task completes, and awaits resume on this actor.</summary>
    protected void RunTask(Func<Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        (_cell ?? throw new InvalidOperationException("RunTask needs a running actor.")).RunAsyncHandler(action);
    }

    /// <summary>A logger for this actor (category: the actor's class).</summary>
    protected ILogger Log => Context.GetLogger();
}
