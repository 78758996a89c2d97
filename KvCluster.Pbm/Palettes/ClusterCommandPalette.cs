using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Cluster;
using static Akka.Cluster.ClusterEvent;
using ClusterMembership = Akka.Cluster.Cluster;

namespace KvCluster.Pbm.Palettes;

/// <summary>
/// The <c>cluster</c> palette: this node's view of the cluster membership
/// (<see cref="ClusterMembership.State"/>) and the operator's membership actions (join, leave,
/// down), on Akka.Cluster. Every answer is this node's view, which gossip makes converge with the
/// others'. Addresses are <c>akka.tcp://system@host:port</c>; for members <c>host:port</c> is enough.
/// </summary>
public sealed class ClusterCommandPalette : ICommandPalette
{
    private static readonly CommandArgument s_address = new("address", "A member, as akka.tcp://system@host:port or host:port.");

    /// <inheritdoc />
    public string Name => "cluster";

    /// <inheritdoc />
    public string Description => "Cluster membership as this node sees it, and membership changes.";

    /// <inheritdoc />
    public IReadOnlyList<CommandDefinition> Commands { get; } =
    [
        new("show", "One line per member: address | roles | status | reachability, then a count.", ctx => Task.FromResult(Show(ctx))),
        new("status", "This node's own membership: address, status, roles, leader, counts.", ctx => Task.FromResult(Status(ctx))),
        new("leader", "The cluster leader's address (failed when there is none).", ctx => Task.FromResult(Leader(ctx))),
        new("join", "Makes this node (not yet a member) join the cluster of the node at <address>.", ctx => Task.FromResult(Join(ctx)))
        {
            Arguments = [new CommandArgument("address", "A node of the cluster to join, akka.tcp://system@host:port (or host:port with this node's system name).")],
        },
        new("leave", "Asks a member (default: this node) to leave gracefully: Leaving, Exiting, Removed.", ctx => Task.FromResult(Leave(ctx)))
        {
            Arguments = [s_address with { IsRequired = false, Description = "The member to leave; default this node." }],
        },
        new("down", "Declares a member dead (typically an unreachable one); the leader then removes it.", ctx => Task.FromResult(Down(ctx)))
        {
            Arguments = [s_address],
        },
        new("down-unreachable", "Downs every member this node sees as unreachable.", ctx => Task.FromResult(DownUnreachable(ctx))),
    ];

    private static CommandResult Show(CommandContext context)
    {
        if (!TryGetCluster(context, out var cluster, out var failure))
        {
            return failure;
        }

        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.UniqueAddress).ToHashSet();
        var rows = state.Members
            .OrderBy(m => m.UniqueAddress)
            .Select(m => (Member: m, Address: m.Address.ToString(), Roles: m.Roles.IsEmpty ? "-" : string.Join(',', m.Roles), Status: m.Status.ToString(), Reach: unreachable.Contains(m.UniqueAddress) ? "Unreachable" : "Reachable"))
            .ToList();
        var widths = (
            Address: rows.Select(r => r.Address.Length).DefaultIfEmpty(0).Max(),
            Roles: rows.Select(r => r.Roles.Length).DefaultIfEmpty(0).Max(),
            Status: rows.Select(r => r.Status.Length).DefaultIfEmpty(0).Max());
        var text = new StringBuilder();
        var members = new JsonArray();
        foreach (var row in rows)
        {
            text.Append(row.Address.PadRight(widths.Address)).Append(" | ")
                .Append(row.Roles.PadRight(widths.Roles)).Append(" | ")
                .Append(row.Status.PadRight(widths.Status)).Append(" | ")
                .Append(row.Reach).Append('\n');
            members.Add(MemberJson(row.Member, row.Reach));
        }

        text.Append(CountLine(state));
        return CommandResult.Ok(text.ToString(), new JsonObject
        {
            ["self"] = cluster.SelfAddress.ToString(),
            ["leader"] = state.Leader?.ToString(),
            ["members"] = members,
            ["count"] = rows.Count,
            ["up"] = rows.Count(r => r.Member.Status == MemberStatus.Up),
            ["unreachable"] = unreachable.Count,
        });
    }

    private static CommandResult Status(CommandContext context)
    {
        if (!TryGetCluster(context, out var cluster, out var failure))
        {
            return failure;
        }

        var state = cluster.State;
        var self = SelfMember(cluster);
        var status = cluster.IsTerminated ? "Removed (this node's membership has shut down; restart it to rejoin)"
            : self is null ? "not a member (joining, or waiting for cluster join)"
            : self.Status.ToString();
        var reachable = self is null ? "-" : state.Unreachable.Any(m => m.UniqueAddress == self.UniqueAddress) ? "Unreachable" : "Reachable";
        var text = $"""
            node: {cluster.SelfAddress}
            uid: {cluster.SelfUniqueAddress.Uid.ToString(CultureInfo.InvariantCulture)}
            status: {status}
            reachability: {reachable}
            roles: {(cluster.SelfRoles.IsEmpty ? "-" : string.Join(',', cluster.SelfRoles))}
            leader: {state.Leader?.ToString() ?? "none"}
            {CountLine(state)}
            """;
        return CommandResult.Ok(text.ReplaceLineEndings("\n"), new JsonObject
        {
            ["node"] = cluster.SelfAddress.ToString(),
            ["uid"] = cluster.SelfUniqueAddress.Uid,
            ["status"] = cluster.IsTerminated ? "Removed" : self?.Status.ToString(),
            ["reachability"] = self is null ? null : reachable,
            ["roles"] = new JsonArray([.. cluster.SelfRoles.Select(r => (JsonNode)JsonValue.Create(r))]),
            ["leader"] = state.Leader?.ToString(),
            ["members"] = state.Members.Count,
            ["unreachable"] = state.Unreachable.Count,
        });
    }

    private static CommandResult Leader(CommandContext context)
    {
        if (!TryGetCluster(context, out var cluster, out var failure))
        {
            return failure;
        }

        return cluster.State.Leader is { } leader
            ? CommandResult.Ok(leader.ToString(), new JsonObject { ["leader"] = leader.ToString() })
            : CommandResult.Failed("no leader: this node is not a member yet, or no member is reachable and Up", new JsonObject { ["leader"] = null });
    }

    private static CommandResult Join(CommandContext context)
    {
        if (!TryGetCluster(context, out var cluster, out var failure))
        {
            return failure;
        }

        var text = context.Arguments.Get("address")!;
        if (!TryParseAddress(text, cluster.SelfAddress, out var address, out var problem))
        {
            return CommandResult.UsageError(problem);
        }

        if (cluster.IsTerminated)
        {
            return CommandResult.Failed("this node was removed from its cluster; restart it to join again");
        }

        if (SelfMember(cluster) is { } self)
        {
            return CommandResult.Failed($"this node is already a member ({self.Status}) of the cluster led by {cluster.State.Leader?.ToString() ?? "nobody yet"}; leave it first");
        }

        if (!cluster.Settings.SeedNodes.IsEmpty)
        {
            return CommandResult.Failed($"this node is already joining through its seed nodes [{string.Join(", ", cluster.Settings.SeedNodes)}]; it ignores another join");
        }

        cluster.JoinSeedNodes([address]);
        return CommandResult.Ok($"joining the cluster through {address}; follow with 'cluster status'", new JsonObject { ["joining"] = address.ToString() });
    }

    private static CommandResult Leave(CommandContext context)
    {
        if (!TryGetCluster(context, out var cluster, out var failure))
        {
            return failure;
        }

        var member = SelfMember(cluster);
        if (context.Arguments.Get("address") is { } text)
        {
            if (!TryFindMember(cluster, text, out member, out var problem))
            {
                return problem;
            }
        }
        else if (member is null)
        {
            return CommandResult.Failed("this node is not a cluster member, so it cannot leave");
        }

        if (member!.Status is not (MemberStatus.Joining or MemberStatus.Up))
        {
            return CommandResult.Failed($"{member.Address} is {member.Status}; only a Joining or Up member can start leaving");
        }

        cluster.Leave(member.Address);
        return CommandResult.Ok($"{member.Address} is leaving (Leaving, then Exiting, then Removed)", new JsonObject { ["leaving"] = member.Address.ToString() });
    }

    private static CommandResult Down(CommandContext context)
    {
        if (!TryGetCluster(context, out var cluster, out var failure))
        {
            return failure;
        }

        if (!TryFindMember(cluster, context.Arguments.Get("address")!, out var member, out var problem))
        {
            return problem;
        }

        if (member!.Status == MemberStatus.Down)
        {
            return CommandResult.Ok($"{member.Address} is already Down; the leader removes it", new JsonObject { ["downed"] = new JsonArray() });
        }

        cluster.Down(member.Address);
        return CommandResult.Ok($"{member.Address} marked Down; the leader removes it", new JsonObject { ["downed"] = new JsonArray(JsonValue.Create(member.Address.ToString())) });
    }

    private static CommandResult DownUnreachable(CommandContext context)
    {
        if (!TryGetCluster(context, out var cluster, out var failure))
        {
            return failure;
        }

        if (SelfMember(cluster) is null)
        {
            return CommandResult.Failed("this node is not a cluster member");
        }

        var targets = cluster.State.Unreachable
            .Where(m => m.UniqueAddress != cluster.SelfUniqueAddress && m.Status != MemberStatus.Down)
            .OrderBy(m => m.UniqueAddress)
            .ToList();
        foreach (var member in targets)
        {
            cluster.Down(member.Address);
        }

        var list = new JsonArray([.. targets.Select(m => (JsonNode)JsonValue.Create(m.Address.ToString()))]);
        return targets.Count == 0
            ? CommandResult.Ok("no unreachable members to down", new JsonObject { ["downed"] = list })
            : CommandResult.Ok($"marked Down: {string.Join(", ", targets.Select(m => m.Address))}\n{targets.Count} members downed; the leader removes them", new JsonObject { ["downed"] = list });
    }

    private static string CountLine(CurrentClusterState state)
    {
        var up = state.Members.Count(m => m.Status == MemberStatus.Up);
        return string.Create(CultureInfo.InvariantCulture, $"{state.Members.Count} {(state.Members.Count == 1 ? "member" : "members")}, {up} up, {state.Unreachable.Count} unreachable");
    }

    private static JsonObject MemberJson(Member member, string reachability) => new()
    {
        ["address"] = member.Address.ToString(),
        ["uid"] = member.UniqueAddress.Uid,
        ["roles"] = new JsonArray([.. member.Roles.Select(r => (JsonNode)JsonValue.Create(r))]),
        ["status"] = member.Status.ToString(),
        ["reachability"] = reachability,
        ["appVersion"] = member.AppVersion?.ToString(),
    };

    private static bool TryGetCluster(CommandContext context, out ClusterMembership cluster, out CommandResult failure)
    {
        // Cluster.Get throws on a system without the cluster provider: answer instead.
        if (((ExtendedActorSystem)context.System).Provider is not ClusterActorRefProvider)
        {
            cluster = null!;
            failure = CommandResult.Failed($"actor system '{context.System.Name}' runs no cluster membership");
            return false;
        }

        cluster = ClusterMembership.Get(context.System);
        failure = null!;
        return true;
    }

    /// <summary>This node as a member of the current state, or null when it is not (yet, or any more) a member.</summary>
    private static Member? SelfMember(ClusterMembership cluster) =>
        cluster.IsTerminated ? null : cluster.State.Members.FirstOrDefault(m => m.UniqueAddress.Equals(cluster.SelfUniqueAddress));

    /// <summary>
    /// Parses <c>akka.tcp://system@host:port</c> (any <c>akka</c> protocol) or <c>host:port</c>,
    /// which takes <paramref name="self"/>'s protocol and system.
    /// </summary>
    internal static bool TryParseAddress(string text, Address self, out Address address, out string problem)
    {
        if (text.Contains("://", StringComparison.Ordinal))
        {
            if (text.StartsWith("akka", StringComparison.Ordinal)
                && ActorPath.TryParseAddress(text, out var parsed)
                && parsed.Host is not null && parsed.Port is > 0 and <= 65535)
            {
                address = parsed;
                problem = string.Empty;
                return true;
            }

            address = null!;
            problem = $"'{text}' is not an Akka address: expected akka.tcp://system@host:port";
            return false;
        }

        var colon = text.LastIndexOf(':');
        if (colon > 0 && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535)
        {
            address = new Address(self.Protocol, self.System, text[..colon].Trim('[', ']'), port);
            problem = string.Empty;
            return true;
        }

        address = null!;
        problem = $"'{text}' is not an address: expected akka.tcp://system@host:port or host:port";
        return false;
    }

    private static bool TryFindMember(ClusterMembership cluster, string text, out Member? member, out CommandResult problem)
    {
        member = null;
        if (!TryParseAddress(text, cluster.SelfAddress, out var address, out var parseProblem))
        {
            problem = CommandResult.UsageError(parseProblem);
            return false;
        }

        member = cluster.State.Members.FirstOrDefault(m => m.Address.Equals(address))
            ?? (text.Contains("://", StringComparison.Ordinal) ? null : cluster.State.Members.FirstOrDefault(m => m.Address.Host == address.Host && m.Address.Port == address.Port));
        if (member is null)
        {
            problem = CommandResult.Failed($"{address} is not a member of this node's cluster; 'cluster show' lists the members");
            return false;
        }

        problem = null!;
        return true;
    }
}
