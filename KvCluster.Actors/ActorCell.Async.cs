using System.Runtime.ExceptionServices;

namespace KvCluster.Actors;

internal sealed partial class ActorCell
{
    /// <summary>The task of a <c>ReceiveAsync</c> handler that has not completed; user messages wait for it.</summary>
    private Task? _awaitingTask;

    private TimeSpan? _receiveTimeout;
    private long _receiveTimeoutGeneration;
    private ICancelable? _receiveTimeoutCancelable;

    public TimeSpan? ReceiveTimeout => _receiveTimeout;

    /// <summary>
    /// Runs an async handler so that its awaits resume on this actor (continuations are posted to
    /// the mailbox as system messages, with Self/Sender restored) and the mailbox processes no
    /// other user message until the returned task completes.
    /// </summary>
    internal void RunAsyncHandler(Func<Task> handler)
    {
        var previous = SynchronizationContext.Current;
        // One context per async handler run: it remembers the sender of the message being handled.
        SynchronizationContext.SetSynchronizationContext(new ActorSynchronizationContext(Self, _currentSender));
        Task task;
        try
        {
            task = handler();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
        if (task.IsCompleted)
        {
            if (task.IsFaulted || task.IsCanceled)
            {
                ThrowTaskFailure(task);
            }
            return;
        }
        _awaitingTask = task;
        UpdateUserSuspension();
        var self = Self;
        task.ContinueWith(static (t, state) => ((LocalActorRef)state!).SendSystemMessage(new AsyncHandlerCompleted(t)),
            self, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static void ThrowTaskFailure(Task task)
    {
        if (task.Exception is { } aggregate)
        {
            ExceptionDispatchInfo.Capture(aggregate.InnerExceptions.Count == 1 ? aggregate.InnerExceptions[0] : aggregate).Throw();
        }
        throw new TaskCanceledException(task);
    }

    private void RunAsyncContinuation(RunContinuation continuation)
    {
        if (_terminated || _actor is null)
        {
            return;
        }
        var previousSender = _currentSender;
        var previousContext = SynchronizationContext.Current;
        _currentSender = continuation.Sender;
        SynchronizationContext.SetSynchronizationContext(continuation.Context);
        try
        {
            continuation.Callback(continuation.State);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previousContext);
            _currentSender = previousSender;
        }
    }

    private void HandleAsyncCompleted(Task task)
    {
        if (!ReferenceEquals(task, _awaitingTask))
        {
            return;
        }
        _awaitingTask = null;
        UpdateUserSuspension();
        if (task.IsFaulted || task.IsCanceled)
        {
            ThrowTaskFailure(task);
        }
    }

    public void SetReceiveTimeout(TimeSpan? timeout)
    {
        if (timeout is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "A receive timeout must be positive (or null to clear it).");
        }
        _receiveTimeout = timeout;
        CancelReceiveTimeout();
        if (timeout is not null)
        {
            RescheduleReceiveTimeout();
        }
    }

    private void RescheduleReceiveTimeout()
    {
        _receiveTimeoutCancelable?.Cancel();
        var generation = ++_receiveTimeoutGeneration;
        _receiveTimeoutCancelable = System.Scheduler.ScheduleTellOnce(_receiveTimeout!.Value, Self, new ReceiveTimeoutTick(generation), null);
    }

    private void CancelReceiveTimeout()
    {
        _receiveTimeoutCancelable?.Cancel();
        _receiveTimeoutCancelable = null;
        _receiveTimeoutGeneration++;
    }

    /// <summary>Posts await continuations of async handlers back to the actor's mailbox.</summary>
    private sealed class ActorSynchronizationContext(LocalActorRef self, IActorRef? sender) : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state)
        {
            self.SendSystemMessage(new RunContinuation(d, state, sender, this));
        }

        public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("Synchronous Send is not supported on an actor's context.");

        public override SynchronizationContext CreateCopy() => this;
    }
}

/// <summary>Internal tick of the receive timeout; stale generations are ignored.</summary>
internal sealed record ReceiveTimeoutTick(long Generation) : IAutoReceivedMessage, INotInfluenceReceiveTimeout;
