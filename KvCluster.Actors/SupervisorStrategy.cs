namespace KvCluster.Actors;

/// <summary>What a supervisor does with a failed child.</summary>
public enum Directive
{
    /// <summary>Keep the actor instance and its state; drop the failing message; continue.</summary>
    Resume,

    /// <summary>Replace the actor instance (PreRestart, new instance, PostRestart); the mailbox is kept.</summary>
    Restart,

    /// <summary>Stop the child.</summary>
    Stop,

    /// <summary>Fail the supervisor itself with the same exception; its own supervisor decides.</summary>
    Escalate,
}

/// <summary>
/// How an actor handles its children's failures: a decider maps the exception to a
/// <see cref="Directive"/>; restarts are limited to <see cref="MaxNrOfRetries"/> within
/// <see cref="WithinTimeRange"/>, beyond which the child is stopped.
/// </summary>
public abstract class SupervisorStrategy
{
    /// <summary>Creates a strategy.</summary>
    /// <param name="maxNrOfRetries">Restarts allowed within the window; -1 for unlimited, 0 to stop at the first failure that asks for a restart.</param>
    /// <param name="withinTimeRange">The window for <paramref name="maxNrOfRetries"/>; <see cref="Timeout.InfiniteTimeSpan"/> or zero for no window.</param>
    /// <param name="decider">Maps a child's exception to a directive; called on the supervisor's thread.</param>
    /// <param name="loggingEnabled">Log each failure (at Error level, with the exception) when true.</param>
    protected SupervisorStrategy(int maxNrOfRetries, TimeSpan withinTimeRange, Func<Exception, Directive> decider, bool loggingEnabled)
    {
        ArgumentNullException.ThrowIfNull(decider);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNrOfRetries, -1);
        MaxNrOfRetries = maxNrOfRetries;
        WithinTimeRange = withinTimeRange;
        Decider = decider;
        LoggingEnabled = loggingEnabled;
    }

    /// <summary>Restarts allowed within <see cref="WithinTimeRange"/> (-1: unlimited).</summary>
    public int MaxNrOfRetries { get; }

    /// <summary>The restart window (infinite or zero: the limit counts all restarts).</summary>
    public TimeSpan WithinTimeRange { get; }

    /// <summary>Maps an exception to a directive.</summary>
    public Func<Exception, Directive> Decider { get; }

    /// <summary>Whether failures are logged.</summary>
    public bool LoggingEnabled { get; }

    /// <summary>True for <see cref="AllForOneStrategy"/>: the directive applies to all children.</summary>
    public abstract bool AppliesToAllChildren { get; }

    /// <summary>
    /// Akka's default decider: <see cref="ActorInitializationException"/>, <see cref="ActorKilledException"/>
    /// and <see cref="DeathPactException"/> stop the child; every other exception restarts it.
    /// </summary>
    public static Directive DefaultDecider(Exception exception) => exception switch
    {
        ActorInitializationException => Directive.Stop,
        ActorKilledException => Directive.Stop,
        DeathPactException => Directive.Stop,
        _ => Directive.Restart,
    };

    /// <summary>One-for-one, unlimited restarts, <see cref="DefaultDecider"/>: the default of every actor.</summary>
    public static readonly SupervisorStrategy DefaultStrategy = new OneForOneStrategy(DefaultDecider);

    /// <summary>One-for-one strategy that stops any failing child.</summary>
    public static readonly SupervisorStrategy StoppingStrategy = new OneForOneStrategy(_ => Directive.Stop);

    /// <summary>
    /// Records a restart of one child at <paramref name="now"/> and says whether it is allowed
    /// (false: the retry limit within the window is exhausted and the child must be stopped).
    /// </summary>
    internal bool RequestRestartPermission(ChildRestartStats stats, DateTimeOffset now)
    {
        if (MaxNrOfRetries < 0)
        {
            return true;
        }
        if (MaxNrOfRetries == 0)
        {
            return false;
        }
        var windowed = WithinTimeRange > TimeSpan.Zero && WithinTimeRange != Timeout.InfiniteTimeSpan;
        if (!windowed)
        {
            stats.RestartCount++;
            return stats.RestartCount <= MaxNrOfRetries;
        }
        if (stats.RestartCount == 0 || now - stats.WindowStart > WithinTimeRange)
        {
            stats.WindowStart = now;
            stats.RestartCount = 1;
            return true;
        }
        stats.RestartCount++;
        return stats.RestartCount <= MaxNrOfRetries;
    }
}

/// <summary>Applies the directive only to the child that failed.</summary>
public sealed class OneForOneStrategy : SupervisorStrategy
{
    /// <summary>Creates a one-for-one strategy with a retry limit and window.</summary>
    public OneForOneStrategy(int maxNrOfRetries, TimeSpan withinTimeRange, Func<Exception, Directive> decider, bool loggingEnabled = true)
        : base(maxNrOfRetries, withinTimeRange, decider, loggingEnabled)
    {
    }

    /// <summary>Creates a one-for-one strategy with unlimited restarts.</summary>
    public OneForOneStrategy(Func<Exception, Directive> decider, bool loggingEnabled = true)
        : base(-1, Timeout.InfiniteTimeSpan, decider, loggingEnabled)
    {
    }

    /// <inheritdoc />
    public override bool AppliesToAllChildren => false;
}

/// <summary>Applies the directive to every child when one fails (e.g. restarts all siblings).</summary>
public sealed class AllForOneStrategy : SupervisorStrategy
{
    /// <summary>Creates an all-for-one strategy with a retry limit and window.</summary>
    public AllForOneStrategy(int maxNrOfRetries, TimeSpan withinTimeRange, Func<Exception, Directive> decider, bool loggingEnabled = true)
        : base(maxNrOfRetries, withinTimeRange, decider, loggingEnabled)
    {
    }

    /// <summary>Creates an all-for-one strategy with unlimited restarts.</summary>
    public AllForOneStrategy(Func<Exception, Directive> decider, bool loggingEnabled = true)
        : base(-1, Timeout.InfiniteTimeSpan, decider, loggingEnabled)
    {
    }

    /// <inheritdoc />
    public override bool AppliesToAllChildren => true;
}

/// <summary>Per-child bookkeeping kept by the parent: the ref, restart counting, stop state.</summary>
internal sealed class ChildRestartStats(LocalActorRef child)
{
    public LocalActorRef Child { get; } = child;

    public int RestartCount { get; set; }

    public DateTimeOffset WindowStart { get; set; }

    /// <summary>True once the parent asked the child to stop; the name stays reserved until it is gone.</summary>
    public bool Stopping { get; set; }
}
