namespace KvCluster.Actors;

/// <summary>Request–response from outside (or inside) an actor: <c>await actor.Ask&lt;Pong&gt;(new Ping(), timeout)</c>.</summary>
public static class AskExtensions
{
    /// <summary>
    /// Sends <paramref name="message"/> with a temporary reply ref (a real path under <c>/temp</c>,
    /// resolvable by the provider so replies can come from remote systems) and completes with the
    /// first reply. A <see cref="Status.Failure"/> reply faults the task with its cause; a reply of
    /// another type faults it with <see cref="InvalidCastException"/>; no reply within the timeout
    /// (measured by the system scheduler, so virtual time applies) faults it with
    /// <see cref="AskTimeoutException"/>. Continuations run asynchronously, never on the replier's thread.
    /// </summary>
    /// <param name="receiver">The actor to ask.</param>
    /// <param name="message">The request.</param>
    /// <param name="timeout">Reply timeout; null for <see cref="ActorSystemSetup.DefaultAskTimeout"/>.</param>
    /// <param name="cancellationToken">Cancels the wait (the task becomes cancelled).</param>
    public static Task<T> Ask<T>(this IActorRef receiver, object message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        var provider = ProviderOf(receiver);
        var promise = PromiseActorRef<T>.Start(provider, timeout ?? provider.System.Settings.DefaultAskTimeout, receiver.Path.ToString(), message, cancellationToken);
        receiver.Tell(message, promise);
        return promise.Task;
    }

    /// <summary>Ask through a selection (see <see cref="Ask{T}(IActorRef, object, TimeSpan?, CancellationToken)"/>).</summary>
    public static Task<T> Ask<T>(this ActorSelection selection, object message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(message);
        var provider = ProviderOf(selection.Anchor);
        var promise = PromiseActorRef<T>.Start(provider, timeout ?? provider.System.Settings.DefaultAskTimeout, selection.PathString, message, cancellationToken);
        selection.Tell(message, promise);
        return promise.Task;
    }

    private static IActorRefProvider ProviderOf(IActorRef receiver)
    {
        if (ActorCell.Current is { } cell)
        {
            return cell.System.Provider;
        }
        if (receiver is InternalActorRef target && !ReferenceEquals(target, ActorRefs.Nobody))
        {
            return target.Provider;
        }
        throw new ArgumentException($"Cannot Ask {receiver}: it belongs to no actor system.", nameof(receiver));
    }
}

/// <summary>The temporary reply ref of one Ask: completes a task with the first reply, then unregisters itself.</summary>
internal sealed class PromiseActorRef<T> : InternalActorRef
{
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IActorRefProvider _provider;

    /// <summary>Created (and registered for resolution) on first use: a local Ask's reply ref is never looked up by
    /// path, so most never pay for one; a ref sent over the wire gets it when remoting writes its path.</summary>
    private ActorPath? _path;
    private List<IActorRef>? _watchers;
    private ICancelable? _timeout;
    private CancellationTokenRegistration _cancellation;

    private PromiseActorRef(IActorRefProvider provider)
    {
        _provider = provider;
    }

    public Task<T> Task => _completion.Task;

    public override ActorPath Path => Volatile.Read(ref _path) ?? Publish();

    /// <summary>Gives the ref its /temp path and makes it resolvable there until it completes.</summary>
    private ActorPath Publish()
    {
        var created = _provider.TempPath();
        if (Interlocked.CompareExchange(ref _path, created, null) is { } raced)
        {
            return raced;
        }
        _provider.RegisterTempActor(this);
        if (_completion.Task.IsCompleted)
        {
            // Completed meanwhile: Complete may not have seen the path, so unregister here too (removal is idempotent).
            _provider.UnregisterTempActor(created);
        }
        return created;
    }

    public override IActorRefProvider Provider => _provider;

    public override bool IsTerminated => _completion.Task.IsCompleted;

    public static PromiseActorRef<T> Start(IActorRefProvider provider, TimeSpan timeout, string target, object message, CancellationToken cancellationToken)
    {
        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "An Ask timeout must be positive.");
        }
        var promise = new PromiseActorRef<T>(provider);
        var messageType = message.GetType().Name;
        promise._timeout = provider.System.Scheduler.ScheduleOnce(timeout, () => promise.Complete(completion =>
            completion.TrySetException(new AskTimeoutException($"Ask timed out on [{target}] after [{timeout.TotalMilliseconds} ms]; message type [{messageType}]."))));
        if (cancellationToken.CanBeCanceled)
        {
            promise._cancellation = cancellationToken.Register(() => promise.Complete(completion => completion.TrySetCanceled(cancellationToken)));
        }
        return promise;
    }

    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        Complete(completion =>
        {
            switch (message)
            {
                case T typed:
                    completion.TrySetResult(typed);
                    break;
                case Status.Failure failure:
                    completion.TrySetException(failure.Cause);
                    break;
                default:
                    completion.TrySetException(new InvalidCastException(
                        $"Ask expected a reply of type [{typeof(T).Name}] but received [{message.GetType().Name}] from {sender?.Path.ToString() ?? "no sender"}."));
                    break;
            }
        });
    }

    private void Complete(Action<TaskCompletionSource<T>> complete)
    {
        if (_completion.Task.IsCompleted)
        {
            return;
        }
        complete(_completion);
        _timeout?.Cancel();
        _cancellation.Dispose();
        if (Volatile.Read(ref _path) is { } path)
        {
            _provider.UnregisterTempActor(path);
        }
        List<IActorRef>? watchers;
        lock (_completion)
        {
            watchers = _watchers;
            _watchers = null;
        }
        if (watchers is not null)
        {
            foreach (var watcher in watchers)
            {
                ((InternalActorRef)watcher).SendSystemMessage(new DeathWatchNotification(this, ExistenceConfirmed: true, AddressTerminated: false));
            }
        }
    }

    public override void SendSystemMessage(ISystemMessage message)
    {
        switch (message)
        {
            case Watch watch:
                lock (_completion)
                {
                    if (!_completion.Task.IsCompleted)
                    {
                        (_watchers ??= []).Add(watch.Watcher);
                        return;
                    }
                }
                ((InternalActorRef)watch.Watcher).SendSystemMessage(new DeathWatchNotification(this, ExistenceConfirmed: true, AddressTerminated: false));
                break;
            case Unwatch unwatch:
                lock (_completion)
                {
                    _watchers?.Remove(unwatch.Watcher);
                }
                break;
        }
    }
}
