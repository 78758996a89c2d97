using System.Collections.Immutable;
using KvCluster.Actors.Cluster.Protocol;
using KvCluster.Actors.Remote.Transport;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Cluster;

/// <summary>
/// The cluster daemon (<c>/system/cluster</c>): owns this node's gossip state and runs the
/// membership protocol. Behaviours: <see cref="Uninitialized"/> → <see cref="JoiningSeeds"/> →
/// <see cref="Member"/> → <see cref="Removed"/>.
/// </summary>
/// <remarks>
/// Seed-node join, scenario by scenario:
/// <list type="number">
/// <item>The node sends InitJoin to every seed but itself, again every
/// <see cref="ClusterSettings.RetryUnsuccessfulJoinAfter"/>. A seed that is a member answers
/// InitJoinAck; one that is not answers InitJoinNack.</item>
/// <item>On the first InitJoinAck of a round the node sends Join to that seed, which adds it as
/// Joining and answers Welcome with its gossip; the node adopts it and is a member.</item>
/// <item>If the node is the FIRST of its own seed list and no seed acknowledged within
/// <see cref="ClusterSettings.SeedNodeTimeout"/>, it forms the cluster by joining itself. Only the
/// first seed may do so, so two seeds started together cannot form two clusters.</item>
/// <item>A node of another cluster name never gets an answer: remoting refuses its handshake
/// (counted in <see cref="RemoteCounters.HandshakesRejected"/>). The joiner logs a warning every
/// few rounds naming the seeds and the likely causes, and keeps trying.</item>
/// <item>A node with another actor-system name gets InitJoinNack with the reason, which it logs as
/// a warning; the seed logs and counts the refusal (<see cref="Cluster.RefusedJoins"/>) and never
/// admits it, even if it sends Join directly.</item>
/// </list>
/// </remarks>
internal sealed partial class ClusterDaemon : ReceiveActor
{
    private const string RetryJoinTimer = "retry-join";
    private const string SeedTimeoutTimer = "seed-timeout";
    private const string GossipTimer = "gossip";
    private const string HeartbeatTimer = "heartbeat";

    private readonly Cluster _cluster;
    private readonly ClusterSettings _settings;
    private readonly UniqueAddress _self;
    private readonly ImmutableSortedSet<string> _roles;
    private readonly Random _random = new();
    private readonly List<(IActorRef Subscriber, ImmutableArray<Type> Types)> _subscribers = [];
    private ImmutableArray<RemoteAddress> _seeds = [];
    private int _joinRounds;
    private bool _joinSentThisRound;

    public ClusterDaemon(Cluster cluster)
    {
        _cluster = cluster;
        _settings = cluster.Settings;
        _self = cluster.SelfUniqueAddress;
        _roles = [.. _settings.Roles];
        Uninitialized();
    }

    /// <summary>Starts joining the given seeds.</summary>
    internal sealed record JoinSeedNodesCommand(ImmutableArray<RemoteAddress> Seeds);

    /// <summary>Subscribes to events of the given types.</summary>
    internal sealed record SubscribeCommand(IActorRef Subscriber, ImmutableArray<Type> Types);

    /// <summary>Removes a subscription.</summary>
    internal sealed record UnsubscribeCommand(IActorRef Subscriber);

    /// <summary>Graceful leave of the member at the address.</summary>
    internal sealed record LeaveCommand(RemoteAddress Address);

    /// <summary>Marks the member at the address Down.</summary>
    internal sealed record DownCommand(RemoteAddress Address);

    private sealed record RetryJoinTick
    {
        public static readonly RetryJoinTick Instance = new();
    }

    private sealed record SeedTimeoutTick
    {
        public static readonly SeedTimeoutTick Instance = new();
    }

    private sealed record GossipTick
    {
        public static readonly GossipTick Instance = new();
    }

    private sealed record HeartbeatTick
    {
        public static readonly HeartbeatTick Instance = new();
    }

    private long NowMs => Context.System.Scheduler.Now.ToUnixTimeMilliseconds();

    private void Uninitialized()
    {
        ReceiveCommon();
        Receive<JoinSeedNodesCommand>(cmd => StartJoining(cmd.Seeds));
        Receive<InitJoin>(_ => Sender.Tell(new InitJoinNack { Address = _self.Address.ToString() }, Self));
        Receive<LeaveCommand>(cmd => Log.LogWarning("Cannot leave {Address}: this node is not a cluster member.", cmd.Address));
        Receive<DownCommand>(cmd => Log.LogWarning("Cannot down {Address}: this node is not a cluster member.", cmd.Address));
    }

    private void StartJoining(ImmutableArray<RemoteAddress> seeds)
    {
        if (seeds.IsEmpty)
        {
            Log.LogWarning("JoinSeedNodes was called with no seed nodes; this node stays out of any cluster.");
            return;
        }

        _seeds = seeds;
        _joinRounds = 0;
        Become(JoiningSeeds);
        if (seeds.Length == 1 && seeds[0] == _self.Address)
        {
            // The only seed is this node: nobody else can hold the cluster.
            JoinSelf();
            return;
        }

        SendInitJoins();
        Timers.StartPeriodicTimer(RetryJoinTimer, RetryJoinTick.Instance, _settings.RetryUnsuccessfulJoinAfter);
        if (seeds[0] == _self.Address)
        {
            Timers.StartSingleTimer(SeedTimeoutTimer, SeedTimeoutTick.Instance, _settings.SeedNodeTimeout);
        }
    }

    private void JoiningSeeds()
    {
        ReceiveCommon();
        IgnoreJoinCommand();
        Receive<InitJoin>(_ => Sender.Tell(new InitJoinNack { Address = _self.Address.ToString() }, Self));
        Receive<InitJoinNack>(nack =>
        {
            if (!string.IsNullOrEmpty(nack.Reason))
            {
                Log.LogWarning("Seed {Seed} refuses this node: {Reason}.", nack.Address, nack.Reason);
            }
        });
        Receive<InitJoinAck>(ack =>
        {
            if (_joinSentThisRound || !RemoteAddress.TryParse(ack.Address, out var seed))
            {
                return;
            }

            _joinSentThisRound = true;
            Timers.Cancel(SeedTimeoutTimer);
            var join = new Join { Node = Gossip.ToProto(_self) };
            join.Roles.AddRange(_roles);
            SendTo(seed, join);
            Log.LogDebug("Seed {Seed} accepts joins; sent Join.", seed);
        });
        Receive<Welcome>(welcome => Guarded("Welcome", () => OnWelcome(welcome)));
        Receive<RetryJoinTick>(_ =>
        {
            _joinRounds++;
            if (_joinRounds % 5 == 0)
            {
                Log.LogWarning(
                    "No seed node of [{Seeds}] has accepted this node after {Rounds} rounds. Check that the seeds run, that their addresses are right, and that they share this node's system name and cluster name (remoting refuses handshakes from another cluster).",
                    string.Join(", ", _seeds),
                    _joinRounds);
            }

            SendInitJoins();
        });
        Receive<SeedTimeoutTick>(_ =>
        {
            if (!_joinSentThisRound)
            {
                Log.LogInformation("No other seed answered within {Timeout}; this first seed forms a new cluster.", _settings.SeedNodeTimeout);
                JoinSelf();
            }
        });
        Receive<LeaveCommand>(cmd => Log.LogWarning("Cannot leave {Address}: this node has not joined yet.", cmd.Address));
        Receive<DownCommand>(cmd => Log.LogWarning("Cannot down {Address}: this node has not joined yet.", cmd.Address));
    }

    private void SendInitJoins()
    {
        _joinSentThisRound = false;
        foreach (var seed in _seeds)
        {
            if (seed != _self.Address)
            {
                SendTo(seed, new InitJoin { From = Gossip.ToProto(_self) });
            }
        }
    }

    private void OnWelcome(Welcome welcome)
    {
        var gossip = Gossip.FromProto(welcome.Gossip ?? throw new FormatException("Welcome lacks its gossip."));
        if (gossip.Get(_self) is not { Status: MemberStatus.Joining or MemberStatus.Up })
        {
            Log.LogWarning("Ignoring a Welcome from {From} whose gossip does not hold this node as a member.", Gossip.FromProto(welcome.From));
            return;
        }

        Log.LogInformation("Joined the cluster through {From}.", Gossip.FromProto(welcome.From));
        BecomeMember(gossip.WithSeen([_self]));
    }

    private void JoinSelf()
    {
        var gossip = Gossip.Empty.WithMember(new Member(_self, MemberStatus.Joining, _roles, 0)).SeenOnlyBy(_self);
        BecomeMember(gossip);
    }

    private void BecomeMember(Gossip gossip)
    {
        Timers.Cancel(RetryJoinTimer);
        Timers.Cancel(SeedTimeoutTimer);
        Become(Member);
        Timers.StartPeriodicTimer(GossipTimer, GossipTick.Instance, _settings.GossipInterval);
        Timers.StartPeriodicTimer(HeartbeatTimer, HeartbeatTick.Instance, _settings.HeartbeatInterval);
        Update(gossip);
    }

    private void Removed()
    {
        ReceiveCommon();
        Receive<InitJoin>(_ => Sender.Tell(new InitJoinNack { Address = _self.Address.ToString() }, Self));
        ReceiveAny(_ => { });
    }

    private void ReceiveCommon()
    {
        Receive<SubscribeCommand>(cmd =>
        {
            cmd.Subscriber.Tell(_cluster.State, Self);
            _subscribers.RemoveAll(s => s.Subscriber.Equals(cmd.Subscriber));
            _subscribers.Add((cmd.Subscriber, cmd.Types));
            Context.Watch(cmd.Subscriber);
        });
        Receive<UnsubscribeCommand>(cmd =>
        {
            _subscribers.RemoveAll(s => s.Subscriber.Equals(cmd.Subscriber));
            Context.Unwatch(cmd.Subscriber);
        });

        // A stopped subscriber is dropped, so the list does not grow with dead actors.
        Receive<Terminated>(t => _subscribers.RemoveAll(s => s.Subscriber.Equals(t.ActorRef)));
    }

    private void IgnoreJoinCommand() =>
        Receive<JoinSeedNodesCommand>(_ => Log.LogDebug("Ignoring JoinSeedNodes: already joining or joined."));

    private void SendTo(RemoteAddress to, object message) =>
        Context.ActorSelection($"{to}/system/{Cluster.DaemonName}").Tell(message, Self);

    /// <summary>Runs a handler of a network message; malformed content is logged and dropped
    /// instead of restarting the daemon (which would lose the membership state).</summary>
    private void Guarded(string what, Action handler)
    {
        try
        {
            handler();
        }
        catch (FormatException ex)
        {
            Log.LogWarning("Dropped a malformed {Message}: {Problem}", what, ex.Message);
        }
    }
}
