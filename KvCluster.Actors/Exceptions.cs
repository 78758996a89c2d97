namespace KvCluster.Actors;

/// <summary>Base class of the actor runtime's exceptions.</summary>
public class ActorException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public ActorException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ActorException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>Thrown inside an actor that received <see cref="Kill"/>; the default supervisor stops it.</summary>
public sealed class ActorKilledException : ActorException
{
    /// <summary>Creates the exception.</summary>
    public ActorKilledException(string message) : base(message)
    {
    }
}

/// <summary>Thrown when an actor does not handle the <see cref="Terminated"/> of an actor it watches; the default supervisor stops it.</summary>
public sealed class DeathPactException : ActorException
{
    /// <summary>Creates the exception for the dead actor.</summary>
    public DeathPactException(IActorRef deadActor) : base($"Monitored actor [{deadActor}] terminated and its Terminated message was not handled.")
    {
        DeadActor = deadActor;
    }

    /// <summary>The watched actor that stopped.</summary>
    public IActorRef DeadActor { get; }
}

/// <summary>An actor's constructor or PreStart threw; the default supervisor stops the actor.</summary>
public sealed class ActorInitializationException : ActorException
{
    /// <summary>Creates the exception.</summary>
    public ActorInitializationException(IActorRef? actor, string message, Exception? cause) : base(message, cause)
    {
        Actor = actor;
    }

    /// <summary>The actor that failed to start, when known.</summary>
    public IActorRef? Actor { get; }
}

/// <summary>An Ask got no reply within its timeout.</summary>
public sealed class AskTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public AskTimeoutException(string message) : base(message)
    {
    }
}

/// <summary>An actor stashed more messages than its stash capacity (<see cref="Props.WithStashCapacity"/>).</summary>
public sealed class StashOverflowException : ActorException
{
    /// <summary>Creates the exception.</summary>
    public StashOverflowException(string message) : base(message)
    {
    }
}

/// <summary>An actor name is malformed or already taken by a sibling.</summary>
public sealed class InvalidActorNameException : ActorException
{
    /// <summary>Creates the exception.</summary>
    public InvalidActorNameException(string message) : base(message)
    {
    }
}

/// <summary>An <see cref="ActorSelection"/> did not resolve to an actor.</summary>
public sealed class ActorNotFoundException : ActorException
{
    /// <summary>Creates the exception.</summary>
    public ActorNotFoundException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary>An actor API was used in a state where it is not allowed (e.g. stashing the same message twice).</summary>
public sealed class IllegalActorStateException : ActorException
{
    /// <summary>Creates the exception.</summary>
    public IllegalActorStateException(string message) : base(message)
    {
    }
}
