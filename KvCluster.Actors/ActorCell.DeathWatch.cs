namespace KvCluster.Actors;

internal sealed partial class ActorCell
{
    /// <summary>Actors this actor watches.</summary>
    private HashSet<IActorRef>? _watching;

    /// <summary>Actors watching this actor (other than the parent, which always hears of the death).</summary>
    private HashSet<IActorRef>? _watchedBy;

    /// <summary>Watched actors whose <see cref="Terminated"/> is queued but not yet handled.</summary>
    private HashSet<IActorRef>? _terminatedQueued;

    /// <summary>Watched actors whose queued <see cref="Terminated"/> must be dropped because of an Unwatch.</summary>
    private HashSet<IActorRef>? _terminatedDropped;

    private bool _subscribedToAddressTerminated;

    public IActorRef Watch(IActorRef subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (subject is not InternalActorRef target)
        {
            throw new ArgumentException($"Cannot watch {subject}: not an actor ref of this runtime.", nameof(subject));
        }
        if (subject.Equals(Self))
        {
            return subject;
        }
        _watching ??= [];
        if (_watching.Add(subject))
        {
            target.SendSystemMessage(new Watch(subject, Self));
            if (!target.IsLocal)
            {
                SubscribeAddressTerminated();
            }
        }
        return subject;
    }

    public IActorRef Unwatch(IActorRef subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (_watching is not null && _watching.Remove(subject) && subject is InternalActorRef target)
        {
            target.SendSystemMessage(new Unwatch(subject, Self));
        }
        if (_terminatedQueued is not null && _terminatedQueued.Remove(subject))
        {
            (_terminatedDropped ??= []).Add(subject);
        }
        return subject;
    }

    private void AddWatcher(IActorRef watchee, IActorRef watcher)
    {
        var watcheeIsSelf = watchee.Equals(Self);
        var watcherIsSelf = watcher.Equals(Self);
        if (watcheeIsSelf && !watcherIsSelf)
        {
            if (_terminated)
            {
                ((InternalActorRef)watcher).SendSystemMessage(new DeathWatchNotification(Self, true, false));
                return;
            }
            _watchedBy ??= [];
            if (_watchedBy.Add(watcher) && watcher is InternalActorRef { IsLocal: false })
            {
                SubscribeAddressTerminated();
            }
        }
        else if (!watcheeIsSelf && watcherIsSelf)
        {
            Watch(watchee);
        }
    }

    private void RemoveWatcher(IActorRef watchee, IActorRef watcher)
    {
        var watcheeIsSelf = watchee.Equals(Self);
        var watcherIsSelf = watcher.Equals(Self);
        if (watcheeIsSelf && !watcherIsSelf)
        {
            _watchedBy?.Remove(watcher);
        }
        else if (!watcheeIsSelf && watcherIsSelf)
        {
            Unwatch(watchee);
        }
    }

    private void HandleDeathWatchNotification(DeathWatchNotification notification)
    {
        var actor = notification.Actor;
        var wasWatched = _watching is not null && _watching.Remove(actor);
        if (wasWatched && !_terminating)
        {
            _terminatedQueued ??= [];
            _terminatedQueued.Add(actor);
            Self.Tell(new Terminated(actor, notification.ExistenceConfirmed, notification.AddressTerminated), actor);
        }
        if (TryGetChildStats(actor, out _))
        {
            HandleChildTerminated(actor);
        }
    }

    /// <summary>
    /// A <see cref="Terminated"/> reached the front of the mailbox. Our own watch's notification is
    /// delivered (unhandled: death pact) unless unwatched meanwhile; a Terminated some other actor
    /// forwarded is an ordinary message (unhandled: published, no death pact).
    /// </summary>
    private void ReceivedTerminated(Terminated terminated)
    {
        var actor = _actor!;
        if (_terminatedQueued is not null && _terminatedQueued.Remove(terminated.ActorRef))
        {
            if (!actor.AroundReceive(_behaviors[^1], terminated))
            {
                actor.Unhandled(terminated);
            }
            return;
        }
        if (_terminatedDropped is not null && _terminatedDropped.Remove(terminated.ActorRef))
        {
            return;
        }
        if (!actor.AroundReceive(_behaviors[^1], terminated))
        {
            PublishUnhandled(terminated);
        }
    }

    private void SubscribeAddressTerminated()
    {
        if (!_subscribedToAddressTerminated)
        {
            _subscribedToAddressTerminated = true;
            System.EventStream.Subscribe(Self, typeof(AddressTerminated));
        }
    }

    /// <summary>A remote system is gone: every watched actor there is terminated; watchers there are forgotten.</summary>
    private void HandleAddressTerminated(Address address)
    {
        if (_watching is not null)
        {
            foreach (var watched in _watching.Where(w => w.Path.Address == address).ToList())
            {
                HandleDeathWatchNotification(new DeathWatchNotification(watched, ExistenceConfirmed: false, AddressTerminated: true));
            }
        }
        _watchedBy?.RemoveWhere(w => w.Path.Address == address);
    }

    /// <summary>On stop: notify watchers (the parent gets its own notification) and drop our watches.</summary>
    private void TellWatchersWeDied()
    {
        if (_watchedBy is not null)
        {
            foreach (var watcher in _watchedBy)
            {
                if (!watcher.Equals(ParentRef) && watcher is InternalActorRef target)
                {
                    target.SendSystemMessage(new DeathWatchNotification(Self, ExistenceConfirmed: true, AddressTerminated: false));
                }
            }
            _watchedBy = null;
        }
        if (_watching is not null)
        {
            foreach (var watched in _watching)
            {
                ((InternalActorRef)watched).SendSystemMessage(new Unwatch(watched, Self));
            }
            _watching = null;
        }
        _terminatedQueued = null;
        _terminatedDropped = null;
    }
}
