using KvCluster.Actors;
using KvCluster.Actors.Cluster;
using KvCluster.Client;
using KvCluster.Client.Protocol;
using KvCluster.Node.Hosting;
using KvCluster.Raft.Actor;
using Microsoft.Extensions.Logging;
using ClusterExtension = KvCluster.Actors.Cluster.Cluster;

namespace KvCluster.Node.Membership;

/// <summary>
/// Makes the Raft configuration follow the cluster membership, on whichever node leads Raft. Every
/// <see cref="RaftMembershipFollowerSettings.Interval"/> it compares the two and makes at most one change (single-server
/// changes, Raft thesis §4.1):
/// <list type="number">
/// <item>A member with role <c>kv</c> that is Up and not in the configuration (a node started with <c>--join</c> and
/// seeds): its receptionist names its Raft id; it becomes known as a peer, then <see cref="AddMember"/> adds it as a
/// learner and promotes it to voter once it has caught up (§4.2.1).</item>
/// <item>A member that leaves gracefully (Leaving or Exiting, after <c>cluster leave</c>) and is in the configuration:
/// <see cref="RemoveMember"/> takes it out (§4.2.2; a leader that leaves removes itself and steps down).</item>
/// <item>An unreachable member is never removed: that would shrink the quorum under a partition. An operator removes
/// it with <c>raft remove-member</c>.</item>
/// </list>
/// The work of a round runs as a task piped back as a message; rounds never overlap (the Reconciling behaviour).
/// </summary>
public sealed class RaftMembershipFollower : ReceiveActor
{
    private const string TimerKey = "reconcile";

    private readonly KvNode _node;
    private readonly RaftMembershipFollowerSettings _settings;
    private readonly ILogger _log;

    /// <summary>Raft ids learned from receptionists, by member address (touched by one round at a time).</summary>
    private readonly Dictionary<string, (ulong Id, KvEndpoint Endpoint)> _ids = new();

    private RaftMembershipFollower(KvNode node, RaftMembershipFollowerSettings settings)
    {
        _node = node;
        _settings = settings;
        _log = Log;
        Idle();
    }

    /// <summary>Props of the follower of <paramref name="node"/>.</summary>
    public static Props Props(KvNode node, RaftMembershipFollowerSettings? settings = null) =>
        KvCluster.Actors.Props.Create(() => new RaftMembershipFollower(node, settings ?? new RaftMembershipFollowerSettings()));

    /// <inheritdoc />
    protected override void PreStart() => Timers.StartPeriodicTimer(TimerKey, Reconcile.Instance, _settings.Interval);

    private void Idle()
    {
        Receive<Reconcile>(_ =>
        {
            Become(Reconciling);
            RoundAsync().PipeTo(Self);
        });
    }

    private void Reconciling()
    {
        Receive<Reconcile>(_ => { });
        Receive<Status.Success>(_ => Become(Idle));
        Receive<Status.Failure>(failed =>
        {
            _log.LogWarning("Raft membership round failed: {Reason}", failed.Cause.Message);
            Become(Idle);
        });
    }

    private async Task RoundAsync()
    {
        var members = await _node.Raft.Ask<Members>(GetMembers.Instance, _settings.AskTimeout).ConfigureAwait(false);
        if (members.Recovering || members.Leader != _node.NodeId || !members.Committed)
        {
            return;
        }

        var inConfig = members.Voters.Concat(members.Learners).ToHashSet();
        foreach (var member in ClusterExtension.Get(_node.System).State.Members.Where(m => m.HasRole("kv")))
        {
            var joining = member.Status == MemberStatus.Up;
            var leaving = member.Status is MemberStatus.Leaving or MemberStatus.Exiting;
            if (!joining && !leaving)
            {
                continue;
            }

            var known = await IdOfAsync(member).ConfigureAwait(false);
            if (known is not { } found)
            {
                continue;
            }

            if (joining && !inConfig.Contains(found.Id))
            {
                _log.LogInformation("Cluster member {Address} (Raft node {Id}) is Up but not in the Raft configuration: adding it as a learner, then a voter.", member.Address, found.Id);
                _node.RegisterPeer(found.Id, found.Endpoint);
                Report(await _node.Raft.Ask<object>(new AddMember(found.Id), _settings.ChangeTimeout).ConfigureAwait(false), "add", found.Id);
                return;
            }

            if (leaving && inConfig.Contains(found.Id) && members.Voters.Count > 1)
            {
                _log.LogInformation("Cluster member {Address} (Raft node {Id}) is leaving: removing it from the Raft configuration.", member.Address, found.Id);
                Report(await _node.Raft.Ask<object>(new RemoveMember(found.Id), _settings.ChangeTimeout).ConfigureAwait(false), "remove", found.Id);
                return;
            }
        }
    }

    private async Task<(ulong Id, KvEndpoint Endpoint)?> IdOfAsync(Member member)
    {
        var key = member.Address.ToString();
        if (_ids.TryGetValue(key, out var cached))
        {
            return cached;
        }

        if (member.Address == new KvCluster.Actors.Remote.Transport.RemoteAddress(_node.Options.SystemName, _node.Options.Host, _node.Options.Port))
        {
            return _ids[key] = (_node.NodeId, _node.Endpoint);
        }

        var receptionist = _node.System.Provider.ResolveActorRef($"{member.Address}{KvWireTypes.ReceptionistPath}");
        try
        {
            var contacts = await receptionist.Ask<Contacts>(new GetContacts(), _settings.AskTimeout).ConfigureAwait(false);
            return _ids[key] = (contacts.NodeId, new KvEndpoint(member.Address.Host, member.Address.Port));
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
                _log.LogInformation("Raft membership: {Change} of node {Id} done at index {Index}; voters {Voters}, learners {Learners}.", change, id, changed.Index, string.Join(",", changed.Voters), string.Join(",", changed.Learners));
                break;
            case MembershipChangeFailed failed:
                _log.LogWarning("Raft membership: {Change} of node {Id} failed ({Failure}): {Reason}; retried next round.", change, id, failed.Failure, failed.Reason);
                break;
        }
    }

    private sealed record Reconcile
    {
        public static Reconcile Instance { get; } = new();
    }
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
