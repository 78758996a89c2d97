using System.Collections.Concurrent;

namespace KvCluster.Actors;

internal sealed partial class ActorCell
{
    private readonly ConcurrentDictionary<string, ChildRestartStats> _children = new(StringComparer.Ordinal);
    private long _nextChildName;

    public IEnumerable<IActorRef> Children
    {
        get
        {
            foreach (var stats in _children.Values)
            {
                yield return stats.Child;
            }
        }
    }

    internal int ChildCount => _children.Count;

    public IActorRef Child(string name) => _children.TryGetValue(name, out var stats) ? stats.Child : ActorRefs.Nobody;

    /// <summary>Thread-safe lookup used by path resolution and selections.</summary>
    internal InternalActorRef? GetChildRef(string name) => _children.TryGetValue(name, out var stats) ? stats.Child : null;

    public IActorRef ActorOf(Props props, string? name = null) => ActorOf(props, name, systemName: false, callingThread: false);

    /// <summary>
    /// Creates a child. Thread-safe (guardians create top-level actors from any thread). A name
    /// starting with '$' is reserved for generated names unless <paramref name="systemName"/>.
    /// </summary>
    internal LocalActorRef ActorOf(Props props, string? name, bool systemName, bool callingThread)
    {
        ArgumentNullException.ThrowIfNull(props);
        if (name is null)
        {
            name = "$" + EncodeName(Interlocked.Increment(ref _nextChildName));
        }
        else
        {
            if (!ActorPath.IsValidElement(name))
            {
                throw new InvalidActorNameException($"Invalid actor name [{name}]: it must be non-empty and use only letters, digits and -_.*$+:@&=,!~';");
            }
            if (name[0] == '$' && !systemName)
            {
                throw new InvalidActorNameException($"Invalid actor name [{name}]: names starting with '$' are reserved for generated names.");
            }
        }
        if (_terminating)
        {
            throw new InvalidOperationException($"Cannot create child [{name}]: {Self.Path} is stopping.");
        }
        var path = Self.Path.Child(name).WithUid(NewUid());
        var child = new LocalActorRef(System, props, Self, path, callingThread);
        if (!_children.TryAdd(name, new ChildRestartStats(child)))
        {
            throw new InvalidActorNameException($"Actor name [{name}] is not unique under {Self.Path}.");
        }
        child.Start();
        if (_terminating)
        {
            // A stop raced with this creation (guardians): the child must not outlive its parent.
            MarkStopping(child);
            child.SendSystemMessage(Terminate.Instance);
        }
        return child;
    }

    private static string EncodeName(long n)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+~";
        Span<char> buffer = stackalloc char[12];
        var i = buffer.Length;
        do
        {
            buffer[--i] = alphabet[(int)(n & 63)];
            n >>= 6;
        }
        while (n != 0);
        return new string(buffer[i..]);
    }

    /// <summary>A new non-zero incarnation uid.</summary>
    internal static long NewUid()
    {
        long uid;
        do
        {
            uid = Random.Shared.NextInt64(1, long.MaxValue);
        }
        while (uid == 0);
        return uid;
    }

    public void Stop(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (actor is not InternalActorRef target)
        {
            throw new ArgumentException($"Cannot stop {actor}: not an actor ref of this runtime.", nameof(actor));
        }
        if (target is LocalActorRef local && _children.TryGetValue(local.Path.Name, out var stats) && stats.Child.Equals(local))
        {
            stats.Stopping = true;
        }
        target.SendSystemMessage(Terminate.Instance);
    }

    private void MarkStopping(LocalActorRef child)
    {
        if (_children.TryGetValue(child.Path.Name, out var stats) && ReferenceEquals(stats.Child, child))
        {
            stats.Stopping = true;
        }
    }

    private bool TryGetChildStats(IActorRef actor, out ChildRestartStats stats)
    {
        if (_children.TryGetValue(actor.Path.Name, out stats!) && stats.Child.Equals(actor))
        {
            return true;
        }
        stats = null!;
        return false;
    }

    private void StopAllChildren()
    {
        foreach (var stats in _children.Values)
        {
            stats.Stopping = true;
            stats.Child.SendSystemMessage(Terminate.Instance);
        }
    }

    private void SuspendChildren()
    {
        foreach (var stats in _children.Values)
        {
            stats.Child.SendSystemMessage(Suspend.Instance);
        }
    }

    private void ResumeChildren()
    {
        foreach (var stats in _children.Values)
        {
            if (!stats.Stopping)
            {
                stats.Child.SendSystemMessage(new Resume(null));
            }
        }
    }

    /// <summary>A child reported its death: forget it, then finish a pending stop or restart.</summary>
    private void HandleChildTerminated(IActorRef child)
    {
        if (_children.TryGetValue(child.Path.Name, out var stats) && stats.Child.Equals(child))
        {
            _children.TryRemove(new KeyValuePair<string, ChildRestartStats>(child.Path.Name, stats));
        }
        if (_terminating)
        {
            if (_children.IsEmpty)
            {
                FinishTerminate();
            }
        }
        else if (_pendingRecreate is { } cause && !HasStoppingChildren())
        {
            _pendingRecreate = null;
            FinishRecreate(cause);
        }
    }

    private bool HasStoppingChildren()
    {
        foreach (var stats in _children.Values)
        {
            if (stats.Stopping)
            {
                return true;
            }
        }
        return false;
    }
}
