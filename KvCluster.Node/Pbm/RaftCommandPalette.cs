using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using KvCluster.Client;
using KvCluster.Client.Protocol;
using KvCluster.Node.Hosting;
using KvCluster.Pbm;
using KvCluster.Client.Snapshots;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Pbm;

/// <summary>
/// The <c>raft</c> palette of a node's command host: this node's Raft state and the operator's membership actions.
/// Members are named by endpoint (<c>host:port</c> or <c>kv://system@host:port</c>) or by Raft id. Membership changes
/// go to the leader; on a follower they fail naming the leader's endpoint.
/// </summary>
public sealed class RaftCommandPalette : ICommandPalette
{
    private static readonly CommandArgument s_member = new("member", "A member: host:port, akka.tcp://system@host:port, or its Raft id.");

    private readonly KvNode _node;

    /// <summary>Creates the palette over <paramref name="node"/>.</summary>
    public RaftCommandPalette(KvNode node)
    {
        _node = node;
        Commands =
        [
            new("status", "Node, role, term, leader, commit/applied/last index; on the leader each follower's match and lag.", StatusAsync),
            new("members", "Voters and learners of the current configuration.", MembersAsync),
            new("add-member", "On the leader: add a running node (started with --join) as a learner, then promote it to voter once caught up.", AddAsync)
            {
                Arguments = [new CommandArgument("address", "The new node's endpoint, host:port or akka.tcp://system@host:port.")],
            },
            new("remove-member", "On the leader: remove a member from the configuration (graceful removal; an unreachable node is never removed automatically).", RemoveAsync)
            {
                Arguments = [s_member],
            },
            new("transfer-leadership", "On the leader: hand leadership to a voter (default: the most up-to-date follower).", TransferAsync)
            {
                Arguments = [s_member with { IsRequired = false }],
            },
        ];
    }

    /// <inheritdoc />
    public string Name => "raft";

    /// <inheritdoc />
    public string Description => "This node's Raft state and membership changes.";

    /// <inheritdoc />
    public IReadOnlyList<CommandDefinition> Commands { get; }

    private async Task<CommandResult> StatusAsync(CommandContext context)
    {
        var status = await _node.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, context.Timeout, context.CancellationToken).ConfigureAwait(false);
        var members = _node.Members;
        var text = new StringBuilder();
        text.AppendLine(Invariant($"node:        {status.NodeId} ({_node.Endpoint})"));
        text.AppendLine(Invariant($"role:        {status.Role}{(status.Recovering ? " (recovering its journal)" : string.Empty)}"));
        text.AppendLine(Invariant($"term:        {status.Term}"));
        text.AppendLine(Invariant($"leader:      {(status.Leader == 0 ? "none known" : $"{status.Leader} ({Describe(members, status.Leader)})")}"));
        text.AppendLine(Invariant($"commit:      {status.Commit}"));
        text.AppendLine(Invariant($"applied:     {status.Applied}"));
        text.AppendLine(Invariant($"last index:  {status.LastIndex}"));
        text.AppendLine(Invariant($"first index: {status.FirstLogIndex}"));
        var now = DateTime.UtcNow;
        text.AppendLine(Invariant($"snapshot:    {KvSnapshotFigures.Describe(status.SnapshotIndex, status.SnapshotTerm, status.SnapshotBytes, status.SnapshotTakenAt, now)}"));
        text.AppendLine(Invariant($"voters:      {string.Join(", ", status.Voters)}"));
        text.AppendLine(Invariant($"learners:    {(status.Learners.Count == 0 ? "none" : string.Join(", ", status.Learners))}"));
        var followers = new JsonArray();
        foreach (var (id, match) in status.Match.Where(m => m.Key != status.NodeId).OrderBy(m => m.Key))
        {
            var lag = Math.Max(0, status.LastIndex - match);
            text.AppendLine(Invariant($"follower {id} ({Describe(members, id)}): match {match}, lag {lag}"));
            followers.Add(new JsonObject { ["id"] = id, ["endpoint"] = Describe(members, id), ["match"] = match, ["lag"] = lag });
        }

        return CommandResult.Ok(text.ToString(), new JsonObject
        {
            ["node"] = status.NodeId,
            ["role"] = status.Role.ToString(),
            ["term"] = status.Term,
            ["leader"] = status.Leader,
            ["commit"] = status.Commit,
            ["applied"] = status.Applied,
            ["last_index"] = status.LastIndex,
            ["first_index"] = status.FirstLogIndex,
            ["snapshot"] = status.SnapshotIndex <= 0 ? null : new JsonObject
            {
                ["index"] = status.SnapshotIndex,
                ["term"] = status.SnapshotTerm,
                ["bytes"] = status.SnapshotBytes,
                ["taken_at"] = status.SnapshotTakenAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["age_seconds"] = status.SnapshotTakenAt is { } at ? Math.Max(0, (long)(now - at).TotalSeconds) : null,
            },
            ["voters"] = new JsonArray([.. status.Voters.Select(v => (JsonNode)v)]),
            ["learners"] = new JsonArray([.. status.Learners.Select(v => (JsonNode)v)]),
            ["followers"] = followers,
        });
    }

    private async Task<CommandResult> MembersAsync(CommandContext context)
    {
        var members = await _node.Raft.Ask<Members>(GetMembers.Instance, context.Timeout, context.CancellationToken).ConfigureAwait(false);
        var known = _node.Members;
        var text = new StringBuilder();
        foreach (var id in members.Voters)
        {
            text.AppendLine(Invariant($"{id} | {Describe(known, id)} | voter{(id == members.Leader ? " | leader" : string.Empty)}"));
        }

        foreach (var id in members.Learners)
        {
            text.AppendLine(Invariant($"{id} | {Describe(known, id)} | learner"));
        }

        text.AppendLine(Invariant($"{members.Voters.Count} voter(s), {members.Learners.Count} learner(s); configuration at index {members.Index}{(members.Committed ? string.Empty : " (not yet committed)")}"));
        return CommandResult.Ok(text.ToString(), new JsonObject
        {
            ["voters"] = new JsonArray([.. members.Voters.Select(v => (JsonNode)v)]),
            ["learners"] = new JsonArray([.. members.Learners.Select(v => (JsonNode)v)]),
            ["index"] = members.Index,
            ["committed"] = members.Committed,
            ["leader"] = members.Leader,
        });
    }

    private async Task<CommandResult> AddAsync(CommandContext context)
    {
        if (!TryParseEndpoint(context.Arguments.Get("address")!, out var endpoint, out var problem))
        {
            return CommandResult.UsageError(problem);
        }

        // Ask the new node who it is: its router knows its Raft id.
        var router = _node.Resolve(endpoint, KvWireTypes.RouterPath);
        Contacts contacts;
        try
        {
            contacts = await router.Ask<Contacts>(new GetContacts(), TimeSpan.FromSeconds(3), context.CancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return CommandResult.Failed($"no AkkaKv node answered at {endpoint}; start it first (with --join) and check the address");
        }

        _node.RegisterPeer(contacts.NodeId, endpoint);
        var reply = await _node.Raft.Ask<object>(new AddMember(contacts.NodeId), context.Timeout, context.CancellationToken).ConfigureAwait(false);
        return MembershipReply(reply, $"node {contacts.NodeId} ({endpoint})");
    }

    private async Task<CommandResult> RemoveAsync(CommandContext context)
    {
        if (!TryResolveMember(context.Arguments.Get("member")!, out var id, out var problem))
        {
            return CommandResult.UsageError(problem);
        }

        var reply = await _node.Raft.Ask<object>(new RemoveMember(id), context.Timeout, context.CancellationToken).ConfigureAwait(false);
        return MembershipReply(reply, $"node {id}");
    }

    private async Task<CommandResult> TransferAsync(CommandContext context)
    {
        var status = await _node.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, context.Timeout, context.CancellationToken).ConfigureAwait(false);
        ulong target;
        if (context.Arguments.Get("member") is { } member)
        {
            if (!TryResolveMember(member, out target, out var problem))
            {
                return CommandResult.UsageError(problem);
            }
        }
        else
        {
            // The most up-to-date other voter; a voter with no acknowledgement yet counts as match 0 (just elected).
            var best = status.Voters.Where(v => v != status.NodeId)
                .Select(v => new KeyValuePair<ulong, long>(v, status.Match.GetValueOrDefault(v)))
                .OrderByDescending(m => m.Value).ThenBy(m => m.Key).FirstOrDefault();
            if (best.Key == 0 || status.Role != KvCluster.Raft.Core.RaftRole.Leader)
            {
                return CommandResult.Failed(status.Role == KvCluster.Raft.Core.RaftRole.Leader
                    ? "there is no other voter to hand leadership to"
                    : NotLeaderText(status.Leader));
            }

            target = best.Key;
        }

        var reply = await _node.Raft.Ask<object>(new TransferLeadership(target), context.Timeout, context.CancellationToken).ConfigureAwait(false);
        return reply switch
        {
            TransferLeadershipStarted started => CommandResult.Ok(Invariant($"leadership transfer from node {started.From} to node {started.Target} started; see raft status for the new leader\n")),
            NotLeader notLeader => CommandResult.Failed(NotLeaderText(notLeader.LeaderHint)),
            ProposeDropped dropped => CommandResult.Failed(dropped.Reason),
            _ => CommandResult.Failed($"unexpected answer {reply.GetType().Name}"),
        };
    }

    private CommandResult MembershipReply(object reply, string what) => reply switch
    {
        MembershipChanged changed => CommandResult.Ok(Invariant($"{what}: done at index {changed.Index}; voters {string.Join(", ", changed.Voters)}; learners {(changed.Learners.Count == 0 ? "none" : string.Join(", ", changed.Learners))}\n")),
        MembershipChangeFailed { Failure: MembershipChangeFailure.NotLeader } failed => CommandResult.Failed(NotLeaderText(failed.LeaderHint)),
        MembershipChangeFailed failed => CommandResult.Failed($"{what}: {failed.Reason}"),
        _ => CommandResult.Failed($"{what}: unexpected answer {reply.GetType().Name}"),
    };

    private string NotLeaderText(ulong leader) =>
        leader == 0 ? "this node is not the leader and no leader is known; retry once one is elected"
        : $"this node is not the leader; run the command on node {leader} ({Describe(_node.Members, leader)})";

    private bool TryResolveMember(string text, out ulong id, out string problem)
    {
        problem = string.Empty;
        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id > 0)
        {
            return true;
        }

        if (!TryParseEndpoint(text, out var endpoint, out problem))
        {
            return false;
        }

        var match = _node.Members.FirstOrDefault(m => m.Value == endpoint);
        if (match.Key == 0)
        {
            problem = $"no member at {endpoint} is known to this node; give its Raft id (raft members lists them)";
            return false;
        }

        id = match.Key;
        return true;
    }

    private static bool TryParseEndpoint(string text, out KvEndpoint endpoint, out string problem)
    {
        var raw = text.Contains("://", StringComparison.Ordinal) && text.IndexOf('@') is var at and > 0 ? text[(at + 1)..].TrimEnd('/') : text;
        try
        {
            endpoint = KvEndpoint.Parse(raw);
            problem = string.Empty;
            return true;
        }
        catch (FormatException e)
        {
            endpoint = default;
            problem = e.Message;
            return false;
        }
    }

    private static string Describe(IReadOnlyDictionary<ulong, KvEndpoint> members, ulong id) =>
        members.TryGetValue(id, out var endpoint) ? endpoint.ToString() : "endpoint unknown";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
