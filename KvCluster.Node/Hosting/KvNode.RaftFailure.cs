using Akka.Actor;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Hosting;

/// <summary>Why the RaftActor stopped by itself, for the exit code (<see cref="NodeProgram"/>).</summary>
public sealed partial class KvNode
{
    private readonly TaskCompletionSource<Exception> _raftFailure = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// The cause the RaftActor published (<see cref="RaftNodeFailed"/>) when it stopped for good, or null: a
    /// <see cref="RaftUnrecoverableStateException"/> means the data directory's Raft state cannot be rebuilt (exit 3).
    /// </summary>
    public Exception? RaftFailure => _raftFailure.Task.IsCompletedSuccessfully ? _raftFailure.Task.Result : null;

    /// <summary>Waits (up to <paramref name="timeout"/>) for the cause of a RaftActor stop to be recorded.</summary>
    internal Task<Exception?> RaftFailureAsync(TimeSpan timeout) =>
        _raftFailure.Task.WaitAsync(timeout).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default);

    /// <summary>Subscribes to <see cref="RaftNodeFailed"/> on the event stream (before the RaftActor starts).</summary>
    private void ListenForRaftFailure()
    {
        var listener = System.ActorOf(Props.Create(() => new RaftFailureListener(_raftFailure)).WithDeploy(Deploy.Local), "raft-failure-listener");
        System.EventStream.Subscribe(listener, typeof(RaftNodeFailed));
    }

    private sealed class RaftFailureListener : ReceiveActor
    {
        public RaftFailureListener(TaskCompletionSource<Exception> failure)
        {
            Receive<RaftNodeFailed>(f => failure.TrySetResult(f.Cause));
        }
    }
}
