using System.Globalization;
using Akka.Actor;
using Grpc.Core;
using KvCluster.Client;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Hosting;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's <c>Cluster</c> service over the Raft configuration:
/// <list type="bullet">
/// <item><c>MemberList</c>: the voters and learners of this node's configuration; a member's peer URL is its Akka
/// address, its client URL <c>http://host:clientport</c> as the member announces it (an Akka.Cluster role), empty while
/// it is not in the Akka cluster (as etcd lists a member that has not started).</item>
/// <item><c>MemberAdd</c>: the node at the peer URL must be running (started with <c>--join</c>); its router names its
/// Raft id, and the leader adds it as a learner and promotes it once caught up (what <c>raft add-member</c> does);
/// with <c>isLearner</c> it stays a learner (it receives the log, does not vote) until <c>MemberPromote</c>.</item>
/// <item><c>MemberRemove</c>: the leader removes the member from the configuration.</item>
/// <item><c>MemberPromote</c>: a learner (added with <c>isLearner</c>, or an add that timed out) catches up and becomes a
/// voter.</item>
/// <item><c>MemberUpdate</c>: Unimplemented (a member's address is its identity in Akka.Remote).</item>
/// </list>
/// Changes go to the leader's RaftActor from any node (the membership requests cross the network); a MemberAdd sent to
/// a follower is forwarded to the leader's client port, since the leader must also learn the new node's address.
/// </summary>
internal sealed class EtcdClusterService : Cluster.ClusterBase
{
    /// <summary>The Akka.Cluster role prefix through which a member announces its client port.</summary>
    public const string ClientPortRolePrefix = "etcd-client-port-";

    /// <summary>How long a membership change may take (a learner's catch-up included).</summary>
    private static readonly TimeSpan s_changeTimeout = TimeSpan.FromSeconds(60);

    private readonly EtcdGateway _gateway;

    /// <summary>Creates the service over the node's gateway.</summary>
    public EtcdClusterService(EtcdGateway gateway)
    {
        _gateway = gateway;
    }

    private KvNode Node => _gateway.Node;

    /// <summary>The role a node with <paramref name="clientPort"/> announces (null when it serves no client port).</summary>
    public static string? ClientPortRole(int clientPort) =>
        clientPort == 0 ? null : ClientPortRolePrefix + clientPort.ToString(CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override async Task<MemberListResponse> MemberList(MemberListRequest request, ServerCallContext context)
    {
        var members = await Node.Raft.Ask<Members>(GetMembers.Instance, TimeSpan.FromSeconds(5), context.CancellationToken).ConfigureAwait(false);
        var response = new MemberListResponse { Header = _gateway.NewHeader() };
        response.Members.Add(Describe(members.Voters, members.Learners));
        return response;
    }

    /// <inheritdoc />
    public override async Task<MemberAddResponse> MemberAdd(MemberAddRequest request, ServerCallContext context)
    {
        if (request.PeerURLs.Count == 0 || !TryParsePeerUrl(request.PeerURLs[0], out var endpoint))
        {
            throw EtcdErrors.MemberBadUrls();
        }

        var status = await _gateway.RaftStatusAsync(context.CancellationToken).ConfigureAwait(false);
        if (status.Leader != 0 && status.Leader != Node.NodeId)
        {
            // The leader must know how to reach the new node (its RaftActor replicates to it): ask the leader itself,
            // through its own client port, as an etcd follower forwards member changes to its leader.
            return await ForwardAddAsync(request, status.Leader, context).ConfigureAwait(false);
        }

        Contacts contacts;
        try
        {
            contacts = await Node.Resolve(endpoint, KvWireTypes.RouterPath).Ask<Contacts>(new GetContacts(), TimeSpan.FromSeconds(3), context.CancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw EtcdErrors.New(StatusCode.FailedPrecondition, $"etcdserver: no AkkaKv node answered at {endpoint}; start it first with --join, then add it");
        }

        var existing = await Node.Raft.Ask<Members>(GetMembers.Instance, TimeSpan.FromSeconds(5), context.CancellationToken).ConfigureAwait(false);
        if (existing.Voters.Contains(contacts.NodeId) || (request.IsLearner && existing.Learners.Contains(contacts.NodeId)))
        {
            throw EtcdErrors.New(StatusCode.FailedPrecondition, "etcdserver: member ID already exist");
        }

        Node.RegisterPeer(contacts.NodeId, endpoint);
        var changed = await ChangeAsync(new AddMember(contacts.NodeId, StayLearner: request.IsLearner), context).ConfigureAwait(false);
        var response = new MemberAddResponse { Header = _gateway.NewHeader() };
        response.Members.Add(Describe(changed.Voters, changed.Learners));
        response.Member = response.Members.FirstOrDefault(m => m.ID == contacts.NodeId) ?? Describe([contacts.NodeId], []).First();
        return response;
    }

    /// <summary>Header that marks a MemberAdd forwarded by a follower (a forwarded call is never forwarded again).</summary>
    private const string ForwardedHeader = "akkakv-forwarded";

    private async Task<MemberAddResponse> ForwardAddAsync(MemberAddRequest request, ulong leader, ServerCallContext context)
    {
        if (context.RequestHeaders.Get(ForwardedHeader) is not null)
        {
            throw EtcdErrors.New(StatusCode.Unavailable, "etcdserver: leader changed");
        }

        var url = Describe([leader], []).Single().ClientURLs.FirstOrDefault()
            ?? throw EtcdErrors.New(StatusCode.Unavailable, $"etcdserver: the leader (member {leader}) announces no client URL yet; retry, or send MemberAdd to the leader");
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(url);
        var headers = new Metadata { { ForwardedHeader, Node.NodeId.ToString(CultureInfo.InvariantCulture) } };
        var deadline = context.Deadline == DateTime.MaxValue ? DateTime.UtcNow + s_changeTimeout : context.Deadline;
        return await new Cluster.ClusterClient(channel).MemberAddAsync(request, headers, deadline, context.CancellationToken).ResponseAsync.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task<MemberRemoveResponse> MemberRemove(MemberRemoveRequest request, ServerCallContext context)
    {
        var existing = await Node.Raft.Ask<Members>(GetMembers.Instance, TimeSpan.FromSeconds(5), context.CancellationToken).ConfigureAwait(false);
        if (!existing.Voters.Contains(request.ID) && !existing.Learners.Contains(request.ID))
        {
            throw EtcdErrors.MemberNotFound();
        }

        var changed = await ChangeAsync(new RemoveMember(request.ID), context).ConfigureAwait(false);
        var response = new MemberRemoveResponse { Header = _gateway.NewHeader() };
        response.Members.Add(Describe(changed.Voters, changed.Learners));
        return response;
    }

    /// <inheritdoc />
    public override async Task<MemberPromoteResponse> MemberPromote(MemberPromoteRequest request, ServerCallContext context)
    {
        var existing = await Node.Raft.Ask<Members>(GetMembers.Instance, TimeSpan.FromSeconds(5), context.CancellationToken).ConfigureAwait(false);
        if (existing.Voters.Contains(request.ID))
        {
            throw EtcdErrors.MemberNotLearner();
        }

        if (!existing.Learners.Contains(request.ID))
        {
            throw EtcdErrors.MemberNotFound();
        }

        var changed = await ChangeAsync(new AddMember(request.ID), context).ConfigureAwait(false);
        var response = new MemberPromoteResponse { Header = _gateway.NewHeader() };
        response.Members.Add(Describe(changed.Voters, changed.Learners));
        return response;
    }

    /// <inheritdoc />
    public override Task<MemberUpdateResponse> MemberUpdate(MemberUpdateRequest request, ServerCallContext context) =>
        throw EtcdErrors.New(StatusCode.Unimplemented, "etcdserver: MemberUpdate is not supported: an AkkaKv member's address is its identity (remove it and add it again)");

    /// <summary>Sends a membership request to the leader's RaftActor (this node's when it leads) and maps the answer.</summary>
    private async Task<MembershipChanged> ChangeAsync(object change, ServerCallContext context)
    {
        var status = await _gateway.RaftStatusAsync(context.CancellationToken).ConfigureAwait(false);
        if (status.Leader == 0)
        {
            throw EtcdErrors.NoLeader();
        }

        var members = Node.Members;
        IActorRef leader;
        if (status.Leader == Node.NodeId)
        {
            leader = Node.Raft;
        }
        else if (members.TryGetValue(status.Leader, out var endpoint))
        {
            leader = Node.Resolve(endpoint, KvNode.RaftPath);
        }
        else
        {
            throw EtcdErrors.NoLeader();
        }

        object reply;
        try
        {
            reply = await leader.Ask<object>(change, s_changeTimeout, context.CancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw EtcdErrors.Timeout();
        }

        return reply switch
        {
            MembershipChanged changed => changed,
            MembershipChangeFailed { Failure: MembershipChangeFailure.NotLeader } => throw EtcdErrors.New(StatusCode.Unavailable, "etcdserver: leader changed"),
            MembershipChangeFailed { Failure: MembershipChangeFailure.CatchUpTimedOut } => throw EtcdErrors.LearnerNotReady(),
            MembershipChangeFailed { Failure: MembershipChangeFailure.ChangeInProgress } failed => throw EtcdErrors.New(StatusCode.FailedPrecondition, $"etcdserver: re-configuration failed: {failed.Reason}"),
            MembershipChangeFailed { Failure: MembershipChangeFailure.Rejected } failed => throw EtcdErrors.New(StatusCode.FailedPrecondition, $"etcdserver: re-configuration refused: {failed.Reason}"),
            MembershipChangeFailed failed => throw EtcdErrors.New(StatusCode.Unavailable, $"etcdserver: re-configuration failed: {failed.Reason}"),
            _ => throw EtcdErrors.New(StatusCode.Unknown, $"etcdserver: the Raft node answered {reply.GetType().Name}"),
        };
    }

    /// <summary>etcd members for the given voters and learners, with the URLs this node knows.</summary>
    private IEnumerable<Member> Describe(IReadOnlyList<ulong> voters, IReadOnlyList<ulong> learners)
    {
        var endpoints = Node.Members;
        var clientPorts = ClientPortsByEndpoint();
        foreach (var (id, isLearner) in voters.Select(v => (v, false)).Concat(learners.Select(l => (l, true))))
        {
            var member = new Member { ID = id, IsLearner = isLearner };
            if (endpoints.TryGetValue(id, out var endpoint))
            {
                member.PeerURLs.Add(Node.Options.AddressOf(endpoint));
                int clientPort;
                if (id == Node.NodeId ? (clientPort = Node.Options.ClientPort) != 0 : clientPorts.TryGetValue(endpoint, out clientPort))
                {
                    member.Name = "node-" + id.ToString(CultureInfo.InvariantCulture);
                    member.ClientURLs.Add(string.Create(CultureInfo.InvariantCulture, $"{Node.Options.ClientScheme}://{endpoint.Host}:{clientPort}"));
                }
            }

            yield return member;
        }
    }

    /// <summary>The client port every Up member of the Akka cluster announces, by its remoting endpoint.</summary>
    private Dictionary<KvEndpoint, int> ClientPortsByEndpoint()
    {
        var ports = new Dictionary<KvEndpoint, int>();
        foreach (var member in Akka.Cluster.Cluster.Get(Node.System).State.Members)
        {
            var role = member.Roles.FirstOrDefault(r => r.StartsWith(ClientPortRolePrefix, StringComparison.Ordinal));
            if (role is not null && member.Address.Host is { } host && member.Address.Port is { } port
                && int.TryParse(role.AsSpan(ClientPortRolePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var clientPort))
            {
                ports[new KvEndpoint(host, port)] = clientPort;
            }
        }

        return ports;
    }

    /// <summary>A peer URL as etcd clients send it (<c>http://host:port</c>), an Akka address, or <c>host:port</c>.</summary>
    internal static bool TryParsePeerUrl(string url, out KvEndpoint endpoint)
    {
        var text = url.Trim();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            text = text[(scheme + 3)..];
            var at = text.IndexOf('@');
            text = (at >= 0 ? text[(at + 1)..] : text).TrimEnd('/');
        }

        try
        {
            endpoint = KvEndpoint.Parse(text);
            return true;
        }
        catch (FormatException)
        {
            endpoint = default;
            return false;
        }
    }
}
