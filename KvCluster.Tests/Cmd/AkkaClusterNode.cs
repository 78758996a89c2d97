using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using ClusterMembership = Akka.Cluster.Cluster;

namespace KvCluster.Tests.Cmd;

/// <summary>Records every cluster event it receives.</summary>
internal sealed class ClusterEventRecorder : ReceiveActor
{
    public ClusterEventRecorder(ConcurrentQueue<object> events)
    {
        ReceiveAny(events.Enqueue);
    }
}

/// <summary>
/// One Akka.Cluster member on a loopback ephemeral port (role <c>kv</c>), with timings fast enough
/// for a loaded 2-core machine and no automatic downing, so every Down in a spec is the spec's own.
/// </summary>
internal sealed class AkkaClusterNode : IAsyncDisposable
{
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    private bool _stopped;

    private AkkaClusterNode(ActorSystem system)
    {
        System = system;
        Cluster = ClusterMembership.Get(system);
        Recorder = system.ActorOf(Props.Create(() => new ClusterEventRecorder(Events)), "events");
        Cluster.Subscribe(Recorder, ClusterEvent.InitialStateAsEvents, typeof(ClusterEvent.IClusterDomainEvent));
    }

    public ActorSystem System { get; }

    public ClusterMembership Cluster { get; }

    public IActorRef Recorder { get; }

    public ConcurrentQueue<object> Events { get; } = new();

    public Address Address => Cluster.SelfAddress;

    public int UpCount => Cluster.State.Members.Count(m => m.Status == MemberStatus.Up);

    /// <summary>The HOCON of a member that joins <paramref name="seeds"/> (none: it waits for a join command).</summary>
    public static Config FastConfig(params string[] seeds) => ConfigurationFactory.ParseString($$"""
        akka {
          actor.provider = cluster
          remote.dot-netty.tcp {
            hostname = 127.0.0.1
            port = 0
          }
          cluster {
            roles = [kv]
            seed-nodes = [{{string.Join(", ", seeds.Select(s => $"\"{s}\""))}}]
            downing-provider-class = ""
            gossip-interval = 200ms
            leader-actions-interval = 200ms
            unreachable-nodes-reaper-interval = 200ms
            periodic-tasks-initial-delay = 100ms
            seed-node-timeout = 1s
            retry-unsuccessful-join-after = 500ms
            failure-detector {
              heartbeat-interval = 200ms
              acceptable-heartbeat-pause = 2s
            }
          }
          # A crash is Terminate without the leave that coordinated shutdown would run.
          coordinated-shutdown.run-by-actor-system-terminate = off
        }
        """).WithFallback(PbmTestConfig.Local);

    public static Task<AkkaClusterNode> StartAsync(Config config, string system = "kvtest") =>
        Task.FromResult(new AkkaClusterNode(ActorSystem.Create(system, config)));

    /// <summary>Starts a member that joins itself: it forms a new cluster.</summary>
    public static async Task<AkkaClusterNode> StartFirstSeedAsync()
    {
        var node = await StartAsync(FastConfig());
        node.Cluster.Join(node.Address);
        return node;
    }

    /// <summary>Starts a member that joins through <paramref name="seed"/>.</summary>
    public static Task<AkkaClusterNode> StartJoiningAsync(AkkaClusterNode seed) => StartAsync(FastConfig(seed.Address.ToString()));

    public bool HasEvent<T>(Func<T, bool> predicate) => Events.OfType<T>().Any(predicate);

    public static async Task AwaitAsync(Func<bool> condition, string what, TimeSpan? timeout = null, params AkkaClusterNode[] dump)
    {
        var deadline = DateTime.UtcNow + (timeout ?? WaitTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                var details = string.Join("\n", dump.Select(n => $"{n.Address}: state={n.Cluster.State} events=[{string.Join("; ", n.Events)}]"));
                throw new TimeoutException($"Timed out after {(timeout ?? WaitTimeout).TotalSeconds} s waiting for: {what}\n{details}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Stops the node abruptly, as if its process died: no leave, the others stop hearing from it.</summary>
    public async Task CrashAsync()
    {
        _stopped = true;
        await System.Terminate();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await System.Terminate();
        }
    }
}
