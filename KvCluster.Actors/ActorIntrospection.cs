namespace KvCluster.Actors;

/// <summary>
/// Read-only inspection of a running actor system, for operator tools (the pbm command host's
/// <c>actor hierarchy</c>). It never sends a message and never blocks: it reads each local
/// actor's thread-safe child table, so the answer is a snapshot that may already be stale
/// (an actor can start or stop while it is taken).
/// </summary>
public static class ActorIntrospection
{
    /// <summary>
    /// Resolves the local actor at <paramref name="path"/> (for example <c>/user/kv-router</c>,
    /// or <c>/</c> for the root guardian) by walking the child tables from the root guardian.
    /// Callable from any thread.
    /// </summary>
    /// <returns>The actor, or null when no live local actor has that path.</returns>
    /// <exception cref="FormatException"><paramref name="path"/> does not start with '/' or has an invalid element.</exception>
    public static IActorRef? Find(ActorSystem system, string path)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(path);
        if (!path.StartsWith('/'))
        {
            throw new FormatException($"Actor path '{path}' must start with '/', for example /user or /system/cluster.");
        }

        InternalActorRef current = system.Provider.RootGuardian;
        foreach (var element in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!ActorPath.IsValidElement(element))
            {
                throw new FormatException($"Actor path '{path}' has an invalid element '{element}'.");
            }

            var child = current.GetChild(element);
            if (child is null || child.IsTerminated)
            {
                return null;
            }

            current = child;
        }

        return current.IsTerminated ? null : current;
    }

    /// <summary>
    /// Describes a live local actor: its actor class and its current children, ordered by name.
    /// Callable from any thread.
    /// </summary>
    /// <returns>The description, or null when <paramref name="actor"/> is not a live local actor
    /// (a remote ref, dead letters, a temporary ask ref, or a stopped actor).</returns>
    public static LocalActorInfo? Describe(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (actor is not LocalActorRef local || local.IsTerminated)
        {
            return null;
        }

        var children = local.Cell.Children.OrderBy(c => c.Path.Name, StringComparer.Ordinal).ToArray();
        return new LocalActorInfo(local, local.Cell.Props.ActorType, children);
    }
}

/// <summary>A snapshot of one local actor, taken by <see cref="ActorIntrospection.Describe"/>.</summary>
/// <param name="Self">The actor.</param>
/// <param name="ActorType">The class its props create.</param>
/// <param name="Children">Its children when the snapshot was taken, ordered by name.</param>
public sealed record LocalActorInfo(IActorRef Self, Type ActorType, IReadOnlyList<IActorRef> Children);
