using System.Globalization;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Remote;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// The Akka side of a multi-node node: the configuration every node starts from, and the two ways its actor system
/// ends, for <see cref="IMultiNodeFactory{TNode}"/> and <see cref="IMultiNodeHandle"/> implementations.
/// </summary>
public static class MultiNodeSystems
{
    /// <summary>
    /// The protocol of every node address: Akka's classic TCP transport under the throttler adapter
    /// (<c>applied-adapters = [trttl]</c> turns <c>akka.tcp</c> into <c>akka.trttl.tcp</c>).
    /// </summary>
    public const string Protocol = "akka.trttl.tcp";

    /// <summary>The host every node listens on.</summary>
    public const string Host = "127.0.0.1";

    /// <summary>
    /// The configuration every node starts from: the remote provider, DotNetty TCP on 127.0.0.1:<paramref name="port"/>
    /// with Akka.Remote's throttler adapter applied (the conductor's black-holes and throttles go through it, as in
    /// Akka's own TestConductor), <c>serialize-messages = on</c> (a message that cannot cross the wire fails the
    /// spec), a short retry gate so a restarted node is reached again quickly, a transport failure detector of 3 s
    /// (the throttler does not report a dropped connection upward, it relies on these heartbeats: an association
    /// whose far end died behind a black-hole is given up after 3 s instead of Akka's default 2 min; a black-hole
    /// longer than that tears associations down, as in Akka's own multi-node tests), and warnings-only logging. A node
    /// that needs Akka.Cluster sets <c>akka.actor.provider = cluster</c> in its own config in front of this one.
    /// </summary>
    /// <param name="port">The TCP port to listen on.</param>
    /// <returns>The configuration; use it as the fallback of the node's own.</returns>
    public static Config NodeConfig(int port) => ConfigurationFactory.ParseString(string.Create(CultureInfo.InvariantCulture, $$"""
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor {
            provider = remote
            serialize-messages = on
            serialize-creators = off
          }
          remote {
            log-remote-lifecycle-events = off
            retry-gate-closed-for = 200ms
            transport-failure-detector {
              heartbeat-interval = 500ms
              acceptable-heartbeat-pause = 3s
            }
            dot-netty.tcp {
              hostname = "{{Host}}"
              port = {{port}}
              applied-adapters = [trttl]
            }
          }
          coordinated-shutdown.run-by-clr-shutdown-hook = off
        }
        """));

    /// <summary>
    /// Creates a node's actor system named <see cref="NodeStartInfo.SystemName"/> on <paramref name="own"/> (may be
    /// null) over <see cref="NodeStartInfo.AkkaConfig"/>, off the caller's thread.
    /// </summary>
    /// <exception cref="Exception">Remoting did not start (for instance the port is taken: see <see cref="IsBindFailure"/>).</exception>
    public static Task<ActorSystem> CreateSystemAsync(NodeStartInfo info, Config? own = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(info);
        var config = own is null ? info.AkkaConfig : own.WithFallback(info.AkkaConfig);
        return Task.Run(() => ActorSystem.Create(info.SystemName, config), cancellationToken);
    }

    /// <summary>The address <paramref name="system"/>'s remoting listens on.</summary>
    public static Address AddressOf(ActorSystem system) => Provider(system).DefaultAddress;

    /// <summary>The remote actor ref provider of <paramref name="system"/> (its transport takes the throttler's commands).</summary>
    /// <exception cref="InvalidOperationException">The system has no remoting.</exception>
    public static IRemoteActorRefProvider Provider(ActorSystem system) =>
        ((ExtendedActorSystem)system).Provider as IRemoteActorRefProvider
        ?? throw new InvalidOperationException($"Actor system {system.Name} has no remoting: start it on NodeStartInfo.AkkaConfig.");

    /// <summary>
    /// Crash: aborts the system (<see cref="ExtendedActorSystem.Abort"/>: coordinated shutdown is skipped, so there is
    /// no cluster leave and no actor is told; actors just stop). Remoting then closes its connections, with a
    /// disassociate frame where the link is not black-holed: that frame is how the peers learn that the connection
    /// closed, since the throttler adapter swallows a bare TCP close (behind a black-hole, the peers' transport failure
    /// detector notices instead, see <see cref="NodeConfig"/>). Completes when the system has terminated. Idempotent.
    /// </summary>
    public static async Task CrashAsync(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        if (!system.WhenTerminated.IsCompleted)
        {
            ((ExtendedActorSystem)system).Abort();
        }

        await system.WhenTerminated.ConfigureAwait(false);
    }

    /// <summary>Graceful stop: <see cref="ActorSystem.Terminate"/>, which runs coordinated shutdown (a cluster member leaves first).</summary>
    public static Task StopAsync(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.Terminate();
    }

    /// <summary>True when <paramref name="error"/> says the node's port could not be bound (it may linger a moment after a crash).</summary>
    public static bool IsBindFailure(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
                || e.Message.Contains("already in use", StringComparison.OrdinalIgnoreCase)
                || e.Message.Contains("Failed to bind", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsBindFailure))
            {
                return true;
            }
        }

        return false;
    }
}
