using Akka.Actor;
using Google.Protobuf;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Raft.Persistence;
using KvCluster.Raft.Serialization;
using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>
/// A KV node assembled from the existing parts: an Akka actor system on the spec's port (Akka.Remote through the
/// throttler, <see cref="NodeStartInfo.AkkaConfig"/>), the Raft journal (Akka.Persistence.Sql on SQLite in WAL mode,
/// synchronous=FULL, so every acknowledged append is fsynced) in the node's data directory, the Raft wire serializer,
/// and a RaftActor named <c>raft</c> over a <see cref="KvStateMachineAdapter"/>, whose peers are the other members'
/// <c>/user/raft</c> over TCP. Client requests are asked of the RaftActor inside this node's system, as a
/// co-located endpoint would.
/// </summary>
internal sealed class RaftKvNode : IKvNode
{
    private IActorRef _raft = ActorRefs.Nobody;
    private volatile KvStateMachineAdapter? _machine;
    private volatile bool _down;

    private RaftKvNode(RoleName role, ulong nodeId, ActorSystem system)
    {
        Role = role;
        NodeId = nodeId;
        System = system;
    }

    public RoleName Role { get; }

    public ulong NodeId { get; }

    public ActorSystem System { get; }

    public Address Address => MultiNodeSystems.AddressOf(System);

    /// <summary>Starts a node from <paramref name="info"/>; returns once its RaftActor finished replaying the journal.</summary>
    public static async Task<RaftKvNode> StartAsync(NodeStartInfo info, CancellationToken cancellationToken)
    {
        var tick = TimeSpan.FromMilliseconds(info.GetInt(RaftKvNodeFactory.TickIntervalMs, 25));
        var raft = new RaftConfig
        {
            NodeId = (ulong)info.Self.Index,
            Voters = info.Members.Select(m => (ulong)m.Index).ToArray(),
            HeartbeatIntervalTicks = info.GetInt(RaftKvNodeFactory.HeartbeatTicks, 1),
            ElectionTimeoutMinTicks = info.GetInt(RaftKvNodeFactory.ElectionMinTicks, 10),
            ElectionTimeoutMaxTicks = info.GetInt(RaftKvNodeFactory.ElectionMaxTicks, 20),
            PreVote = info.Get(RaftKvNodeFactory.PreVote, "true") == "true",
            CheckQuorum = info.Get(RaftKvNodeFactory.CheckQuorum, "true") == "true",
        };

        var own = RaftWireSerializer.Config.WithFallback(RaftJournalConfig.Build(info.DataDirectory));
        var system = await MultiNodeSystems.CreateSystemAsync(info, own, cancellationToken);
        try
        {
            var node = new RaftKvNode(info.Role, raft.NodeId, system);
            var peers = info.Members.Where(m => m != info.Self).ToDictionary(
                m => (ulong)m.Index,
                m => (IActorRef)((ExtendedActorSystem)system).Provider.ResolveActorRef($"{m.Address}/user/raft"));
            var settings = new RaftActorSettings
            {
                Raft = raft,
                TickInterval = tick,
                StateMachineFactory = () => node._machine = new KvStateMachineAdapter(),
            };
            node._raft = system.ActorOf(KvCluster.Raft.Actor.RaftActor.Props(settings, peers), "raft");
            while ((await node.StatusAsync(TimeSpan.FromSeconds(5)))?.Recovering != false)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await Task.Delay(10, cancellationToken);
            }

            return node;
        }
        catch
        {
            await MultiNodeSystems.CrashAsync(system);
            throw;
        }
    }

    public async Task<KvReply> ProposeAsync(KvCommand command, TimeSpan timeout)
    {
        if (_down)
        {
            return KvReply.Down(Role);
        }

        var reply = await AskAsync(new Propose(command.ToByteArray()), timeout);
        return reply switch
        {
            ProposeApplied applied => new KvReply(KvReplyKind.Applied, KvResult.Parser.ParseFrom(applied.Result.Span), applied.Index),
            NotLeader notLeader => new KvReply(KvReplyKind.NotLeader, LeaderHint: notLeader.LeaderHint, Reason: notLeader.Reason),
            ProposeDropped dropped => new KvReply(KvReplyKind.Unknown, Reason: dropped.Reason),
            _ => new KvReply(KvReplyKind.Unknown, Reason: $"no answer from {Role} within {timeout.TotalSeconds:0.#} s"),
        };
    }

    public async Task<KvReply> ReadAsync(GetRequest get, TimeSpan timeout)
    {
        if (_down)
        {
            return KvReply.Down(Role);
        }

        var reply = await AskAsync(new ReadIndex(new KvCommand { Get = get }.ToByteArray()), timeout);
        return reply switch
        {
            ReadIndexReply read => new KvReply(KvReplyKind.Applied, KvResult.Parser.ParseFrom(read.Result.Span), read.Index),
            NotLeader notLeader => new KvReply(KvReplyKind.NotLeader, LeaderHint: notLeader.LeaderHint, Reason: notLeader.Reason),
            ProposeDropped dropped => new KvReply(KvReplyKind.Rejected, Reason: dropped.Reason), // a lost read changed nothing
            _ => new KvReply(KvReplyKind.Unknown, Reason: $"no answer from {Role} within {timeout.TotalSeconds:0.#} s"),
        };
    }

    public Task<KvResult?> LocalGetAsync(string key) =>
        Task.FromResult(_down || _machine is not { } machine ? null : machine.Get(key));

    public async Task<RaftStatus?> StatusAsync(TimeSpan timeout) => _down ? null : await AskAsync(GetRaftStatus.Instance, timeout) as RaftStatus;

    public Task CrashAsync()
    {
        _down = true;
        return MultiNodeSystems.CrashAsync(System);
    }

    public Task StopAsync()
    {
        _down = true;
        return MultiNodeSystems.StopAsync(System);
    }

    /// <summary>Asks the RaftActor; null on timeout. The timeout is a token, not the system scheduler, so it still fires
    /// when the system terminates underneath the request.</summary>
    private async Task<object?> AskAsync(object message, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            return await _raft.Ask<object>(message, timeout + TimeSpan.FromSeconds(1), cancel.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or AskTimeoutException || System.WhenTerminated.IsCompleted)
        {
            return null;
        }
    }
}

/// <summary>
/// Starts <see cref="RaftKvNode"/>s. Configuration keys (all optional): <see cref="TickIntervalMs"/> (default 25),
/// <see cref="ElectionMinTicks"/> / <see cref="ElectionMaxTicks"/> (10 / 20), <see cref="HeartbeatTicks"/> (1),
/// <see cref="PreVote"/> and <see cref="CheckQuorum"/> (<c>true</c> / <c>false</c>, default true).
/// </summary>
internal sealed class RaftKvNodeFactory : IMultiNodeFactory<IKvNode>
{
    public const string TickIntervalMs = "raft.tick-interval-ms";
    public const string ElectionMinTicks = "raft.election-timeout-min-ticks";
    public const string ElectionMaxTicks = "raft.election-timeout-max-ticks";
    public const string HeartbeatTicks = "raft.heartbeat-interval-ticks";
    public const string PreVote = "raft.pre-vote";
    public const string CheckQuorum = "raft.check-quorum";

    public async Task<IKvNode> StartAsync(NodeStartInfo info, CancellationToken cancellationToken) => await RaftKvNode.StartAsync(info, cancellationToken);
}
