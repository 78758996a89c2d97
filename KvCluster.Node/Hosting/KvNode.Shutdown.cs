using Akka;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Client;
using KvCluster.Node.Router;
using KvCluster.Raft.Actor;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Hosting;

public sealed partial class KvNode
{
    /// <summary>How long an orderly stop waits for this node's own Down mark before the cluster phases go on.</summary>
    private static readonly TimeSpan s_downSelfWait = TimeSpan.FromSeconds(2);

    private bool Aborting => Volatile.Read(ref _aborting) != 0;

    /// <summary>
    /// Adds the node's steps to Akka's CoordinatedShutdown, so every stop runs them in order, whoever starts it (SIGTERM,
    /// the split-brain resolver, a leave): service-unbind drains the router, service-stop stops the pbm host and the Raft
    /// node (after syncing its hard state), before-cluster-shutdown marks an orderly stop as Down rather than a leave.
    /// </summary>
    private void AddShutdownSteps()
    {
        var shutdown = CoordinatedShutdown.Get(System);
        var timeout = TimeSpan.FromMilliseconds(Math.Max(1, Options.ShutdownTimeoutMs));
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceUnbind, "kv-router-drain", async () =>
        {
            ClusterClientReceptionist.Get(System).UnregisterService(Router);
            if (Aborting)
            {
                return Done.Instance;
            }

            try
            {
                await Router.Ask<Drained>(StopAccepting.Instance, timeout).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                _log.LogWarning("Node {NodeId}: requests still in flight after {Timeout} ms; stopping anyway (their clients see a timeout).", NodeId, Options.ShutdownTimeoutMs);
            }

            return Done.Instance;
        });
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceUnbind, "etcd-client-port-stop", async () =>
        {
            // Stop listening on the client port; calls in flight finish (the router answers them) within Kestrel's wait.
            if (_etcd is not null)
            {
                await _etcd.StopAsync().ConfigureAwait(false);
            }

            return Done.Instance;
        });
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceStop, "kv-pbm-stop", async () =>
        {
            if (_commands is not null)
            {
                await _commands.DisposeAsync().ConfigureAwait(false);
            }

            return Done.Instance;
        });
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceStop, "kv-raft-stop", async () =>
        {
            if (!Aborting)
            {
                await SnapshotBeforeStopAsync(timeout / 2).ConfigureAwait(false);
                try
                {
                    // A batch that only moved the commit index is not synced on the answer's path: write it now, so the
                    // restarted node resumes with the commit index it had (and serves its data before it hears a leader).
                    await Raft.Ask<HardStateSynced>(SyncHardState.Instance, timeout).ConfigureAwait(false);
                }
                catch (AskTimeoutException)
                {
                    _log.LogWarning("Node {NodeId}: the Raft hard state was not synced within {Timeout} ms; stopping anyway (the restarted node re-learns its commit index from the leader).", NodeId, Options.ShutdownTimeoutMs);
                }
            }

            try
            {
                await Raft.GracefulStop(timeout).ConfigureAwait(false);
            }
            catch (TaskCanceledException)
            {
                _log.LogWarning("Node {NodeId}: the Raft node did not stop within {Timeout} ms.", NodeId, Options.ShutdownTimeoutMs);
            }

            return Done.Instance;
        });
        shutdown.AddTask(CoordinatedShutdown.PhaseBeforeClusterShutdown, "kv-down-self", DownSelfAsync);
    }

    /// <summary>
    /// Before the Raft node stops: a snapshot at everything it applied, when the log its next start would replay is worth
    /// one (<see cref="NodeOptions.SnapshotOnStopRatio"/>), so that start restores the snapshot and applies nothing after
    /// it. Bounded by <paramref name="wait"/>; stopping without it loses nothing (the journal has every entry).
    /// </summary>
    private async Task SnapshotBeforeStopAsync(TimeSpan wait)
    {
        if (_raftStopped.Task.IsCompleted)
        {
            return; // the Raft node failed and stopped already: nobody would answer
        }

        try
        {
            var done = await Raft.Ask<SnapshotBeforeStopDone>(SnapshotBeforeStop.Instance, wait).ConfigureAwait(false);
            if (done.Taken)
            {
                _log.LogInformation("Node {NodeId}: snapshot {Index} taken before stopping; the next start replays no log after it.", NodeId, done.SnapshotIndex);
            }
            else
            {
                _log.LogDebug("Node {NodeId}: no snapshot before stopping ({Reason}).", NodeId, done.Reason);
            }
        }
        catch (AskTimeoutException)
        {
            _log.LogInformation("Node {NodeId}: the snapshot before stopping was not durable within {Wait} ms; stopping without it (the next start replays the log after the previous one).", NodeId, (long)wait.TotalMilliseconds);
        }
    }

    /// <summary>
    /// An orderly stop (SIGTERM) is a restart, not a departure: the node marks itself Down instead of leaving, so the
    /// other members remove it at once and the Raft configuration keeps it (a graceful leave would remove it from the
    /// Raft group: that is what <c>cluster leave</c> is for). Skipped when the cluster already decided (downed, leaving).
    /// </summary>
    private async Task<Done> DownSelfAsync()
    {
        var cluster = Cluster.Get(System);
        if (Volatile.Read(ref _stopping) == 0
            || cluster.IsTerminated
            || cluster.SelfMember.Status is not (MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            || cluster.State.Members.Count < 2)
        {
            return Done.Instance;
        }

        cluster.Down(cluster.SelfAddress);
        var deadline = DateTime.UtcNow + s_downSelfWait;
        while (!cluster.IsTerminated && cluster.SelfMember.Status != MemberStatus.Down && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }

        return Done.Instance;
    }

    /// <summary>Completes <see cref="Exited"/> when the node stops without <see cref="StopAsync"/>, with the reason.</summary>
    private void WatchTermination()
    {
        var shutdown = CoordinatedShutdown.Get(System);
        _raftStopped.Task.ContinueWith(
            _ =>
            {
                if (Volatile.Read(ref _stopping) == 0 && shutdown.ShutdownReason is null)
                {
                    _log.LogCritical("Node {NodeId}: the Raft node stopped by itself (see the error above); the node cannot serve.", NodeId);
                    _exited.TrySetResult(NodeExitReason.Failed);
                }
            },
            TaskScheduler.Default);
        System.WhenTerminated.ContinueWith(
            _ =>
            {
                if (Volatile.Read(ref _stopping) != 0)
                {
                    return;
                }

                switch (shutdown.ShutdownReason)
                {
                    case CoordinatedShutdown.ClusterLeavingReason:
                        _log.LogInformation("Node {NodeId}: left the cluster on request (cluster leave); its actor system stopped.", NodeId);
                        _exited.TrySetResult(NodeExitReason.Left);
                        break;
                    case CoordinatedShutdown.ClusterDowningReason:
                        _log.LogWarning("Node {NodeId}: the cluster downed this node (split-brain resolver or cluster down); its actor system stopped. Its data is intact.", NodeId);
                        _exited.TrySetResult(NodeExitReason.Downed);
                        break;
                    default:
                        _log.LogCritical("Node {NodeId}: the actor system stopped unexpectedly ({Reason}).", NodeId, shutdown.ShutdownReason?.ToString() ?? "no reason");
                        _exited.TrySetResult(NodeExitReason.Failed);
                        break;
                }
            },
            TaskScheduler.Default);
    }
}
