using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

/// <summary>
/// A finite-state-machine actor in Akka's DSL. In the constructor: <see cref="StartWith"/>,
/// one <see cref="When"/> per state (with an optional state timeout), optionally
/// <see cref="OnTransition"/>, <see cref="WhenUnhandled"/>, <see cref="OnTermination"/>, then
/// <see cref="Initialize"/>. A state function returns <see cref="GoTo"/>/<see cref="Stay"/>/
/// <see cref="Stop()"/> (refined with Using/ForMax/Replying), or null when it does not handle
/// the event.
/// <para>
/// State timeouts: any event processed in a state cancels the pending timeout; the state the
/// function returns (Stay included) re-arms its timeout (<see cref="State{TState, TData}.ForMax"/> or
/// the <c>When</c> default). Each timeout carries a generation; one that was already queued when
/// another event arrived is ignored. Named timers (<see cref="SetTimer"/>) use the actor's timer
/// table and are equally immune to stale delivery. All timing goes through the system scheduler.
/// </para>
/// </summary>
/// <typeparam name="TState">The state names (typically an enum).</typeparam>
/// <typeparam name="TData">The state data.</typeparam>
public abstract class FSM<TState, TData> : ActorBase where TState : notnull
{
    private readonly Dictionary<TState, StateFunction> _stateFunctions = [];
    private readonly Dictionary<TState, TimeSpan?> _stateTimeouts = [];
    private readonly List<TransitionHandler> _transitionHandlers = [];
    private StateFunction? _whenUnhandled;
    private Action<StopEvent<TState, TData>>? _onTermination;
    private State<TState, TData>? _currentState;
    private State<TState, TData>? _nextState;
    private ICancelable? _timeoutFuture;
    private long _generation;
    private bool _stopped;

    /// <summary>Handles an event in a state: the next state, or null when unhandled.</summary>
    public delegate State<TState, TData>? StateFunction(Event<TData> fsmEvent);

    /// <summary>Called on every state change (and on GoTo to the same state).</summary>
    public delegate void TransitionHandler(TState initialState, TState nextState);

    /// <summary>The current state name.</summary>
    /// <exception cref="IllegalActorStateException">Before <see cref="StartWith"/>.</exception>
    public TState StateName => (_currentState ?? throw NotStarted()).StateName;

    /// <summary>The current state data.</summary>
    public TData StateData => (_currentState ?? throw NotStarted()).StateData;

    /// <summary>The data of the state being entered; valid inside <see cref="OnTransition"/> handlers.</summary>
    public TData NextStateData => (_nextState ?? throw new InvalidOperationException("NextStateData is only available during a transition.")).StateData;

    private static IllegalActorStateException NotStarted() => new("The FSM has no state: call StartWith in the constructor.");

    /// <summary>Sets the initial state (call in the constructor, before <see cref="Initialize"/>).</summary>
    protected void StartWith(TState stateName, TData stateData, TimeSpan? timeout = null)
    {
        _currentState = new State<TState, TData>(stateName, stateData, timeout, notifies: false);
    }

    /// <summary>Registers the handler of <paramref name="stateName"/> and its default state timeout. Registering a state twice chains the handlers (the first one tried first).</summary>
    protected void When(TState stateName, StateFunction func, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(func);
        if (_stateFunctions.TryGetValue(stateName, out var existing))
        {
            _stateFunctions[stateName] = e => existing(e) ?? func(e);
            if (timeout is not null)
            {
                _stateTimeouts[stateName] = timeout;
            }
        }
        else
        {
            _stateFunctions[stateName] = func;
            _stateTimeouts[stateName] = timeout;
        }
    }

    /// <summary>Handles events no state function handled (default: log a warning and stay).</summary>
    protected void WhenUnhandled(StateFunction func)
    {
        ArgumentNullException.ThrowIfNull(func);
        _whenUnhandled = func;
    }

    /// <summary>Adds a transition handler (called in registration order, before the new state is current).</summary>
    protected void OnTransition(TransitionHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _transitionHandlers.Add(handler);
    }

    /// <summary>Sets the handler called once when the FSM stops (its own Stop, or the actor stopped).</summary>
    protected void OnTermination(Action<StopEvent<TState, TData>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _onTermination = handler;
    }

    /// <summary>Enters the initial state: arms its timeout (transition handlers are not called for the initial state). Call last in the constructor.</summary>
    protected void Initialize()
    {
        var initial = _currentState ?? throw NotStarted();
        MakeTransition(initial);
    }

    /// <summary>Transition to <paramref name="nextStateName"/> keeping the data (transition handlers run even if it is the current state).</summary>
    protected State<TState, TData> GoTo(TState nextStateName) => new(nextStateName, StateData);

    /// <summary>Remain in the current state (transition handlers do not run; the state timeout is re-armed).</summary>
    protected State<TState, TData> Stay() => new(StateName, StateData, notifies: false);

    /// <summary>Stop the FSM normally.</summary>
    protected State<TState, TData> Stop() => Stop(FSMBase.Normal.Instance);

    /// <summary>Stop the FSM with <paramref name="reason"/>.</summary>
    protected State<TState, TData> Stop(FSMBase.Reason reason) => Stay().WithStopReason(reason);

    /// <summary>Stop the FSM with <paramref name="reason"/> and final <paramref name="stateData"/>.</summary>
    protected State<TState, TData> Stop(FSMBase.Reason reason, TData stateData) => Stay().Using(stateData).WithStopReason(reason);

    /// <summary>Starts (or replaces) the named timer: <paramref name="message"/> arrives after <paramref name="timeout"/> (repeatedly if <paramref name="repeat"/>).</summary>
    protected void SetTimer(string name, object message, TimeSpan timeout, bool repeat = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (repeat)
        {
            Timers.StartPeriodicTimer(new FsmTimerKey(name), message, timeout);
        }
        else
        {
            Timers.StartSingleTimer(new FsmTimerKey(name), message, timeout);
        }
    }

    /// <summary>Cancels the named timer; a message it already queued is not delivered.</summary>
    protected void CancelTimer(string name) => Timers.Cancel(new FsmTimerKey(name));

    /// <summary>True while the named timer is active.</summary>
    protected bool IsTimerActive(string name) => Timers.IsTimerActive(new FsmTimerKey(name));

    /// <inheritdoc />
    protected sealed override bool Receive(object message)
    {
        if (message is StateTimeoutTick tick)
        {
            if (tick.Generation == _generation && !_stopped)
            {
                ProcessEvent(FSMBase.StateTimeout.Instance);
            }
            return true;
        }
        _timeoutFuture?.Cancel();
        _timeoutFuture = null;
        _generation++;
        ProcessEvent(message);
        return true;
    }

    private void ProcessEvent(object message)
    {
        var current = _currentState ?? throw NotStarted();
        var fsmEvent = new Event<TData>(message, current.StateData);
        State<TState, TData>? next = null;
        if (_stateFunctions.TryGetValue(current.StateName, out var func))
        {
            next = func(fsmEvent);
        }
        next ??= _whenUnhandled is not null ? _whenUnhandled(fsmEvent) : null;
        next ??= HandleUnhandledDefault(fsmEvent);
        ApplyState(next);
    }

    private State<TState, TData> HandleUnhandledDefault(Event<TData> fsmEvent)
    {
        Log.LogWarning("FSM {Path} did not handle {EventType} in state {State}.", Self.Path, fsmEvent.FsmEvent.GetType().Name, StateName);
        return Stay();
    }

    private void ApplyState(State<TState, TData> next)
    {
        if (next.StopReason is not null)
        {
            SendReplies(next);
            Terminate(next);
            Context.Stop(Self);
            return;
        }
        SendReplies(next);
        MakeTransition(next);
    }

    private void SendReplies(State<TState, TData> next)
    {
        if (next.Replies.Count == 0)
        {
            return;
        }
        var sender = Sender;
        foreach (var reply in next.Replies)
        {
            sender.Tell(reply, Self);
        }
    }

    private void MakeTransition(State<TState, TData> next)
    {
        if (!_stateFunctions.ContainsKey(next.StateName))
        {
            var error = next.WithStopReason(new FSMBase.Failure($"Next state {next.StateName} does not exist"));
            Terminate(error);
            Context.Stop(Self);
            return;
        }
        var current = _currentState!;
        if (next.Notifies || !EqualityComparer<TState>.Default.Equals(current.StateName, next.StateName))
        {
            _nextState = next;
            try
            {
                foreach (var handler in _transitionHandlers)
                {
                    handler(current.StateName, next.StateName);
                }
            }
            finally
            {
                _nextState = null;
            }
        }
        _currentState = next;
        var timeout = next.Timeout ?? _stateTimeouts.GetValueOrDefault(next.StateName);
        if (timeout is { } t && t != System.Threading.Timeout.InfiniteTimeSpan)
        {
            _timeoutFuture?.Cancel();
            _timeoutFuture = Context.System.Scheduler.ScheduleTellOnce(t, Self, new StateTimeoutTick(_generation), Self);
        }
    }

    private void Terminate(State<TState, TData> final)
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        _timeoutFuture?.Cancel();
        _timeoutFuture = null;
        _currentState = final;
        _onTermination?.Invoke(new StopEvent<TState, TData>(final.StopReason ?? FSMBase.Shutdown.Instance, final.StateName, final.StateData));
    }

    /// <summary>Runs <c>OnTermination</c> with <see cref="FSMBase.Shutdown"/> when the actor is stopped from outside, then PostStop.</summary>
    protected internal override void AroundPostStop()
    {
        if (!_stopped && _currentState is not null)
        {
            Terminate(_currentState.WithStopReason(FSMBase.Shutdown.Instance));
        }
        base.AroundPostStop();
    }

    private sealed record StateTimeoutTick(long Generation);

    private sealed record FsmTimerKey(string Name);
}
