using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Actors;

/// <summary>
/// Settings of an <see cref="ActorSystem"/>, fixed at creation. Immutable; derive variants with
/// the <c>With...</c> methods or a <c>with</c> expression. Values are validated by
/// <see cref="ActorSystem.Create"/> with an error that names the setting.
/// </summary>
public sealed record ActorSystemSetup
{
    /// <summary>The defaults: no logging, real scheduler, local provider, throughput 50.</summary>
    public static readonly ActorSystemSetup Default = new();

    /// <summary>Where the runtime and <see cref="IActorContext.GetLogger"/> log. Default: <see cref="NullLoggerFactory"/>.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>The scheduler all timers use; null for the real (dedicated thread) scheduler. Pass a <see cref="TestScheduler"/> for virtual time.</summary>
    public IScheduler? Scheduler { get; init; }

    /// <summary>
    /// Where mailbox turns run; null (the default) for the .NET thread pool. Pass a
    /// <see cref="DeterministicDispatcher"/> (with a <see cref="TestScheduler"/>) to run a whole
    /// system on the test's thread, one turn at a time, in a reproducible order.
    /// </summary>
    public IMailboxDispatcher? Dispatcher { get; init; }

    /// <summary>Builds the ref provider; null for a <see cref="LocalActorRefProvider"/> with address <c>kv://name</c>. The remoting layer sets this.</summary>
    public Func<ActorSystem, IActorRefProvider>? ProviderFactory { get; init; }

    /// <summary>Messages an actor processes per mailbox turn before yielding its thread (fairness vs. throughput). Default 50.</summary>
    public int Throughput { get; init; } = 50;

    /// <summary>Default stash capacity per actor. Default 100,000.</summary>
    public int DefaultStashCapacity { get; init; } = 100_000;

    /// <summary>How many dead letters are logged one by one before switching to a summary every 10 s; 0 turns dead-letter logging off. Default 10.</summary>
    public int DeadLetterLogLimit { get; init; } = 10;

    /// <summary>Timeout of an Ask that does not pass one. Default 10 s.</summary>
    public TimeSpan DefaultAskTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The strategy <c>/user</c> applies to top-level actors; null for the default (restart).</summary>
    public SupervisorStrategy? GuardianSupervisorStrategy { get; init; }

    /// <summary>Returns a copy logging to <paramref name="loggerFactory"/>.</summary>
    public ActorSystemSetup WithLoggerFactory(ILoggerFactory loggerFactory) => this with { LoggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory)) };

    /// <summary>Returns a copy using <paramref name="scheduler"/> (e.g. a <see cref="TestScheduler"/>).</summary>
    public ActorSystemSetup WithScheduler(IScheduler scheduler) => this with { Scheduler = scheduler ?? throw new ArgumentNullException(nameof(scheduler)) };

    /// <summary>Returns a copy whose mailbox turns run on <paramref name="dispatcher"/> (e.g. a <see cref="DeterministicDispatcher"/>).</summary>
    public ActorSystemSetup WithDispatcher(IMailboxDispatcher dispatcher) => this with { Dispatcher = dispatcher ?? throw new ArgumentNullException(nameof(dispatcher)) };

    /// <summary>Returns a copy whose ref provider is built by <paramref name="providerFactory"/>.</summary>
    public ActorSystemSetup WithProvider(Func<ActorSystem, IActorRefProvider> providerFactory) => this with { ProviderFactory = providerFactory ?? throw new ArgumentNullException(nameof(providerFactory)) };

    internal void Validate()
    {
        if (LoggerFactory is null)
        {
            throw new ArgumentException("ActorSystemSetup.LoggerFactory must not be null.");
        }
        if (Throughput < 1)
        {
            throw new ArgumentException($"ActorSystemSetup.Throughput must be at least 1 (was {Throughput}).");
        }
        if (DefaultStashCapacity < 1)
        {
            throw new ArgumentException($"ActorSystemSetup.DefaultStashCapacity must be at least 1 (was {DefaultStashCapacity}).");
        }
        if (DefaultAskTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ActorSystemSetup.DefaultAskTimeout must be positive (was {DefaultAskTimeout}).");
        }
    }
}
