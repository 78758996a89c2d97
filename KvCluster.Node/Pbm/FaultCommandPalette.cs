using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using KvCluster.Actors.Cmd;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.FailureInjection;
using KvCluster.Actors.Remote.Transport;
using KvCluster.Client;
using KvCluster.Node.Hosting;

namespace KvCluster.Node.Pbm;

/// <summary>
/// The <c>fault</c> palette of a node's command host: black-holes and heals this node's remoting links to other
/// nodes through the transport's <see cref="FailureInjector"/>, for chaos runs and drills. A fault acts only on this
/// node's side of the link (frames it sends and/or receives); a full partition black-holes both sides.
/// Peers are named by the endpoint they advertise (<c>host:port</c> as in <c>--peers</c>, or <c>kv://system@host:port</c>).
/// Faults live in memory: a restarted node starts healed.
/// </summary>
public sealed class FaultCommandPalette : ICommandPalette
{
    private static readonly CommandArgument s_peer = new("peer", "A peer's endpoint as it advertises it: host:port (as in --peers) or kv://system@host:port.");

    private readonly KvNode _node;
    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, ThrottleDirection> _faults = new(StringComparer.Ordinal);

    /// <summary>Creates the palette over <paramref name="node"/>'s failure injector.</summary>
    public FaultCommandPalette(KvNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        _node = node;
        Commands =
        [
            new("blackhole", "Drop every frame this node sends to (out), receives from (in), or exchanges with (both, the default) a peer until healed.", BlackholeAsync)
            {
                Arguments = [s_peer, new CommandArgument("direction", "in, out or both (default both).", IsRequired: false)],
            },
            new("heal", "Heal the link to one peer, or every link when no peer is given.", HealAsync)
            {
                Arguments = [s_peer with { IsRequired = false }],
            },
            new("status", "The faults this palette has set and not healed.", StatusAsync),
        ];
    }

    /// <inheritdoc />
    public string Name => "fault";

    /// <inheritdoc />
    public string Description => "Inject network faults on this node's remoting links (black-hole, heal).";

    /// <inheritdoc />
    public IReadOnlyList<CommandDefinition> Commands { get; }

    private FailureInjector Injector => _node.System.GetExtension<RemoteExtension>()!.FailureInjector;

    private Task<CommandResult> BlackholeAsync(CommandContext context)
    {
        if (!TryParsePeer(context.Arguments.Get("peer")!, out var peer, out var problem))
        {
            return Task.FromResult(CommandResult.UsageError(problem));
        }

        var directionText = context.Arguments.Get("direction") ?? "both";
        ThrottleDirection direction;
        switch (directionText)
        {
            case "in":
                direction = ThrottleDirection.Receive;
                break;
            case "out":
                direction = ThrottleDirection.Send;
                break;
            case "both":
                direction = ThrottleDirection.Both;
                break;
            default:
                return Task.FromResult(CommandResult.UsageError($"direction must be in, out or both, not '{directionText}'"));
        }

        if (peer == _node.Endpoint)
        {
            return Task.FromResult(CommandResult.UsageError($"{peer} is this node's own endpoint; name a peer"));
        }

        lock (_gate)
        {
            var key = peer.ToString();
            if (_faults.TryGetValue(key, out var previous) && previous != direction)
            {
                // A new rule replaces the old one only for the directions it names: clear the rest first.
                Injector.PassThrough(Address(peer), ThrottleDirection.Both);
            }

            Injector.Blackhole(Address(peer), direction);
            _faults[key] = direction;
        }

        return Task.FromResult(CommandResult.Ok(
            Invariant($"black-holed {Describe(direction)} {peer} on node {_node.NodeId}\n"),
            new JsonObject { ["peer"] = peer.ToString(), ["direction"] = directionText }));
    }

    private Task<CommandResult> HealAsync(CommandContext context)
    {
        if (context.Arguments.Get("peer") is not { } peerText)
        {
            int count;
            lock (_gate)
            {
                count = _faults.Count;
                Injector.HealAll();
                _faults.Clear();
            }

            return Task.FromResult(CommandResult.Ok(Invariant($"healed every link of node {_node.NodeId} ({count} fault(s) removed)\n"), new JsonObject { ["healed"] = count }));
        }

        if (!TryParsePeer(peerText, out var peer, out var problem))
        {
            return Task.FromResult(CommandResult.UsageError(problem));
        }

        bool had;
        lock (_gate)
        {
            Injector.PassThrough(Address(peer), ThrottleDirection.Both);
            had = _faults.Remove(peer.ToString());
        }

        return Task.FromResult(CommandResult.Ok(
            Invariant($"healed the link to {peer} on node {_node.NodeId}{(had ? string.Empty : " (no fault was set on it)")}\n"),
            new JsonObject { ["healed"] = had ? 1 : 0 }));
    }

    private Task<CommandResult> StatusAsync(CommandContext context)
    {
        var text = new StringBuilder();
        var list = new JsonArray();
        lock (_gate)
        {
            foreach (var (peer, direction) in _faults)
            {
                text.AppendLine(Invariant($"{peer} | blackhole | {DirectionWord(direction)}"));
                list.Add(new JsonObject { ["peer"] = peer, ["kind"] = "blackhole", ["direction"] = DirectionWord(direction) });
            }

            text.AppendLine(_faults.Count == 0 ? Invariant($"no faults on node {_node.NodeId}") : Invariant($"{_faults.Count} fault(s) on node {_node.NodeId}"));
        }

        return Task.FromResult(CommandResult.Ok(text.ToString(), new JsonObject { ["faults"] = list }));
    }

    private RemoteAddress Address(KvEndpoint peer) => new(_node.Options.SystemName, peer.Host, peer.Port);

    private static bool TryParsePeer(string text, out KvEndpoint peer, out string problem)
    {
        var raw = text.StartsWith("kv://", StringComparison.Ordinal) && text.IndexOf('@') is var at and > 0 ? text[(at + 1)..].TrimEnd('/') : text;
        try
        {
            peer = KvEndpoint.Parse(raw);
            problem = string.Empty;
            return true;
        }
        catch (FormatException e)
        {
            peer = default;
            problem = $"peer '{text}': {e.Message}";
            return false;
        }
    }

    private static string DirectionWord(ThrottleDirection direction) => direction switch
    {
        ThrottleDirection.Receive => "in",
        ThrottleDirection.Send => "out",
        _ => "both",
    };

    private static string Describe(ThrottleDirection direction) => direction switch
    {
        ThrottleDirection.Receive => "traffic from",
        ThrottleDirection.Send => "traffic to",
        _ => "all traffic with",
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
