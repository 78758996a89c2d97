namespace KvCluster.Actors;

/// <summary>Non-generic FSM vocabulary (Akka's <c>FSMBase</c>): stop reasons and the state-timeout event.</summary>
public static class FSMBase
{
    /// <summary>Why an FSM stopped (passed to <c>OnTermination</c>).</summary>
    public abstract class Reason
    {
    }

    /// <summary>Stopped by its own <c>Stop()</c>.</summary>
    public sealed class Normal : Reason
    {
        /// <summary>The single instance.</summary>
        public static readonly Normal Instance = new();

        private Normal()
        {
        }

        /// <inheritdoc />
        public override string ToString() => "Normal";
    }

    /// <summary>Stopped from outside (its actor was stopped).</summary>
    public sealed class Shutdown : Reason
    {
        /// <summary>The single instance.</summary>
        public static readonly Shutdown Instance = new();

        private Shutdown()
        {
        }

        /// <inheritdoc />
        public override string ToString() => "Shutdown";
    }

    /// <summary>Stopped because of an error described by <see cref="Cause"/>.</summary>
    public sealed class Failure(object cause) : Reason
    {
        /// <summary>What went wrong.</summary>
        public object Cause { get; } = cause;

        /// <inheritdoc />
        public override string ToString() => $"Failure({Cause})";
    }

    /// <summary>The event an FSM receives when its state timeout elapses.</summary>
    public sealed class StateTimeout
    {
        /// <summary>The single instance.</summary>
        public static readonly StateTimeout Instance = new();

        private StateTimeout()
        {
        }

        /// <inheritdoc />
        public override string ToString() => "StateTimeout";
    }
}

/// <summary>An event as seen by an FSM state function: the message and the current state data.</summary>
/// <param name="FsmEvent">The message (or <see cref="FSMBase.StateTimeout"/>).</param>
/// <param name="StateData">The FSM's data when the event arrived.</param>
public sealed record Event<TData>(object FsmEvent, TData StateData);

/// <summary>Passed to <c>OnTermination</c> when an FSM stops.</summary>
/// <param name="Reason">Why it stopped.</param>
/// <param name="TerminatedState">The state it was in.</param>
/// <param name="StateData">Its data.</param>
public sealed record StopEvent<TState, TData>(FSMBase.Reason Reason, TState TerminatedState, TData StateData);

/// <summary>
/// The outcome of a state function: the next state name and data, an optional timeout override,
/// replies to send, and a stop reason. Build with <c>GoTo</c>/<c>Stay</c>/<c>Stop</c> and refine
/// with <see cref="Using"/>, <see cref="ForMax"/>, <see cref="Replying"/>. Immutable.
/// </summary>
public sealed class State<TState, TData>
{
    internal State(TState stateName, TData stateData, TimeSpan? timeout = null, FSMBase.Reason? stopReason = null,
        IReadOnlyList<object>? replies = null, bool notifies = true)
    {
        StateName = stateName;
        StateData = stateData;
        Timeout = timeout;
        StopReason = stopReason;
        Replies = replies ?? [];
        Notifies = notifies;
    }

    /// <summary>The state's name.</summary>
    public TState StateName { get; }

    /// <summary>The state's data.</summary>
    public TData StateData { get; }

    /// <summary>A state timeout overriding the one given to <c>When</c>, or null.</summary>
    public TimeSpan? Timeout { get; }

    /// <summary>Set when the FSM is to stop.</summary>
    public FSMBase.Reason? StopReason { get; }

    /// <summary>Messages sent to the sender of the current event after the transition.</summary>
    public IReadOnlyList<object> Replies { get; }

    /// <summary>True when transition listeners are told even for a self-transition (GoTo); false for Stay.</summary>
    internal bool Notifies { get; }

    /// <summary>Returns this state with new data.</summary>
    public State<TState, TData> Using(TData nextStateData) => new(StateName, nextStateData, Timeout, StopReason, Replies, Notifies);

    /// <summary>Returns this state with a state timeout of <paramref name="timeout"/> (instead of the <c>When</c> default).</summary>
    public State<TState, TData> ForMax(TimeSpan timeout) => new(StateName, StateData, timeout, StopReason, Replies, Notifies);

    /// <summary>Returns this state that also replies <paramref name="replyValue"/> to the current sender.</summary>
    public State<TState, TData> Replying(object replyValue)
    {
        ArgumentNullException.ThrowIfNull(replyValue);
        return new(StateName, StateData, Timeout, StopReason, [.. Replies, replyValue], Notifies);
    }

    internal State<TState, TData> WithStopReason(FSMBase.Reason reason) => new(StateName, StateData, Timeout, reason, Replies, Notifies);

    /// <inheritdoc />
    public override string ToString() => $"State({StateName}, {StateData})";
}
