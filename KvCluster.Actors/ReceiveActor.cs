namespace KvCluster.Actors;

/// <summary>
/// An actor whose behaviour is a list of typed handlers registered in its constructor
/// (<c>Receive&lt;Ping&gt;(p =&gt; ...)</c>), tried in registration order; the first whose type (and
/// predicate) matches handles the message. <see cref="Become(Action)"/> swaps in a new handler
/// list built by a configure callback. Handlers can only be registered in the constructor or in a
/// Become/BecomeStacked configure callback.
/// </summary>
public abstract class ReceiveActor : ActorBase
{
    private readonly HandlerSet _initial = new();
    private HandlerSet? _building;

    /// <summary>Starts collecting the initial handlers.</summary>
    protected ReceiveActor()
    {
        _building = _initial;
    }

    /// <inheritdoc />
    protected sealed override bool Receive(object message) => _initial.TryHandle(message);

    /// <inheritdoc />
    protected internal override void AroundPreStart()
    {
        _building = null;
        base.AroundPreStart();
    }

    /// <inheritdoc />
    protected internal override void AroundPostRestart(Exception cause)
    {
        _building = null;
        base.AroundPostRestart(cause);
    }

    private HandlerSet Building => _building ?? throw new InvalidOperationException(
        "Receive handlers can only be registered in the actor's constructor or inside Become/BecomeStacked.");

    /// <summary>Handles messages of type <typeparamref name="T"/>.</summary>
    protected void Receive<T>(Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Building.Add(new ActionHandler<T>(handler, null));
    }

    /// <summary>Handles messages of type <typeparamref name="T"/> for which <paramref name="shouldHandle"/> is true.</summary>
    protected void Receive<T>(Predicate<T> shouldHandle, Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(shouldHandle);
        ArgumentNullException.ThrowIfNull(handler);
        Building.Add(new ActionHandler<T>(handler, shouldHandle));
    }

    /// <summary>Offers messages of type <typeparamref name="T"/> to <paramref name="handler"/>, which returns false to pass them on.</summary>
    protected void Receive<T>(Func<T, bool> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Building.Add(new FuncHandler<T>(handler));
    }

    /// <summary>
    /// Handles messages of type <typeparamref name="T"/> asynchronously: the mailbox processes no
    /// other user message until the returned task completes; awaits resume on this actor with
    /// <c>Self</c>/<c>Sender</c> intact; a faulted task fails the actor (supervision applies).
    /// </summary>
    protected void ReceiveAsync<T>(Func<T, Task> handler, Predicate<T>? shouldHandle = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Building.Add(new AsyncHandler<T>(handler, shouldHandle, this));
    }

    /// <summary>Handles any message not handled by an earlier handler.</summary>
    protected void ReceiveAny(Action<object> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Building.Add(new ActionHandler<object>(handler, null));
    }

    /// <summary>Replaces the behaviour with the handlers <paramref name="configure"/> registers.</summary>
    protected void Become(Action configure) => Context.Become(Build(configure));

    /// <summary>Pushes the handlers <paramref name="configure"/> registers as a new behaviour (pop with <see cref="ActorBase.UnbecomeStacked"/>).</summary>
    protected void BecomeStacked(Action configure) => Context.BecomeStacked(Build(configure));

    private Receive Build(Action configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var set = new HandlerSet();
        var previous = _building;
        _building = set;
        try
        {
            configure();
        }
        finally
        {
            _building = previous;
        }
        return set.TryHandle;
    }

    internal void RunAsync(Func<Task> run) => RunTask(run);

    private sealed class HandlerSet
    {
        private Handler[] _handlers = [];

        public void Add(Handler handler) => _handlers = [.. _handlers, handler];

        public bool TryHandle(object message)
        {
            foreach (var handler in _handlers)
            {
                if (handler.TryHandle(message))
                {
                    return true;
                }
            }
            return false;
        }
    }

    private abstract class Handler
    {
        public abstract bool TryHandle(object message);
    }

    private sealed class ActionHandler<T>(Action<T> action, Predicate<T>? predicate) : Handler
    {
        public override bool TryHandle(object message)
        {
            if (message is T typed && (predicate is null || predicate(typed)))
            {
                action(typed);
                return true;
            }
            return false;
        }
    }

    private sealed class FuncHandler<T>(Func<T, bool> func) : Handler
    {
        public override bool TryHandle(object message) => message is T typed && func(typed);
    }

    private sealed class AsyncHandler<T>(Func<T, Task> func, Predicate<T>? predicate, ReceiveActor owner) : Handler
    {
        public override bool TryHandle(object message)
        {
            if (message is T typed && (predicate is null || predicate(typed)))
            {
                owner.RunAsync(() => func(typed));
                return true;
            }
            return false;
        }
    }
}
