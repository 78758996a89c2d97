using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

internal sealed partial class ActorCell
{
    /// <summary>True from a failure until the supervisor's directive arrives.</summary>
    private bool _failed;

    /// <summary>Suspensions requested by a failing parent (balanced by <see cref="Resume"/> with a null cause).</summary>
    private int _suspendCount;

    /// <summary>Set once a stop began (children are being stopped).</summary>
    private volatile bool _terminating;

    /// <summary>Set once the actor is fully stopped.</summary>
    private volatile bool _terminated;

    /// <summary>A restart waiting for stopping children to be gone.</summary>
    private Exception? _pendingRecreate;

    /// <summary>The child whose failure this actor escalated; a Resume from our supervisor resumes it too.</summary>
    private (IActorRef Child, Exception Cause)? _perpetrator;

    public bool IsTerminated => _terminated;

    /// <summary>
    /// The actor threw (in a handler, a hook or the constructor): suspend it and its children and
    /// report to the parent, which decides. The failing message is not retried.
    /// </summary>
    private void HandleInvokeFailure(Exception cause)
    {
        if (_terminating || _terminated)
        {
            System.Log.LogError(cause, "Actor {Path} threw while stopping; the error is ignored.", Self.Path);
            return;
        }
        if (_failed)
        {
            return;
        }
        _failed = true;
        UpdateUserSuspension();
        SuspendChildren();
        ParentRef.SendSystemMessage(new Failed(Self, cause, Self.Path.Uid));
    }

    /// <summary>Supervision: a child failed; apply this actor's strategy.</summary>
    private void HandleFailed(Failed failed)
    {
        if (!TryGetChildStats(failed.Child, out var stats) || stats.Stopping)
        {
            // A late report from a child already stopped or replaced: nothing to decide.
            return;
        }
        var strategy = Props.SupervisorStrategy ?? _actor?.SupervisorStrategyInternal() ?? SupervisorStrategy.DefaultStrategy;
        Directive directive;
        try
        {
            directive = strategy.Decider(failed.Cause);
        }
        catch (Exception ex)
        {
            System.Log.LogError(ex, "The supervisor strategy decider of {Path} threw; escalating.", Self.Path);
            directive = Directive.Escalate;
        }
        if (strategy.LoggingEnabled)
        {
            var level = directive == Directive.Escalate ? LogLevel.Debug : LogLevel.Error;
            System.Log.Log(level, failed.Cause, "Actor {Child} failed with {Exception}: {Message}. Supervisor {Path} directive: {Directive}.",
                failed.Child.Path, failed.Cause.GetType().Name, failed.Cause.Message, Self.Path, directive);
        }
        var targets = strategy.AppliesToAllChildren ? _children.Values.Where(s => !s.Stopping).ToList() : [stats];
        switch (directive)
        {
            case Directive.Resume:
                failed.Child.SendSystemMessage(new Resume(failed.Cause));
                break;
            case Directive.Restart:
                var now = System.Scheduler.Now;
                var allowed = strategy.RequestRestartPermission(stats, now);
                if (strategy.AppliesToAllChildren)
                {
                    foreach (var sibling in targets.Where(t => t != stats))
                    {
                        allowed &= strategy.MaxNrOfRetries < 0 || strategy.RequestRestartPermission(sibling, now);
                    }
                }
                foreach (var target in targets)
                {
                    if (allowed)
                    {
                        if (target != stats)
                        {
                            target.Child.SendSystemMessage(Suspend.Instance);
                        }
                        target.Child.SendSystemMessage(new Recreate(failed.Cause));
                    }
                    else
                    {
                        target.Stopping = true;
                        target.Child.SendSystemMessage(Terminate.Instance);
                    }
                }
                if (!allowed)
                {
                    System.Log.LogWarning("Actor {Child} exceeded {Max} restarts within {Window}; stopping it.", failed.Child.Path, strategy.MaxNrOfRetries, strategy.WithinTimeRange);
                }
                break;
            case Directive.Stop:
                foreach (var target in targets)
                {
                    target.Stopping = true;
                    target.Child.SendSystemMessage(Terminate.Instance);
                }
                break;
            default:
                _perpetrator = (failed.Child, failed.Cause);
                HandleInvokeFailure(failed.Cause);
                break;
        }
    }

    private void FaultSuspend()
    {
        _suspendCount++;
        UpdateUserSuspension();
        SuspendChildren();
    }

    private void FaultResume(Exception? causedByFailure)
    {
        if (causedByFailure is not null)
        {
            if (!_failed)
            {
                return;
            }
            _failed = false;
            _currentMessage = null;
        }
        else if (_suspendCount > 0)
        {
            _suspendCount--;
        }
        UpdateUserSuspension();
        ResumeChildren();
        if (causedByFailure is not null && _perpetrator is { } perpetrator && ReferenceEquals(perpetrator.Cause, causedByFailure)
            && TryGetChildStats(perpetrator.Child, out var stats))
        {
            // We escalated this child's failure and were told to resume: the child resumes too.
            stats.Child.SendSystemMessage(new Resume(perpetrator.Cause));
        }
        _perpetrator = null;
    }

    /// <summary>Restart: PreRestart on the old instance (default: stop children, PostStop), then a new instance once stopping children are gone.</summary>
    private void FaultRecreate(Exception cause)
    {
        if (_terminating || _terminated)
        {
            return;
        }
        var failedMessage = _currentMessage;
        _currentMessage = null;
        var old = _actor;
        _timers?.CancelAll();
        CancelReceiveTimeout();
        _receiveTimeout = null;
        _awaitingTask = null;
        UnstashAllToMailbox();
        if (old is not null)
        {
            try
            {
                old.AroundPreRestart(cause, failedMessage);
            }
            catch (Exception ex)
            {
                System.Log.LogError(ex, "PreRestart of {Path} threw; the restart continues.", Self.Path);
            }
            old.DetachCell();
        }
        _actor = null;
        if (HasStoppingChildren())
        {
            _pendingRecreate = cause;
            UpdateUserSuspension();
            return;
        }
        FinishRecreate(cause);
    }

    private void FinishRecreate(Exception cause)
    {
        _perpetrator = null;
        _failed = false;
        _suspendCount = 0;
        if (!NewActorInstance())
        {
            return;
        }
        try
        {
            _actor!.AroundPostRestart(cause);
        }
        catch (Exception ex)
        {
            HandleInvokeFailure(new ActorInitializationException(Self, $"PostRestart of {Self.Path} threw: {ex.Message}", ex));
            return;
        }
        UpdateUserSuspension();
        ResumeChildren();
    }

    /// <summary>Begins an orderly stop: no more user messages, children first.</summary>
    private void BeginTerminate()
    {
        if (_terminating || _terminated)
        {
            return;
        }
        _terminating = true;
        UpdateUserSuspension();
        _timers?.CancelAll();
        CancelReceiveTimeout();
        StopAllChildren();
        if (_children.IsEmpty)
        {
            FinishTerminate();
        }
    }

    /// <summary>All children are gone: PostStop, close the mailbox, tell parent and watchers.</summary>
    private void FinishTerminate()
    {
        if (_terminated)
        {
            return;
        }
        var actor = _actor;
        if (actor is not null)
        {
            try
            {
                actor.AroundPostStop();
            }
            catch (Exception ex)
            {
                System.Log.LogError(ex, "PostStop of {Path} threw.", Self.Path);
            }
            actor.DetachCell();
        }
        StashToDeadLetters();
        _terminated = true;
        _actor = null;
        _behaviors.Clear();
        System.EventStream.Unsubscribe(Self);
        Mailbox.Close();
        ParentRef.SendSystemMessage(new DeathWatchNotification(Self, ExistenceConfirmed: true, AddressTerminated: false));
        TellWatchersWeDied();
    }
}
