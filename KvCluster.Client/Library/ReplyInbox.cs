using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using KvCluster.Client.Protocol;

namespace KvCluster.Client;

/// <summary>
/// The one long-lived sender of every request a <see cref="KvClient"/> sends, which correlates answers by
/// <see cref="KvRequest.RequestId"/>.
/// <para>
/// Why not Ask: an Ask sends from a new temporary actor every time, and a node's ClusterClientReceptionist starts a
/// response-tunnel actor for every distinct sender it sees (kept for its 30 s receive timeout), whose Props Akka
/// builds from an expression that it compiles with the JIT each time. Profiled on the leader under 1,000 clients
/// (bench/leader-cpu.sh, docs/BENCHMARKS.md), that cost about three quarters of the node's CPU. With one sender
/// per client, each node keeps one tunnel for it.
/// </para>
/// </summary>
internal sealed class ReplyInbox
{
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<KvResponse>> _waiting = new();
    private long _nextId;

    public ReplyInbox(ActorSystem system, string name)
    {
        Actor = system.ActorOf(Props.Create(typeof(InboxActor), this), name);
    }

    /// <summary>The sender of the requests.</summary>
    public IActorRef Actor { get; }

    /// <summary>How many requests wait for their answer.</summary>
    public int Waiting => _waiting.Count;

    /// <summary>
    /// Sends <paramref name="request"/> (its id set here) to the router through <paramref name="clusterClient"/> and
    /// waits for its answer.
    /// </summary>
    /// <exception cref="TimeoutException">No answer within <paramref name="wait"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public async Task<KvResponse> SendAsync(IActorRef clusterClient, string routerPath, KvRequest request, TimeSpan wait, CancellationToken cancellationToken)
    {
        var id = (ulong)Interlocked.Increment(ref _nextId);
        request.RequestId = id;
        var answer = new TaskCompletionSource<KvResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[id] = answer;
        try
        {
            clusterClient.Tell(new ClusterClient.Send(routerPath, request, localAffinity: true), Actor);
            return await answer.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _waiting.TryRemove(id, out _);
        }
    }

    /// <summary>An answer arrived; one nobody waits for any more (timed out, cancelled) is dropped.</summary>
    private void Deliver(KvResponse response)
    {
        if (_waiting.TryRemove(response.RequestId, out var answer))
        {
            answer.TrySetResult(response);
        }
    }

    /// <summary>Receives the answers of the requests it sent.</summary>
    private sealed class InboxActor : UntypedActor
    {
        private readonly ReplyInbox _inbox;

        public InboxActor(ReplyInbox inbox)
        {
            _inbox = inbox;
        }

        protected override void OnReceive(object message)
        {
            if (message is KvResponse response)
            {
                _inbox.Deliver(response);
            }
            else
            {
                Unhandled(message);
            }
        }
    }
}
