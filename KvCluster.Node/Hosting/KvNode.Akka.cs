using System.Globalization;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using KvCluster.Client;
using KvCluster.Client.Serialization;
using KvCluster.Raft.Persistence;
using KvCluster.Raft.Serialization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Hosting;

public sealed partial class KvNode
{
    /// <summary>
    /// Akka.Remote's largest frame, and the socket buffers: an AppendEntries batch or an InstallSnapshot chunk exceeds
    /// the 128 KB default (a value may be 3 MiB: <see cref="NodeOptions.MaxValueBytes"/>).
    /// </summary>
    internal const long RemotingFrameBytes = 4 * 1024 * 1024;

    /// <summary>The cluster role of every AkkaKv node (the receptionist runs only on it; the lighthouse has its own role).</summary>
    public const string KvRole = "kv";

    /// <summary>
    /// Builds the node's Generic Host: Akka.Hosting's <c>AddAkka</c> with remoting, clustering (split-brain resolver
    /// keep-majority), pub-sub, the cluster client receptionist, both serializers, the Raft journal and Akka's log routed
    /// into <paramref name="loggerFactory"/>. The host has no console lifetime: <see cref="NodeProgram"/> owns the signals.
    /// </summary>
    private static IHost BuildHost(NodeOptions options, IReadOnlyDictionary<ulong, KvEndpoint> members, NodeJournal journal, ILoggerFactory loggerFactory, KvNodeHooks hooks)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Services.Replace(ServiceDescriptor.Singleton(loggerFactory));
        builder.Services.Replace(ServiceDescriptor.Singleton<IHostLifetime, NodeHostLifetime>());
        builder.Services.AddAkka(options.SystemName, (akka, _) => ConfigureAkka(akka, options, members, journal, loggerFactory, hooks));
        return builder.Build();
    }

    /// <summary>The node's Akka configuration, in code; HOCON only for what the hosting packages do not cover.</summary>
    internal static void ConfigureAkka(AkkaConfigurationBuilder akka, NodeOptions options, IReadOnlyDictionary<ulong, KvEndpoint> members, NodeJournal journal, ILoggerFactory loggerFactory, KvNodeHooks hooks)
    {
        // Akka's log goes into Microsoft.Extensions.Logging through NodeAkkaLogger (Akka.Hosting's LoggerFactoryLogger
        // with a category per class, and a client's departure at Debug).
        akka.AddSetup(new NodeLoggingSetup(loggerFactory));
        akka.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLogger<NodeAkkaLogger>();
        });
        akka.WithRemoting(new RemoteOptions
        {
            HostName = options.EffectiveBindHost ?? options.Host,
            Port = options.Port,
            PublicHostName = options.EffectiveBindHost is null ? null : options.Host,
            MaxFrameSize = RemotingFrameBytes,
            SendBufferSize = RemotingFrameBytes,
            ReceiveBufferSize = RemotingFrameBytes,
        });
        akka.WithClustering(new ClusterOptions
        {
            SeedNodes = [.. SeedsOf(options, members, hooks.Rejoining)],
            // A member announces its etcd client port as a role, so that MemberList on any node shows its client URL.
            Roles = Etcd.EtcdClusterService.ClientPortRole(options.ClientPort) is { } clientRole ? [KvRole, clientRole] : [KvRole],
            // Keep-majority: the side of a partition with most members stays, the other is downed (and restarts as a
            // new incarnation); docs/OPERATIONS.md, "Split-brain resolver and downed nodes", says why.
            SplitBrainResolver = new KeepMajorityOption(),
        });
        akka.WithDistributedPubSub(string.Empty);
        akka.WithClusterClientReceptionist("receptionist", KvRole);
        akka.WithCustomSerializer(RaftWireSerializer.SerializerName, RaftWireSerializer.BoundTypes, system => new RaftWireSerializer(system));
        akka.WithCustomSerializer(KvProtocolSerializer.Name, KvProtocolSerializer.BoundTypes, system => new KvProtocolSerializer(system));
        akka.AddHocon(journal.Hocon, HoconAddMode.Prepend);
        akka.AddSetup(journal.DataOptions);
        akka.AddHocon(NodeHocon(options), HoconAddMode.Prepend);
        if (!string.IsNullOrWhiteSpace(hooks.ExtraHocon))
        {
            akka.AddHocon(ConfigurationFactory.ParseString(hooks.ExtraHocon), HoconAddMode.Prepend);
        }
    }

    /// <summary>
    /// The seed nodes: <see cref="NodeOptions.Seeds"/>, else the Raft group's members, lowest id first (Akka's rule: the
    /// first seed of its own list forms the cluster, the others join it), so a static group also forms one cluster. A
    /// rejoining incarnation leaves itself out: it must join the cluster that downed it, never found one of its own.
    /// </summary>
    internal static IReadOnlyList<string> SeedsOf(NodeOptions options, IReadOnlyDictionary<ulong, KvEndpoint> members, bool rejoining)
    {
        var configured = options.SeedList();
        var seeds = configured.Count > 0 ? configured : [.. members.OrderBy(m => m.Key).Select(m => options.AddressOf(m.Value))];
        if (rejoining)
        {
            var self = options.AddressOf(options.Endpoint);
            var others = seeds.Where(s => s != self).ToArray();
            return others.Length > 0 ? others : seeds;
        }

        return seeds;
    }

    /// <summary>
    /// Remoting under the throttler adapter, for the fault palette. The throttler hides a dropped TCP connection until
    /// the transport failure detector gives up (120 s by default), so a peer killed with SIGKILL and restarted would
    /// stay unreachable for two minutes: with fault injection the detector gives up after 3 s.
    /// </summary>
    private const string FaultInjectionHocon = """
        dot-netty.tcp.applied-adapters = [trttl]
        transport-failure-detector {
          heartbeat-interval = 1s
          acceptable-heartbeat-pause = 3s
        }
        """;

    /// <summary>What Akka.Hosting has no option for.</summary>
    private static Config NodeHocon(NodeOptions options)
    {
        var drain = Math.Max(1000, options.ShutdownTimeoutMs + 1000).ToString(CultureInfo.InvariantCulture);
        var hocon = $$"""
            akka.remote {
              # A kv client (ClusterClient) is not a cluster member; its system leaving is normal, not a warning.
              # Peers' real problems stay visible through Akka.Cluster (unreachable members, downing).
              log-remote-lifecycle-events = off
              {{(options.FaultInjection ? FaultInjectionHocon : string.Empty)}}
            }
            # NodeProgram owns SIGTERM and Ctrl-C and stops the node in order; Akka must not start a second shutdown.
            akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
            # Keep-majority as the lighthouse configures it (lighthouse/ClusterDefaults.cs): every member decides alike.
            akka.cluster.split-brain-resolver {
              stable-after = 20s
              down-all-when-unstable = on
            }
            akka.coordinated-shutdown.phases {
              service-unbind.timeout = {{drain}}ms
              service-requests-done.timeout = {{drain}}ms
              service-stop.timeout = {{drain}}ms
            }
            """;
        return ConfigurationFactory.ParseString(hocon);
    }

    /// <summary>The Raft journal's configuration: the plugins' HOCON and linq2db's options for their connections
    /// (<see cref="RaftJournalConfig.DataOptionsSetup"/>).</summary>
    internal sealed record NodeJournal(Config Hocon, Akka.Actor.Setup.Setup DataOptions);

    /// <summary>The Raft journal's configuration; opening the file here turns a corrupted one into a named data error.</summary>
    private static NodeJournal JournalConfig(NodeOptions options, string dataDir)
    {
        var journalOptions = new RaftJournalOptions();
        var file = RaftJournalConfig.DatabasePath(dataDir, journalOptions);
        try
        {
            return new NodeJournal(RaftJournalConfig.Build(dataDir, journalOptions), RaftJournalConfig.DataOptionsSetup(dataDir, journalOptions));
        }
        catch (Exception e) when (e is SqliteException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new NodeDataException($"The journal {file} cannot be used ({e.Message}); it is left untouched. Restore it from a backup, or move the directory aside and start this node with a new --node-id and --join.", e);
        }
    }

    /// <summary>A host lifetime that ignores the console: the node's signals are handled by <see cref="NodeProgram"/>.</summary>
    private sealed class NodeHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
