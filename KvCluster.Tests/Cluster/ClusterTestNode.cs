using System.Collections.Concurrent;
using KvCluster.Actors;
using KvCluster.Actors.Cluster;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Tests.Cluster;

/// <summary>Records every cluster event it receives.</summary>
internal sealed class ClusterEventRecorder : ReceiveActor
{
    public ClusterEventRecorder(ConcurrentQueue<object> events)
    {
        ReceiveAny(events.Enqueue);
    }
}

/// <summary>One remoting-enabled actor system on a loopback ephemeral port, with cluster membership.</summary>
internal sealed class ClusterTestNode : IAsyncDisposable
{
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(20);

    private bool _stopped;

    private ClusterTestNode(ActorSystem system, KvCluster.Actors.Cluster.Cluster cluster)
    {
        System = system;
        Cluster = cluster;
        Recorder = system.ActorOf(Props.Create(() => new ClusterEventRecorder(Events)), "events");
        cluster.Subscribe(Recorder, typeof(IClusterDomainEvent));
    }

    public ActorSystem System { get; }

    public KvCluster.Actors.Cluster.Cluster Cluster { get; }

    public IActorRef Recorder { get; }

    public ConcurrentQueue<object> Events { get; } = new();

    public RemoteAddress Address => Cluster.SelfAddress;

    /// <summary>Settings fast enough for tests on a loaded 2-core machine, still generous.</summary>
    public static ClusterSettings FastSettings(params string[] seeds) => new()
    {
        SeedNodes = [.. seeds],
        Roles = ["kv"],
        GossipInterval = TimeSpan.FromMilliseconds(100),
        HeartbeatInterval = TimeSpan.FromMilliseconds(100),
        AcceptableHeartbeatPause = TimeSpan.FromMilliseconds(1500),
        SeedNodeTimeout = TimeSpan.FromMilliseconds(500),
        RetryUnsuccessfulJoinAfter = TimeSpan.FromMilliseconds(300),
    };

    public static async Task<ClusterTestNode> StartAsync(
        Func<int, ClusterSettings> settingsForPort,
        string system = "kvtest",
        string clusterName = "akkakv",
        int port = 0)
    {
        var remoteSettings = new RemoteSettings
        {
            SystemName = system,
            Port = port,
            ClusterName = clusterName,
            HeartbeatInterval = TimeSpan.FromMilliseconds(100),
            IdleTimeout = TimeSpan.FromSeconds(3),
            HandshakeTimeout = TimeSpan.FromSeconds(2),
            ReconnectBackoffMin = TimeSpan.FromMilliseconds(50),
            ReconnectBackoffMax = TimeSpan.FromMilliseconds(300),
        };
        var actorSystem = await RemoteActorSystem.CreateAsync(remoteSettings);
        var bound = RemoteExtension.Get(actorSystem).Address;
        var cluster = KvCluster.Actors.Cluster.Cluster.Start(actorSystem, settingsForPort(bound.Port));
        return new ClusterTestNode(actorSystem, cluster);
    }

    /// <summary>Starts a first seed that lists itself: it forms a new cluster.</summary>
    public static Task<ClusterTestNode> StartFirstSeedAsync(Func<ClusterSettings, ClusterSettings>? configure = null) =>
        StartAsync(port => Configure(FastSettings($"kv://kvtest@127.0.0.1:{port}"), configure));

    /// <summary>Starts a node that joins through <paramref name="seed"/>.</summary>
    public static Task<ClusterTestNode> StartJoiningAsync(ClusterTestNode seed, Func<ClusterSettings, ClusterSettings>? configure = null) =>
        StartAsync(_ => Configure(FastSettings(seed.Address.ToString()), configure));

    public int UpCount => Cluster.State.Members.Count(m => m.Status == MemberStatus.Up);

    public bool HasEvent<T>(Func<T, bool> predicate) => Events.OfType<T>().Any(predicate);

    public static async Task AwaitAsync(Func<bool> condition, string what, TimeSpan? timeout = null, params ClusterTestNode[] dump)
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

    /// <summary>Stops the node abruptly, as if its process died: no goodbye on the wire.</summary>
    public async Task CrashAsync()
    {
        _stopped = true;
        await RemoteExtension.Get(System).StopAsync(TimeSpan.Zero);
        await System.Terminate();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await RemoteActorSystem.TerminateAsync(System);
        }
    }

    private static ClusterSettings Configure(ClusterSettings settings, Func<ClusterSettings, ClusterSettings>? configure) =>
        configure?.Invoke(settings) ?? settings;
}
