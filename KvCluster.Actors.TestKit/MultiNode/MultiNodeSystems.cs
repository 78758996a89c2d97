using KvCluster.Actors.Remote.Actors;

namespace KvCluster.Actors.TestKit.MultiNode;

/// <summary>The two ways a node's actor system ends, for <see cref="IMultiNodeHandle"/> implementations.</summary>
public static class MultiNodeSystems
{
    /// <summary>
    /// Crash: closes remoting first with no drain (peers see the connections drop, nothing queued is flushed and no
    /// goodbye is sent), then terminates the system so its stores (journal files) are closed and can be reopened.
    /// Completes when the system has terminated. Idempotent.
    /// </summary>
    public static async Task CrashAsync(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        if (system.GetExtension<RemoteExtension>() is { } remote)
        {
            await remote.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        }

        await system.Terminate().ConfigureAwait(false);
    }

    /// <summary>Graceful stop: actors stop, queued remote messages flush, then remoting closes (<see cref="RemoteActorSystem.TerminateAsync"/>).</summary>
    public static Task StopAsync(ActorSystem system) => RemoteActorSystem.TerminateAsync(system);
}
