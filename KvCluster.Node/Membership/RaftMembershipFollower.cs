using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using KvCluster.Client;
using KvCluster.Client.Protocol;
using KvCluster.Node.Hosting;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Membership;

/// <summary>
/// Makes the Raft configuration follow the Akka.Cluster membership, on whichever node leads Raft. It follows the
/// cluster's member events (every node does, so a new Raft leader knows what happened before it led) and every
/// <see cref="RaftMembershipFollowerSettings.Interval"/> compares them with the Raft configuration, making at most one
/// change (single-server changes, Raft thesis §4.1):
/// <list type="number">
/// <item>A member with role <c>kv</c> that is Up and not in the configuration (a node started with <c>--join</c>, or one
/// that left and came back): its router names its Raft id (<see cref="GetContacts"/>); it becomes known as a peer, then
/// <see cref="AddMember"/> adds it as a learner and promotes it to voter once it has caught up (§4.2.1). A learner
/// that the log marks as to be promoted (<see cref="Members.Promoting"/>) and is still a learner, because the leader that
/// added it lost leadership or its catch-up ran out of time, is resumed the same way by whichever node leads now. A
/// learner added to stay one (etcd's <c>member add --learner</c>) is left alone.</item>
/// <item>A member that leaves gracefully (<c>cluster leave</c>: Leaving, Exiting, then Removed) and is in the
/// configuration: <see cref="RemoveMember"/> takes it out (§4.2.2; a leader that leaves removes itself and steps down).
/// An orderly stop (SIGTERM) is not a leave: the node marks itself Down and stays in the configuration.</item>
/// <item>An unreachable or downed member is never removed: that would shrink the quorum under a partition, and a downed
/// node comes back as a new incarnation with its data. An operator removes it with <c>raft remove-member</c>.</item>
/// <item>A member an operator removed with <c>raft remove-member</c> while it stays Up is not added back: the follower sees
/// its id leave the configuration without a leave and remembers that incarnation. A new incarnation (a restart) is
/// added again.</item>
/// </list>
/// Every node also tells its RaftActor which kv members joined the cluster (<see cref="PeerListening"/>: their systems
/// listen, which a restarted node's first election waits for), and answers its RaftActor's <see cref="PeerUnroutable"/>
/// (a member of the configuration it has no ref for: one added while another node led): it asks the Up members' routers for their Raft ids and registers the one
/// found, whatever the round interval.
/// The work of a round runs as a task piped back as a message; rounds never overlap (the Reconciling behaviour).
/// Raft's safety never depends on this actor: it only proposes configuration changes, which Raft commits or refuses.
/// </summary>
public sealed class RaftMembershipFollower : ReceiveActor, IWithTimers
{
    private const string TimerKey = "reconcile";

    private readonly KvNode _node;
    private readonly RaftMembershipFollowerSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Cluster _cluster = Cluster.Get(Context.System);

    /// <summary>kv members that are Up, by address (a new incarnation replaces the old one).</summary>
    private readonly Dictionary<Address, Member> _up = new();

    /// <summary>kv members that left gracefully and may still be in the Raft configuration, by address.</summary>
    private readonly HashSet<Address> _departing = new();

    /// <summary>Raft ids and endpoints learned for member addresses (kept after they leave: removal needs the id).</summary>
    private readonly Dictionary<Address, (ulong Id, KvEndpoint Endpoint)> _ids = new();

    /// <summary>Incarnations an operator removed from the Raft configuration while they stayed Up: never re-added.</summary>
    private readonly HashSet<UniqueAddress> _removedByOperator = new();

    /// <summary>The Raft configuration (voters and learners) the last round saw, or null before the first.</summary>
    private IReadOnlySet<ulong>? _lastConfig;

    /// <summary>Raft ids whose address is being looked up for the RaftActor (<see cref="PeerUnroutable"/>).</summary>
    private readonly HashSet<ulong> _resolving = new();

    /// <summary>Creates the follower; use <see cref="Props"/>.</summary>
    public RaftMembershipFollower(KvNode node, RaftMembershipFollowerSettings settings)
    {
        _node = node;
        _settings = settings;
        Idle();
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of the follower of <paramref name="node"/>.</summary>
    public static Props Props(KvNode node, RaftMembershipFollowerSettings? settings = null) =>
        Akka.Actor.Props.Create(() => new RaftMembershipFollower(node, settings ?? new RaftMembershipFollowerSettings())).WithDeploy(Deploy.Local);

    /// <inheritdoc />
    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
        Context.System.EventStream.Subscribe(Self, typeof(PeerUnroutable));
        Timers.StartPeriodicTimer(TimerKey, Reconcile.Instance, _settings.Interval);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    private void Idle()
    {
        FollowEvents();
        Receive<Reconcile>(_ =>
        {
            Become(Reconciling);
            var round = new RoundInput(
                [.. _up.Values.Where(m => !_removedByOperator.Contains(m.UniqueAddress))],
                [.. _departing],
                new Dictionary<Address, (ulong, KvEndpoint)>(_ids),
                _lastConfig);
            RoundAsync(round).PipeTo(Self);
        });
    }

    private void Reconciling()
    {
        FollowEvents();
        Receive<Reconcile>(_ => { });
        Receive<RoundDone>(done =>
        {
            foreach (var (address, id) in done.Learned)
            {
                _ids[address] = id;
            }

            foreach (var address in done.Settled)
            {
                _departing.Remove(address);
            }

            foreach (var removed in done.RemovedByOperator)
            {
                if (_removedByOperator.Add(removed))
                {
                    _log.Info("Cluster member {Address} left the Raft configuration by an operator's remove-member; it is not added back until it restarts.", removed.Address);
                }
            }

            _lastConfig = done.Config ?? _lastConfig;

            Become(Idle);
        });
    }

    private void FollowEvents()
    {
        Receive<PeerUnroutable>(m =>
        {
            if (m.NodeId == _node.NodeId && _resolving.Add(m.PeerId))
            {
                ResolveAsync(m.PeerId, [.. _up.Values], new Dictionary<Address, (ulong, KvEndpoint)>(_ids)).PipeTo(Self);
            }
        });
        Receive<PeerResolved>(resolved =>
        {
            _resolving.Remove(resolved.PeerId);
            foreach (var (address, id) in resolved.Learned)
            {
                _ids[address] = id;
            }
        });
        Receive<ClusterEvent.MemberUp>(e =>
        {
            if (e.Member.HasRole(KvNode.KvRole))
            {
                _up[e.Member.Address] = e.Member;
                _departing.Remove(e.Member.Address);
            }

            TellListening(e.Member);
        });
        Receive<ClusterEvent.MemberJoined>(e => TellListening(e.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(e => TellListening(e.Member));
        Receive<ClusterEvent.MemberLeft>(e => Depart(e.Member));
        Receive<ClusterEvent.MemberExited>(e => Depart(e.Member));
        Receive<ClusterEvent.MemberRemoved>(e =>
        {
            if (_up.TryGetValue(e.Member.Address, out var known) && known.UniqueAddress.Equals(e.Member.UniqueAddress))
            {
                _up.Remove(e.Member.Address);
            }

            _removedByOperator.Remove(e.Member.UniqueAddress);
            if (e.PreviousStatus is MemberStatus.Exiting or MemberStatus.Leaving)
            {
                Depart(e.Member);
            }
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    /// <summary>
    /// Tells the RaftActor that another kv member's system listens (it joined the cluster), so that a restarted node's
    /// first election need not wait for Akka.Cluster's heartbeats to associate the nodes (<see cref="PeerListening"/>).
    /// </summary>
    private void TellListening(Member member)
    {
        if (member.HasRole(KvNode.KvRole) && !member.Address.Equals(_cluster.SelfAddress))
        {
            _node.Raft.Tell(new PeerListening(member.Address));
        }
    }

    private void Depart(Member member)
    {
        if (!member.HasRole(KvNode.KvRole))
        {
            return;
        }

        if (_up.TryGetValue(member.Address, out var known) && known.UniqueAddress.Equals(member.UniqueAddress))
        {
            _up.Remove(member.Address);
        }

        if (_departing.Add(member.Address))
        {
            _log.Info("Cluster member {Address} is leaving gracefully; the Raft leader removes it from the configuration.", member.Address);
        }
    }

    /// <summary>One round, off the actor's thread: reads only <paramref name="round"/>; never throws.</summary>
    private async Task<RoundDone> RoundAsync(RoundInput round)
    {
        var learned = new Dictionary<Address, (ulong Id, KvEndpoint Endpoint)>();
        var settled = new List<Address>();
        var removedByOperator = new List<UniqueAddress>();
        HashSet<ulong>? inConfig = null;
        RoundDone Done() => new(learned, settled, removedByOperator, inConfig);
        try
        {
            var members = await _node.Raft.Ask<Members>(GetMembers.Instance, _settings.AskTimeout).ConfigureAwait(false);
            if (members.Recovering)
            {
                return Done();
            }

            inConfig = members.Voters.Concat(members.Learners).ToHashSet();
            var departing = round.Departing.ToHashSet();
            foreach (var member in round.Up.Where(m => !departing.Contains(m.Address)))
            {
                // In the configuration last round, out of it now, still Up and not leaving: an operator removed it.
                // Every node watches for this, not only the leader (which learned the ids when it added members), so
                // a node that leads later does not add the member back: the ids are looked up here too.
                if (round.LastConfig is { } last && await IdOfAsync(member.Address, round.Ids, learned).ConfigureAwait(false) is { } id
                    && last.Contains(id.Id) && !inConfig.Contains(id.Id))
                {
                    removedByOperator.Add(member.UniqueAddress);
                }
            }

            if (members.Leader != _node.NodeId || !members.Committed)
            {
                return Done();
            }

            var promoting = members.Promoting ?? [];
            foreach (var member in round.Up.Where(m => !removedByOperator.Contains(m.UniqueAddress)).OrderBy(m => m.Address.ToString(), StringComparer.Ordinal))
            {
                var found = await IdOfAsync(member.Address, round.Ids, learned).ConfigureAwait(false);
                if (found is not { } known || (inConfig.Contains(known.Id) && !promoting.Contains(known.Id)))
                {
                    continue;
                }

                if (inConfig.Contains(known.Id))
                {
                    // Added to become a voter, still a learner: the leader that added it lost leadership during its
                    // catch-up, or the catch-up ran out of rounds or time. The log says it is to be promoted: resume.
                    _log.Info("Cluster member {Address} (Raft node {Id}) is a learner whose promotion to voter did not finish: resuming its catch-up.", member.Address, known.Id);
                }
                else
                {
                    _log.Info("Cluster member {Address} (Raft node {Id}) is Up but not in the Raft configuration: adding it as a learner, then a voter.", member.Address, known.Id);
                }

                _node.RegisterPeer(known.Id, known.Endpoint);
                Report(await _node.Raft.Ask<object>(new AddMember(known.Id), _settings.ChangeTimeout).ConfigureAwait(false), "add", known.Id);
                inConfig = null; // changed meanwhile: the next round reads it again
                return Done();
            }

            foreach (var address in round.Departing)
            {
                var found = await IdOfAsync(address, round.Ids, learned).ConfigureAwait(false);
                if (found is not { } known || !inConfig.Contains(known.Id))
                {
                    // Unknown (never a Raft member here) or already out of the configuration: nothing left to do.
                    settled.Add(address);
                    continue;
                }

                if (members.Voters.Count == 1 && members.Voters.Contains(known.Id))
                {
                    settled.Add(address);
                    continue;
                }

                _log.Info("Cluster member {Address} (Raft node {Id}) left gracefully: removing it from the Raft configuration.", address, known.Id);
                Report(await _node.Raft.Ask<object>(new RemoveMember(known.Id), _settings.ChangeTimeout).ConfigureAwait(false), "remove", known.Id);
                inConfig = null;
                return Done();
            }
        }
        catch (Exception e)
        {
            _log.Warning("Raft membership round failed: {Reason}; retried next round.", e.Message);
            inConfig = null;
        }

        return Done();
    }

    /// <summary>
    /// Finds the Up member whose Raft id is <paramref name="peerId"/> and registers it as a peer of this node (its
    /// RaftActor and router then reach it). Off the actor's thread; never throws.
    /// </summary>
    private async Task<PeerResolved> ResolveAsync(ulong peerId, IReadOnlyList<Member> up, IReadOnlyDictionary<Address, (ulong Id, KvEndpoint Endpoint)> cache)
    {
        var learned = new Dictionary<Address, (ulong Id, KvEndpoint Endpoint)>();
        try
        {
            foreach (var member in up)
            {
                if (await IdOfAsync(member.Address, cache, learned).ConfigureAwait(false) is { } known && known.Id == peerId)
                {
                    _log.Info("Raft node {Id} is in the configuration without a route here: found it at {Address}; registered as a peer.", peerId, member.Address);
                    _node.RegisterPeer(known.Id, known.Endpoint);
                    break;
                }
            }
        }
        catch (Exception e)
        {
            _log.Info("Looking up Raft node {Id} among the cluster's members failed: {Reason}; tried again when its messages are dropped again.", peerId, e.Message);
        }

        return new PeerResolved(peerId, learned);
    }

    /// <summary>The Raft id of the member at <paramref name="address"/>: cached, this node, a configured peer, or asked.</summary>
    private async Task<(ulong Id, KvEndpoint Endpoint)?> IdOfAsync(Address address, IReadOnlyDictionary<Address, (ulong Id, KvEndpoint Endpoint)> cache, Dictionary<Address, (ulong Id, KvEndpoint Endpoint)> learned)
    {
        if (cache.TryGetValue(address, out var cached) || learned.TryGetValue(address, out cached))
        {
            return cached;
        }

        var endpoint = new KvEndpoint(address.Host ?? string.Empty, address.Port ?? 0);
        if (address.Equals(_cluster.SelfAddress))
        {
            return learned[address] = (_node.NodeId, _node.Endpoint);
        }

        var configured = _node.Members.FirstOrDefault(m => m.Value == endpoint);
        if (configured.Key != 0)
        {
            return learned[address] = (configured.Key, endpoint);
        }

        try
        {
            var router = _node.System.ActorSelection(new RootActorPath(address) / "user" / "kv-router");
            var contacts = await router.Ask<Contacts>(new GetContacts(), _settings.AskTimeout).ConfigureAwait(false);
            return learned[address] = (contacts.NodeId, endpoint);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    private void Report(object reply, string change, ulong id)
    {
        switch (reply)
        {
            case MembershipChanged changed:
                _log.Info("Raft membership: {Change} of node {Id} done at index {Index}; voters {Voters}, learners {Learners}.", change, id, changed.Index, string.Join(",", changed.Voters), string.Join(",", changed.Learners));
                break;
            case MembershipChangeFailed failed:
                _log.Warning("Raft membership: {Change} of node {Id} failed ({Failure}): {Reason}; retried next round.", change, id, failed.Failure, failed.Reason);
                break;
        }
    }

    /// <summary>The timer's message (local only).</summary>
    private sealed record Reconcile : INoSerializationVerificationNeeded
    {
        public static Reconcile Instance { get; } = new();
    }

    /// <summary>A lookup for <see cref="PeerUnroutable"/> ended (found or not), with the ids it learned. Local only.</summary>
    private sealed record PeerResolved(ulong PeerId, IReadOnlyDictionary<Address, (ulong Id, KvEndpoint Endpoint)> Learned) : INoSerializationVerificationNeeded;

    /// <summary>What a round reads: copies of the actor's state when it began.</summary>
    private sealed record RoundInput(
        IReadOnlyList<Member> Up,
        IReadOnlyList<Address> Departing,
        IReadOnlyDictionary<Address, (ulong Id, KvEndpoint Endpoint)> Ids,
        IReadOnlySet<ulong>? LastConfig);

    /// <summary>
    /// What a round learned (ids), which departures need nothing more, which incarnations an operator removed, and the
    /// configuration it saw (null when it changed it or failed: the next round reads it again). Local only.
    /// </summary>
    private sealed record RoundDone(
        IReadOnlyDictionary<Address, (ulong Id, KvEndpoint Endpoint)> Learned,
        IReadOnlyList<Address> Settled,
        IReadOnlyList<UniqueAddress> RemovedByOperator,
        IReadOnlySet<ulong>? Config) : INoSerializationVerificationNeeded;
}

/// <summary>Settings of <see cref="RaftMembershipFollower"/>.</summary>
public sealed record RaftMembershipFollowerSettings
{
    /// <summary>How often the cluster membership and the Raft configuration are compared.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Deadline of the status and contact questions of a round.</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Deadline of one configuration change (a learner's catch-up included).</summary>
    public TimeSpan ChangeTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
