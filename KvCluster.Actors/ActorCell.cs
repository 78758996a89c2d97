using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

/// <summary>
/// The runtime state of one actor: instance, behaviour stack, children, watches, timers, stash,
/// failure and stop state. Everything except the children map and the mailbox is touched only on
/// the actor's mailbox turn (one thread at a time), so it needs no locks.
/// </summary>
internal sealed partial class ActorCell : IActorContext
{
    [ThreadStatic]
    private static ActorCell? t_current;

    private readonly List<Receive> _behaviors = new(2);
    private ActorBase? _actor;
    private IActorRef? _currentSender;
    private object? _currentMessage;
    private TimerScheduler? _timers;
    private ILogger? _logger;

    public ActorCell(ActorSystem system, LocalActorRef self, Props props, InternalActorRef parent, Mailbox mailbox)
    {
        System = system;
        Self = self;
        Props = props;
        ParentRef = parent;
        Mailbox = mailbox;
    }

    /// <summary>The cell whose mailbox turn runs on this thread, or null.</summary>
    public static ActorCell? Current => t_current;

    internal static ActorCell? SwapCurrent(ActorCell? cell)
    {
        var previous = t_current;
        t_current = cell;
        return previous;
    }

    public ActorSystem System { get; }

    public LocalActorRef Self { get; }

    public Props Props { get; }

    public InternalActorRef ParentRef { get; }

    public Mailbox Mailbox { get; }

    public ActorBase? Actor => _actor;

    public object? CurrentMessage => _currentMessage;

    IActorRef IActorContext.Self => Self;

    public IActorRef Sender => _currentSender ?? System.DeadLetters;

    public IActorRef Parent => ParentRef;

    public ITimerScheduler Timers => _timers ??= new TimerScheduler(this);

    public ILogger GetLogger() => _logger ??= System.LoggerFactory.CreateLogger(Props.ActorType.FullName ?? Props.ActorType.Name);

    /// <summary>Invokes one user message. Exceptions become failures reported to the supervisor.</summary>
    public void Invoke(Envelope envelope)
    {
        var message = envelope.Message;
        _currentMessage = message;
        _currentSender = envelope.Sender;
        try
        {
            if (message is IAutoReceivedMessage)
            {
                AutoReceive(message);
            }
            else
            {
                ReceiveMessage(message);
            }
            if (_receiveTimeout is not null && message is not INotInfluenceReceiveTimeout)
            {
                RescheduleReceiveTimeout();
            }
        }
        catch (Exception ex)
        {
            HandleInvokeFailure(ex);
        }
        finally
        {
            _currentSender = null;
            if (!_failed)
            {
                _currentMessage = null;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ReceiveMessage(object message)
    {
        var actor = _actor!;
        if (!actor.AroundReceive(_behaviors[^1], message))
        {
            actor.Unhandled(message);
        }
    }

    private void AutoReceive(object message)
    {
        switch (message)
        {
            case Terminated terminated:
                ReceivedTerminated(terminated);
                break;
            case PoisonPill:
                Stop(Self);
                break;
            case Kill:
                throw new ActorKilledException($"Kill message received by {Self.Path}");
            case Identify identify:
                Sender.Tell(new ActorIdentity(identify.MessageId, Self), Self);
                break;
            case ActorSelectionMessage selection:
                Actors.ActorSelection.DeliverSelection(Self, _currentSender, selection);
                break;
            case TimerScheduler.TimerMessage timer:
                if (_timers is not null && _timers.Accept(timer))
                {
                    _currentMessage = timer.Message;
                    ReceiveMessage(timer.Message);
                }
                break;
            case ReceiveTimeoutTick tick:
                if (tick.Generation == _receiveTimeoutGeneration && _receiveTimeout is not null)
                {
                    _currentMessage = Actors.ReceiveTimeout.Instance;
                    ReceiveMessage(Actors.ReceiveTimeout.Instance);
                    if (_receiveTimeout is not null)
                    {
                        // Still idle: fire again after another full timeout (Akka semantics).
                        RescheduleReceiveTimeout();
                    }
                }
                break;
            case AddressTerminated addressTerminated:
                HandleAddressTerminated(addressTerminated.Address);
                break;
            default:
                ReceiveMessage(message);
                break;
        }
    }

    /// <summary>Processes one system message.</summary>
    public void SystemInvoke(ISystemMessage message)
    {
        try
        {
            switch (message)
            {
                case Create:
                    CreateActor();
                    break;
                case Watch watch:
                    AddWatcher(watch.Watchee, watch.Watcher);
                    break;
                case Unwatch unwatch:
                    RemoveWatcher(unwatch.Watchee, unwatch.Watcher);
                    break;
                case DeathWatchNotification notification:
                    HandleDeathWatchNotification(notification);
                    break;
                case Failed failed:
                    HandleFailed(failed);
                    break;
                case Terminate:
                    BeginTerminate();
                    break;
                case Recreate recreate:
                    FaultRecreate(recreate.Cause);
                    break;
                case Resume resume:
                    FaultResume(resume.CausedByFailure);
                    break;
                case Suspend:
                    FaultSuspend();
                    break;
                case RunContinuation continuation:
                    RunAsyncContinuation(continuation);
                    break;
                case AsyncHandlerCompleted completed:
                    HandleAsyncCompleted(completed.Task);
                    break;
                case RunOnActor run:
                    run.Action();
                    break;
                default:
                    System.Log.LogWarning("Unknown system message {Type} sent to {Path}; dropped.", message.GetType().Name, Self.Path);
                    break;
            }
        }
        catch (Exception ex)
        {
            HandleInvokeFailure(ex);
        }
    }

    private void CreateActor()
    {
        if (_actor is not null || _terminating)
        {
            return;
        }
        if (!NewActorInstance())
        {
            return;
        }
        try
        {
            _actor!.AroundPreStart();
        }
        catch (Exception ex)
        {
            HandleInvokeFailure(new ActorInitializationException(Self, $"PreStart of {Self.Path} threw: {ex.Message}", ex));
            return;
        }
        UpdateUserSuspension();
    }

    /// <summary>Builds a new actor instance with this cell as the current context; reports an initialization failure on error.</summary>
    private bool NewActorInstance()
    {
        _behaviors.Clear();
        _stashCapacity = Props.StashCapacity ?? System.Settings.DefaultStashCapacity;
        var previous = SwapCurrent(this);
        try
        {
            var actor = Props.NewActor();
            _actor = actor;
            actor.AttachCell(this);
            _behaviors.Add(actor.InitialReceive);
            if (actor is IWithStash withStash)
            {
                withStash.Stash = StashHandle;
            }
            return true;
        }
        catch (Exception ex)
        {
            _actor = null;
            HandleInvokeFailure(new ActorInitializationException(Self, $"Creating {Props.ActorType.Name} for {Self.Path} threw: {ex.Message}", ex));
            return false;
        }
        finally
        {
            SwapCurrent(previous);
        }
    }

    /// <summary>Recomputes whether the mailbox may process user messages.</summary>
    private void UpdateUserSuspension()
    {
        var suspended = _actor is null || _failed || _suspendCount > 0 || _awaitingTask is not null || _terminating || _pendingRecreate is not null;
        Mailbox.SetUserSuspended(suspended);
    }

    public void Become(Receive receive)
    {
        ArgumentNullException.ThrowIfNull(receive);
        if (_behaviors.Count > 1)
        {
            _behaviors[^1] = receive;
        }
        else
        {
            _behaviors.Add(receive);
        }
    }

    public void BecomeStacked(Receive receive)
    {
        ArgumentNullException.ThrowIfNull(receive);
        _behaviors.Add(receive);
    }

    public void UnbecomeStacked()
    {
        if (_behaviors.Count > 1)
        {
            _behaviors.RemoveAt(_behaviors.Count - 1);
        }
    }

    public ActorSelection ActorSelection(string path) => Actors.ActorSelection.Create(System, Self, path);

    /// <summary>Publishes and logs a message the behaviour did not handle (called by <see cref="ActorBase.Unhandled"/>).</summary>
    internal void PublishUnhandled(object message)
    {
        System.EventStream.Publish(new UnhandledMessage(message, _currentSender, Self));
        System.Log.LogDebug("Unhandled message {MessageType} from {Sender} to {Path}", message.GetType().Name, _currentSender?.Path.ToString() ?? "no sender", Self.Path);
    }
}
