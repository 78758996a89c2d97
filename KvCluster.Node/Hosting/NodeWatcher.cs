using Akka.Actor;

namespace KvCluster.Node.Hosting;

/// <summary>Watches one actor for the node host and completes a task when it stops (the host cannot Watch from outside).</summary>
internal sealed class NodeWatcher : ReceiveActor
{
    /// <summary>Creates the watcher; use <see cref="Props"/>.</summary>
    public NodeWatcher(IActorRef watched, TaskCompletionSource stopped)
    {
        Context.Watch(watched);
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(watched))
            {
                stopped.TrySetResult();
            }
        });
    }

    /// <summary>Props of a watcher of <paramref name="watched"/> that completes <paramref name="stopped"/>.</summary>
    public static Props Props(IActorRef watched, TaskCompletionSource stopped) =>
        Akka.Actor.Props.Create(() => new NodeWatcher(watched, stopped)).WithDeploy(Deploy.Local);
}
