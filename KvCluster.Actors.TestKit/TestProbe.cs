using System.Collections.Concurrent;
using KvCluster.Actors;
using Xunit.Sdk;

namespace KvCluster.Actors.TestKit;

/// <summary>
/// A test-side actor with a message queue: send it messages (its <see cref="Ref"/>), then assert
/// on what arrived with <c>ExpectMsg</c> and friends. Waits are wall-clock with a timeout
/// (default <see cref="TestKitBase.DefaultTimeout"/>, bounded by an enclosing <c>Within</c>).
/// Assertion failures throw xunit exceptions naming what was expected and what arrived.
/// </summary>
public sealed class TestProbe
{
    private readonly BlockingCollection<Envelope> _queue = new();
    private readonly TestKitBase _kit;

    internal TestProbe(TestKitBase kit, string? name)
    {
        _kit = kit;
        Ref = kit.Sys.ActorOf(Props.Create(() => new ProbeActor(_queue)), name);
    }

    /// <summary>The probe's actor ref.</summary>
    public IActorRef Ref { get; }

    /// <summary>The sender of the last message received by an Expect/Receive call.</summary>
    public IActorRef? LastSender { get; private set; }

    /// <summary>The last message received by an Expect/Receive call.</summary>
    public object? LastMessage { get; private set; }

    /// <summary>Number of messages waiting in the probe's queue.</summary>
    public int QueueCount => _queue.Count;

    /// <summary>Sends <paramref name="message"/> to <paramref name="target"/> with the probe as sender.</summary>
    public void Send(IActorRef target, object message) => target.Tell(message, Ref);

    /// <summary>Replies to <see cref="LastSender"/> with the probe as sender.</summary>
    public void Reply(object message)
    {
        var sender = LastSender ?? throw new InvalidOperationException("Reply needs a previously received message with a sender.");
        sender.Tell(message, Ref);
    }

    /// <summary>Forwards <see cref="LastMessage"/> (or <paramref name="message"/>) to <paramref name="target"/> keeping <see cref="LastSender"/>.</summary>
    public void Forward(IActorRef target, object? message = null)
    {
        target.Tell(message ?? LastMessage ?? throw new InvalidOperationException("Nothing to forward."), LastSender);
    }

    /// <summary>Watches <paramref name="target"/>: the probe receives its <see cref="Terminated"/>.</summary>
    public IActorRef Watch(IActorRef target)
    {
        ((InternalActorRef)Ref).SendSystemMessage(new Watch(target, Ref));
        return target;
    }

    /// <summary>Stops watching <paramref name="target"/>.</summary>
    public IActorRef Unwatch(IActorRef target)
    {
        ((InternalActorRef)Ref).SendSystemMessage(new Unwatch(target, Ref));
        return target;
    }

    /// <summary>Receives the next message; it must be a <typeparamref name="T"/> (and match <paramref name="predicate"/>).</summary>
    public T ExpectMsg<T>(Func<T, bool>? predicate = null, TimeSpan? timeout = null)
    {
        var envelope = ReceiveOne(timeout, $"a message of type {typeof(T).Name}");
        if (envelope.Message is not T typed)
        {
            throw new XunitException($"Expected a message of type {typeof(T).Name} but received {Describe(envelope.Message)} from {envelope.Sender}.");
        }
        if (predicate is not null && !predicate(typed))
        {
            throw new XunitException($"Received {Describe(envelope.Message)} but it did not match the predicate.");
        }
        return typed;
    }

    /// <summary>Receives the next message; it must equal <paramref name="expected"/>.</summary>
    public T ExpectMsg<T>(T expected, TimeSpan? timeout = null) where T : notnull
    {
        var envelope = ReceiveOne(timeout, Describe(expected));
        if (!Equals(envelope.Message, expected))
        {
            throw new XunitException($"Expected {Describe(expected)} but received {Describe(envelope.Message)}.");
        }
        return (T)envelope.Message;
    }

    /// <summary>Receives the next message; it must be a <typeparamref name="T"/> sent by <paramref name="sender"/>.</summary>
    public T ExpectMsgFrom<T>(IActorRef sender, Func<T, bool>? predicate = null, TimeSpan? timeout = null)
    {
        var message = ExpectMsg(predicate, timeout);
        if (!Equals(LastSender, sender))
        {
            throw new XunitException($"Expected {Describe(message!)} from {sender} but it came from {LastSender?.ToString() ?? "no sender"}.");
        }
        return message;
    }

    /// <summary>Receives the next message; it must be the <see cref="Terminated"/> of <paramref name="target"/>.</summary>
    public Terminated ExpectTerminated(IActorRef target, TimeSpan? timeout = null)
    {
        return ExpectMsg<Terminated>(t => t.ActorRef.Equals(target), timeout);
    }

    /// <summary>Asserts that no message arrives within <paramref name="duration"/> (default 100 ms; a wall-clock wait — keep it short).</summary>
    public void ExpectNoMsg(TimeSpan? duration = null)
    {
        var wait = _kit.Bound(duration ?? TimeSpan.FromMilliseconds(100));
        if (_queue.TryTake(out var envelope, wait))
        {
            Record(envelope);
            throw new XunitException($"Expected no message but received {Describe(envelope.Message)} from {envelope.Sender}.");
        }
    }

    /// <summary>Receives exactly <paramref name="count"/> messages (any type).</summary>
    public IReadOnlyList<object> ReceiveN(int count, TimeSpan? timeout = null)
    {
        var result = new List<object>(count);
        var deadline = DateTime.UtcNow + _kit.Bound(timeout ?? _kit.DefaultTimeout);
        for (var i = 0; i < count; i++)
        {
            var left = deadline - DateTime.UtcNow;
            result.Add(ReceiveOne(left < TimeSpan.Zero ? TimeSpan.Zero : left, $"message {i + 1} of {count}").Message);
        }
        return result;
    }

    /// <summary>Receives messages until one matches <paramref name="predicate"/> (others are discarded); returns it.</summary>
    public object FishForMessage(Func<object, bool> predicate, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + _kit.Bound(timeout ?? _kit.DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            var envelope = ReceiveOne(left < TimeSpan.Zero ? TimeSpan.Zero : left, "a message matching the fish predicate");
            if (predicate(envelope.Message))
            {
                return envelope.Message;
            }
        }
    }

    /// <summary>Typed <see cref="FishForMessage(Func{object, bool}, TimeSpan?)"/>.</summary>
    public T FishForMessage<T>(Func<T, bool>? predicate = null, TimeSpan? timeout = null)
    {
        return (T)FishForMessage(m => m is T t && (predicate is null || predicate(t)), timeout);
    }

    /// <summary>Receives the next message of any type.</summary>
    public object ReceiveOne(TimeSpan? timeout = null) => ReceiveOne(timeout, "a message").Message;

    private Envelope ReceiveOne(TimeSpan? timeout, string what)
    {
        var wait = _kit.Bound(timeout ?? _kit.DefaultTimeout);
        if (!_queue.TryTake(out var envelope, wait))
        {
            throw new XunitException($"Timeout ({wait.TotalMilliseconds:0} ms) while waiting for {what} at {Ref.Path}.");
        }
        Record(envelope);
        return envelope;
    }

    private void Record(Envelope envelope)
    {
        LastMessage = envelope.Message;
        LastSender = envelope.Sender;
    }

    private static string Describe(object message) => $"{message.GetType().Name} [{message}]";

    private sealed class ProbeActor(BlockingCollection<Envelope> queue) : ActorBase
    {
        protected override bool Receive(object message)
        {
            queue.Add(new Envelope(message, Sender));
            return true;
        }

        protected internal override void Unhandled(object message)
        {
        }
    }
}
