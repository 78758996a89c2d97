namespace KvCluster.Actors;

/// <summary>Pipes a task's outcome to an actor as a message: the way to bring async results back into an actor without blocking it.</summary>
public static class PipeToExtensions
{
    /// <summary>
    /// When <paramref name="task"/> completes, tells <paramref name="recipient"/> its result (mapped
    /// by <paramref name="success"/> if given) or a <see cref="Status.Failure"/> (mapped by
    /// <paramref name="failure"/> if given). The returned task completes after the tell.
    /// </summary>
    public static Task PipeTo<T>(this Task<T> task, IActorRef recipient, IActorRef? sender = null, Func<T, object>? success = null, Func<Exception, object>? failure = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(recipient);
        sender ??= ActorCell.Current?.Self;
        return task.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                object? value = success is not null ? success(t.Result) : t.Result;
                recipient.Tell(value ?? new Status.Success(null), sender);
            }
            else
            {
                var error = t.Exception is { } aggregate ? (aggregate.InnerExceptions.Count == 1 ? aggregate.InnerExceptions[0] : aggregate) : new TaskCanceledException(t);
                recipient.Tell(failure is not null ? failure(error) : new Status.Failure(error), sender);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>When <paramref name="task"/> completes, tells <paramref name="recipient"/> <see cref="Status.Success"/> or <see cref="Status.Failure"/>.</summary>
    public static Task PipeTo(this Task task, IActorRef recipient, IActorRef? sender = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(recipient);
        sender ??= ActorCell.Current?.Self;
        return task.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                recipient.Tell(new Status.Success(null), sender);
            }
            else
            {
                var error = t.Exception is { } aggregate ? (aggregate.InnerExceptions.Count == 1 ? aggregate.InnerExceptions[0] : aggregate) : new TaskCanceledException(t);
                recipient.Tell(new Status.Failure(error), sender);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
