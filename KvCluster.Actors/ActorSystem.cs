using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors;

/// <summary>
/// A named hierarchy of actors with its guardians (<c>/user</c>, <c>/system</c>), scheduler, event
/// stream, dead letters and extensions. Create with <see cref="Create"/>; shut down with
/// <see cref="Terminate"/>, which stops user actors (children before parents), then system actors,
/// then completes <see cref="WhenTerminated"/>. Thread-safe.
/// </summary>
public sealed class ActorSystem
{
    private readonly TaskCompletionSource _terminated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<Type, Lazy<object>> _extensions = new();
    private readonly ConcurrentQueue<Action> _onTermination = new();
    private readonly bool _ownsScheduler;
    private int _terminateRequested;

    private ActorSystem(string name, ActorSystemSetup setup)
    {
        Name = name;
        Settings = setup;
        LoggerFactory = setup.LoggerFactory;
        Log = LoggerFactory.CreateLogger("KvCluster.Actors.ActorSystem");
        Uid = ActorCell.NewUid();
        StartTime = DateTimeOffset.UtcNow;
        EventStream = new EventStream();
        if (setup.Scheduler is { } scheduler)
        {
            Scheduler = scheduler;
        }
        else
        {
            Scheduler = new DedicatedThreadScheduler(name, LoggerFactory.CreateLogger("KvCluster.Actors.Scheduler"));
            _ownsScheduler = true;
        }
        Provider = setup.ProviderFactory is { } factory
            ? factory(this) ?? throw new InvalidOperationException("ActorSystemSetup.ProviderFactory returned null.")
            : new LocalActorRefProvider(this, new Address(name));
        DeadLetterRef = FindLocalProvider(Provider)?.DeadLetterRef
            ?? (Provider.DeadLetters as DeadLetterActorRef)
            ?? new DeadLetterActorRef(this, Provider.RootPath / "deadLetters");
    }

    /// <summary>Creates and starts an actor system.</summary>
    /// <param name="name">The system name (letters, digits, '-' and '_').</param>
    /// <param name="setup">Settings; null for <see cref="ActorSystemSetup.Default"/>.</param>
    /// <exception cref="ArgumentException">The name or a setting is invalid (the message names it).</exception>
    public static ActorSystem Create(string name, ActorSystemSetup? setup = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Address.IsValidSystemName(name))
        {
            throw new ArgumentException($"Actor system name '{name}' is invalid: use letters, digits, '-' and '_', starting with a letter or digit.", nameof(name));
        }
        setup ??= ActorSystemSetup.Default;
        setup.Validate();
        var system = new ActorSystem(name, setup);
        system.Provider.Init();
        system.Log.LogDebug("Actor system {Address} started (uid {Uid}).", system.Address, system.Uid);
        return system;
    }

    /// <summary>The system's name.</summary>
    public string Name { get; }

    /// <summary>A random id of this incarnation of the system (remoting's handshake carries it to tell restarts apart).</summary>
    public long Uid { get; }

    /// <summary>When the system was created (wall clock).</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>The settings the system was created with.</summary>
    public ActorSystemSetup Settings { get; }

    /// <summary>The system's address (<c>kv://name</c>, or <c>kv://name@host:port</c> with remoting).</summary>
    public Address Address => Provider.DefaultAddress;

    /// <summary>The ref provider (path resolution, guardians, temp refs).</summary>
    public IActorRefProvider Provider { get; }

    /// <summary>The clock and timer service every actor timer uses.</summary>
    public IScheduler Scheduler { get; }

    /// <summary>The system-wide publish/subscribe bus.</summary>
    public EventStream EventStream { get; }

    /// <summary>The logger factory from the setup.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>The runtime's own logger.</summary>
    public ILogger Log { get; }

    /// <summary>The dead-letter ref: messages sent to it are counted, published and logged.</summary>
    public IActorRef DeadLetters => DeadLetterRef;

    internal DeadLetterActorRef DeadLetterRef { get; }

    /// <summary>How many messages went to dead letters since the system started.</summary>
    public long DeadLetterCount => DeadLetterRef.Count;

    /// <summary>Completes when the system has fully terminated (all actors stopped).</summary>
    public Task WhenTerminated => _terminated.Task;

    /// <summary>True once <see cref="Terminate"/> was called.</summary>
    public bool IsTerminating => Volatile.Read(ref _terminateRequested) != 0;

    private static LocalActorRefProvider? FindLocalProvider(IActorRefProvider provider) => provider as LocalActorRefProvider;

    private LocalActorRef UserGuardian => Provider.Guardian as LocalActorRef
        ?? throw new InvalidOperationException("The provider's /user guardian is not a local actor.");

    private LocalActorRef SystemGuardian => Provider.SystemGuardian as LocalActorRef
        ?? throw new InvalidOperationException("The provider's /system guardian is not a local actor.");

    /// <summary>Creates a top-level actor under <c>/user</c>. Thread-safe.</summary>
    /// <exception cref="InvalidActorNameException">The name is invalid or taken.</exception>
    /// <exception cref="InvalidOperationException">The system is terminating.</exception>
    public IActorRef ActorOf(Props props, string? name = null) => UserGuardian.Cell.ActorOf(props, name, systemName: false, callingThread: false);

    /// <summary>Creates an infrastructure actor under <c>/system</c> (stopped after all user actors). For layers such as remoting and persistence.</summary>
    public IActorRef SystemActorOf(Props props, string? name = null) => SystemGuardian.Cell.ActorOf(props, name, systemName: false, callingThread: false);

    /// <summary>Creates a top-level actor whose messages are processed synchronously by the sending thread (TestActorRef).</summary>
    internal LocalActorRef ActorOfCallingThread(Props props, string? name) => UserGuardian.Cell.ActorOf(props, name, systemName: false, callingThread: true);

    /// <summary>Stops <paramref name="actor"/> asynchronously.</summary>
    public void Stop(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (actor is InternalActorRef target)
        {
            target.SendSystemMessage(global::KvCluster.Actors.Terminate.Instance);
        }
    }

    /// <summary>A selection by absolute path (<c>/user/a/*</c>) or full path (<c>kv://name@host:port/user/a</c>).</summary>
    public ActorSelection ActorSelection(string path) => Actors.ActorSelection.Create(this, null, path);

    /// <summary>A selection of exactly <paramref name="path"/>.</summary>
    public ActorSelection ActorSelection(ActorPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Actors.ActorSelection.Create(this, null, path.ToString());
    }

    /// <summary>Registers <paramref name="action"/> to run once every actor has stopped, before <see cref="WhenTerminated"/> completes (e.g. closing sockets). Runs at once if already terminated.</summary>
    public void RegisterOnTermination(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        _onTermination.Enqueue(action);
        if (_terminated.Task.IsCompleted)
        {
            RunTerminationCallbacks();
        }
    }

    /// <summary>
    /// Starts an orderly shutdown and returns <see cref="WhenTerminated"/>: user actors stop
    /// (each after its children; PostStop runs), then <c>/system</c> actors, then the root.
    /// Idempotent and thread-safe.
    /// </summary>
    public Task Terminate()
    {
        if (Interlocked.Exchange(ref _terminateRequested, 1) == 0)
        {
            Log.LogDebug("Actor system {Address} terminating.", Address);
            UserGuardian.SendSystemMessage(global::KvCluster.Actors.Terminate.Instance);
        }
        return WhenTerminated;
    }

    /// <summary>Called when the root guardian stopped: the last step of termination.</summary>
    internal void OnRootTerminated()
    {
        RunTerminationCallbacks();
        if (_ownsScheduler && Scheduler is IDisposable disposable)
        {
            disposable.Dispose();
        }
        Log.LogDebug("Actor system {Address} terminated.", Address);
        _terminated.TrySetResult();
    }

    private void RunTerminationCallbacks()
    {
        while (_onTermination.TryDequeue(out var action))
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                Log.LogError(ex, "A termination callback threw.");
            }
        }
    }

    /// <summary>Returns the extension of type <typeparamref name="T"/>, creating it with <paramref name="id"/> on first use (at most once, thread-safe).</summary>
    public T RegisterExtension<T>(IExtensionId<T> id) where T : class, IExtension
    {
        ArgumentNullException.ThrowIfNull(id);
        return (T)_extensions.GetOrAdd(typeof(T), _ => new Lazy<object>(() => id.CreateExtension(this), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }

    /// <summary>The registered extension of type <typeparamref name="T"/>, or null.</summary>
    public T? GetExtension<T>() where T : class, IExtension
    {
        return _extensions.TryGetValue(typeof(T), out var lazy) ? (T)lazy.Value : null;
    }

    /// <summary>True when an extension of type <typeparamref name="T"/> is registered.</summary>
    public bool HasExtension<T>() where T : class, IExtension => _extensions.ContainsKey(typeof(T));

    /// <inheritdoc />
    public override string ToString() => Address.ToString();
}
