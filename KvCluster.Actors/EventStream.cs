namespace KvCluster.Actors;

/// <summary>
/// The system-wide publish/subscribe bus (dead letters, unhandled messages, address termination,
/// and anything layers above publish). A subscriber subscribed to a type receives every published
/// event assignable to it (subclasses and implemented interfaces included), once per matching
/// subscription. Thread-safe; publishing never blocks (it is a Tell to each subscriber).
/// Subscriptions of local actors are removed when they stop.
/// </summary>
public sealed class EventStream
{
    private readonly object _lock = new();
    private (Type Channel, IActorRef Subscriber)[] _subscriptions = [];

    /// <summary>Subscribes <paramref name="subscriber"/> to events of <paramref name="channel"/>; false if already subscribed.</summary>
    public bool Subscribe(IActorRef subscriber, Type channel)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ArgumentNullException.ThrowIfNull(channel);
        lock (_lock)
        {
            foreach (var (c, s) in _subscriptions)
            {
                if (c == channel && s.Equals(subscriber))
                {
                    return false;
                }
            }
            _subscriptions = [.. _subscriptions, (channel, subscriber)];
            return true;
        }
    }

    /// <summary>Removes one subscription; false if there was none.</summary>
    public bool Unsubscribe(IActorRef subscriber, Type channel)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ArgumentNullException.ThrowIfNull(channel);
        lock (_lock)
        {
            var kept = _subscriptions.Where(x => !(x.Channel == channel && x.Subscriber.Equals(subscriber))).ToArray();
            var removed = kept.Length != _subscriptions.Length;
            _subscriptions = kept;
            return removed;
        }
    }

    /// <summary>Removes every subscription of <paramref name="subscriber"/>.</summary>
    public void Unsubscribe(IActorRef subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        lock (_lock)
        {
            if (Array.Exists(_subscriptions, x => x.Subscriber.Equals(subscriber)))
            {
                _subscriptions = _subscriptions.Where(x => !x.Subscriber.Equals(subscriber)).ToArray();
            }
        }
    }

    /// <summary>Delivers <paramref name="event"/> to every subscriber of a type it is assignable to (sender: none).</summary>
    public void Publish(object @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        var snapshot = Volatile.Read(ref _subscriptions);
        if (snapshot.Length == 0)
        {
            return;
        }
        var type = @event.GetType();
        foreach (var (channel, subscriber) in snapshot)
        {
            if (channel.IsAssignableFrom(type))
            {
                subscriber.Tell(@event, null);
            }
        }
    }
}
