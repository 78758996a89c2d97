using System.Diagnostics;
using KvCluster.Actors;
using Microsoft.Extensions.Logging;
using Xunit.Sdk;

namespace KvCluster.Actors.TestKit;

/// <summary>
/// Base class of actor specs (xunit): a fresh <see cref="ActorSystem"/> per test instance
/// (<see cref="Sys"/>), a default probe (<see cref="TestActor"/>) whose Expect methods are
/// exposed directly, optional virtual time (<see cref="Scheduler"/>), captured logs
/// (<see cref="EventFilter"/>) and dead letters. Disposing terminates the system.
/// </summary>
public abstract class TestKitBase : IDisposable
{
    private readonly TestProbe _testActor;
    private DateTime? _withinDeadline;

    /// <summary>Creates the kit.</summary>
    /// <param name="virtualTime">True to run every timer on a <see cref="TestScheduler"/> advanced by the test.</param>
    /// <param name="setup">Extra settings (logger factory is wrapped to capture logs; the scheduler is replaced when <paramref name="virtualTime"/>).</param>
    /// <param name="systemName">The system name; default "test".</param>
    protected TestKitBase(bool virtualTime = false, ActorSystemSetup? setup = null, string systemName = "test")
    {
        setup ??= ActorSystemSetup.Default;
        Logs = new CapturingLoggerProvider();
        var factory = new CapturingLoggerFactory(setup.LoggerFactory, Logs);
        setup = setup with { LoggerFactory = factory };
        if (virtualTime)
        {
            TestScheduler = new TestScheduler();
            setup = setup.WithScheduler(TestScheduler);
        }
        Sys = ActorSystem.Create(systemName, setup);
        _testActor = new TestProbe(this, "testActor");
        DeadLetterProbe = new TestProbe(this, "deadLetterProbe");
        Sys.EventStream.Subscribe(DeadLetterProbe.Ref, typeof(DeadLetter));
        EventFilter = new EventFilter(this, Logs);
    }

    /// <summary>The system under test.</summary>
    public ActorSystem Sys { get; }

    /// <summary>The default probe's ref (use as sender or reply target).</summary>
    public IActorRef TestActor => _testActor.Ref;

    /// <summary>The default probe.</summary>
    public TestProbe Probe => _testActor;

    /// <summary>The virtual-time scheduler, or null when the kit runs in real time.</summary>
    public TestScheduler? TestScheduler { get; }

    /// <summary>The system scheduler.</summary>
    public IScheduler Scheduler => Sys.Scheduler;

    /// <summary>Every log entry written through the system's logger factory.</summary>
    public CapturingLoggerProvider Logs { get; }

    /// <summary>Assertions on captured log entries.</summary>
    public EventFilter EventFilter { get; }

    /// <summary>A probe subscribed to <see cref="DeadLetter"/> events since the kit was created.</summary>
    public TestProbe DeadLetterProbe { get; }

    /// <summary>Default wall-clock timeout of Expect calls. 5 s: generous for a loaded 2-core CI machine.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Creates a new probe.</summary>
    public TestProbe CreateTestProbe(string? name = null) => new(this, name);

    /// <summary>Creates a synchronous <see cref="TestActorRef{TActor}"/>.</summary>
    public TestActorRef<TActor> ActorOfAsTestActorRef<TActor>(Props props, string? name = null) where TActor : ActorBase
    {
        return new TestActorRef<TActor>(Sys, props, name);
    }

    /// <summary>Advances virtual time; throws when the kit runs in real time.</summary>
    public void Advance(TimeSpan span) => (TestScheduler ?? throw new InvalidOperationException("This kit was created without virtual time.")).Advance(span);

    /// <inheritdoc cref="TestProbe.ExpectMsg{T}(Func{T, bool}?, TimeSpan?)"/>
    public T ExpectMsg<T>(Func<T, bool>? predicate = null, TimeSpan? timeout = null) => _testActor.ExpectMsg(predicate, timeout);

    /// <inheritdoc cref="TestProbe.ExpectMsg{T}(T, TimeSpan?)"/>
    public T ExpectMsg<T>(T expected, TimeSpan? timeout = null) where T : notnull => _testActor.ExpectMsg(expected, timeout);

    /// <inheritdoc cref="TestProbe.ExpectMsgFrom{T}"/>
    public T ExpectMsgFrom<T>(IActorRef sender, Func<T, bool>? predicate = null, TimeSpan? timeout = null) => _testActor.ExpectMsgFrom(sender, predicate, timeout);

    /// <inheritdoc cref="TestProbe.ExpectNoMsg"/>
    public void ExpectNoMsg(TimeSpan? duration = null) => _testActor.ExpectNoMsg(duration);

    /// <inheritdoc cref="TestProbe.ReceiveN"/>
    public IReadOnlyList<object> ReceiveN(int count, TimeSpan? timeout = null) => _testActor.ReceiveN(count, timeout);

    /// <inheritdoc cref="TestProbe.FishForMessage(Func{object, bool}, TimeSpan?)"/>
    public object FishForMessage(Func<object, bool> predicate, TimeSpan? timeout = null) => _testActor.FishForMessage(predicate, timeout);

    /// <inheritdoc cref="TestProbe.ExpectTerminated"/>
    public Terminated ExpectTerminated(IActorRef target, TimeSpan? timeout = null) => _testActor.ExpectTerminated(target, timeout);

    /// <summary>The default probe watches <paramref name="target"/>.</summary>
    public IActorRef Watch(IActorRef target) => _testActor.Watch(target);

    /// <summary>The sender of the last message the default probe received.</summary>
    public IActorRef? LastSender => _testActor.LastSender;

    /// <summary>Replies to <see cref="LastSender"/> from the default probe.</summary>
    public void Reply(object message) => _testActor.Reply(message);

    /// <summary>Receives the next <see cref="DeadLetter"/> whose message is a <typeparamref name="T"/> (and matches <paramref name="predicate"/>); earlier non-matching dead letters are skipped.</summary>
    public DeadLetter ExpectDeadLetter<T>(Func<T, bool>? predicate = null, TimeSpan? timeout = null)
    {
        return DeadLetterProbe.FishForMessage<DeadLetter>(d => d.Message is T t && (predicate is null || predicate(t)), timeout);
    }

    /// <summary>
    /// Runs <paramref name="action"/> with every Expect timeout bounded by <paramref name="max"/>
    /// (wall clock) and asserts it finished no sooner than <paramref name="min"/> and no later than <paramref name="max"/>.
    /// </summary>
    public void Within(TimeSpan min, TimeSpan max, Action action)
    {
        var previous = _withinDeadline;
        var started = Stopwatch.StartNew();
        _withinDeadline = DateTime.UtcNow + max;
        try
        {
            action();
        }
        finally
        {
            _withinDeadline = previous;
        }
        var elapsed = started.Elapsed;
        if (elapsed < min || elapsed > max)
        {
            throw new XunitException($"The block took {elapsed.TotalMilliseconds:0} ms, outside [{min.TotalMilliseconds:0}, {max.TotalMilliseconds:0}] ms.");
        }
    }

    /// <summary><see cref="Within(TimeSpan, TimeSpan, Action)"/> with no lower bound.</summary>
    public void Within(TimeSpan max, Action action) => Within(TimeSpan.Zero, max, action);

    /// <summary>Retries <paramref name="assertion"/> until it stops throwing or <paramref name="duration"/> (default <see cref="DefaultTimeout"/>) passes; then rethrows the last failure.</summary>
    public void AwaitAssert(Action assertion, TimeSpan? duration = null, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + Bound(duration ?? DefaultTimeout);
        var pause = interval ?? TimeSpan.FromMilliseconds(10);
        while (true)
        {
            try
            {
                assertion();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                WaitFor(pause);
            }
        }
    }

    /// <summary>Waits until <paramref name="condition"/> is true; fails with <paramref name="message"/> after <paramref name="duration"/> (default <see cref="DefaultTimeout"/>).</summary>
    public void AwaitCondition(Func<bool> condition, TimeSpan? duration = null, TimeSpan? interval = null, string? message = null)
    {
        var deadline = DateTime.UtcNow + Bound(duration ?? DefaultTimeout);
        var pause = interval ?? TimeSpan.FromMilliseconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new XunitException($"Condition not met within {(duration ?? DefaultTimeout).TotalMilliseconds:0} ms{(message is null ? "" : ": " + message)}.");
            }
            WaitFor(pause);
        }
    }

    private static void WaitFor(TimeSpan pause)
    {
        using var gate = new ManualResetEventSlim(false);
        gate.Wait(pause);
    }

    /// <summary>Clamps a wait to the enclosing <see cref="Within(TimeSpan, Action)"/> deadline.</summary>
    internal TimeSpan Bound(TimeSpan wait)
    {
        if (_withinDeadline is { } deadline)
        {
            var left = deadline - DateTime.UtcNow;
            if (left < wait)
            {
                return left < TimeSpan.Zero ? TimeSpan.Zero : left;
            }
        }
        return wait;
    }

    /// <summary>Terminates the system (waits up to 10 s).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Terminates the system when <paramref name="disposing"/>.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Sys.Terminate().Wait(TimeSpan.FromSeconds(10));
        }
    }
}

/// <summary>The xunit test kit base class with Akka's name: derive specs from it.</summary>
public abstract class TestKit : TestKitBase
{
    /// <inheritdoc cref="TestKitBase(bool, ActorSystemSetup?, string)"/>
    protected TestKit(bool virtualTime = false, ActorSystemSetup? setup = null, string systemName = "test")
        : base(virtualTime, setup, systemName)
    {
    }
}
