using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Remote;
using Akka.Remote.Transport;
using KvCluster.Client;
using KvCluster.Node.Hosting;
using KvCluster.Pbm;
using Direction = Akka.Remote.Transport.ThrottleTransportAdapter.Direction;

namespace KvCluster.Node.Pbm;

/// <summary>
/// The <c>fault</c> palette of a node's command host: black-holes and heals this node's remoting links to other
/// nodes through Akka.Remote's throttler transport adapter (<c>SetThrottle</c> with <see cref="Blackhole"/>, as Akka's own
/// test conductor does), for chaos runs and drills. The adapter is loaded only with <see cref="NodeOptions.FaultInjection"/>
/// (on every node of the cluster: addresses become <c>akka.trttl.tcp://</c>); without it every command fails saying so.
/// A fault acts only on this node's side of the link (frames it sends and/or receives); a full partition black-holes
/// both sides. Peers are named by the endpoint they advertise (<c>host:port</c> as in <c>--peers</c>, or
/// <c>akka.tcp://system@host:port</c>). Faults live in memory: a restarted node starts healed.
/// </summary>
public sealed class FaultCommandPalette : ICommandPalette
{
    private static readonly CommandArgument s_peer = new("peer", "A peer's endpoint as it advertises it: host:port (as in --peers) or akka.tcp://system@host:port.");

    /// <summary>How long the transport may take to apply a throttle.</summary>
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(5);

    private readonly KvNode _node;
    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, Direction> _faults = new(StringComparer.Ordinal);

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

    private async Task<CommandResult> BlackholeAsync(CommandContext context)
    {
        if (!TryParsePeer(context.Arguments.Get("peer")!, out var peer, out var problem))
        {
            return CommandResult.UsageError(problem);
        }

        var directionText = context.Arguments.Get("direction") ?? "both";
        Direction direction;
        switch (directionText)
        {
            case "in":
                direction = Direction.Receive;
                break;
            case "out":
                direction = Direction.Send;
                break;
            case "both":
                direction = Direction.Both;
                break;
            default:
                return CommandResult.UsageError($"direction must be in, out or both, not '{directionText}'");
        }

        if (peer == _node.Endpoint)
        {
            return CommandResult.UsageError($"{peer} is this node's own endpoint; name a peer");
        }

        if (NotEnabled() is { } off)
        {
            return off;
        }

        var key = peer.ToString();
        Direction? previous;
        lock (_gate)
        {
            previous = _faults.TryGetValue(key, out var found) ? found : null;
        }

        if (previous is { } old && old != direction)
        {
            // A new rule replaces the old one only for the directions it names: clear the rest first.
            await ThrottleAsync(peer, Direction.Both, Unthrottled.Instance).ConfigureAwait(false);
        }

        await ThrottleAsync(peer, direction, Blackhole.Instance).ConfigureAwait(false);
        lock (_gate)
        {
            _faults[key] = direction;
        }

        return CommandResult.Ok(
            Invariant($"black-holed {Describe(direction)} {peer} on node {_node.NodeId}\n"),
            new JsonObject { ["peer"] = peer.ToString(), ["direction"] = directionText });
    }

    private async Task<CommandResult> HealAsync(CommandContext context)
    {
        if (NotEnabled() is { } off)
        {
            return off;
        }

        if (context.Arguments.Get("peer") is not { } peerText)
        {
            string[] peers;
            lock (_gate)
            {
                peers = [.. _faults.Keys];
                _faults.Clear();
            }

            foreach (var faulted in peers)
            {
                await ThrottleAsync(KvEndpoint.Parse(faulted), Direction.Both, Unthrottled.Instance).ConfigureAwait(false);
            }

            return CommandResult.Ok(Invariant($"healed every link of node {_node.NodeId} ({peers.Length} fault(s) removed)\n"), new JsonObject { ["healed"] = peers.Length });
        }

        if (!TryParsePeer(peerText, out var peer, out var problem))
        {
            return CommandResult.UsageError(problem);
        }

        await ThrottleAsync(peer, Direction.Both, Unthrottled.Instance).ConfigureAwait(false);
        bool had;
        lock (_gate)
        {
            had = _faults.Remove(peer.ToString());
        }

        return CommandResult.Ok(
            Invariant($"healed the link to {peer} on node {_node.NodeId}{(had ? string.Empty : " (no fault was set on it)")}\n"),
            new JsonObject { ["healed"] = had ? 1 : 0 });
    }

    private CommandResult? NotEnabled() => _node.Options.FaultInjection
        ? null
        : CommandResult.Failed($"fault injection is off on node {_node.NodeId}: start every node with --fault-injection true (Akka.Remote's throttler adapter)");

    /// <summary>Applies <paramref name="mode"/> to the link with <paramref name="peer"/> through the throttler adapter.</summary>
    private async Task ThrottleAsync(KvEndpoint peer, Direction direction, ThrottleMode mode)
    {
        var provider = (IRemoteActorRefProvider)((ExtendedActorSystem)_node.System).Provider;
        var address = Address.Parse(_node.Options.AddressOf(peer));
        var done = await provider.Transport.ManagementCommand(new SetThrottle(address, direction, mode)).WaitAsync(s_commandTimeout).ConfigureAwait(false);
        if (!done)
        {
            throw new InvalidOperationException($"the transport refused to throttle {address}: is the throttler adapter loaded (--fault-injection true)?");
        }
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

    private static bool TryParsePeer(string text, out KvEndpoint peer, out string problem)
    {
        var raw = text.Contains("://", StringComparison.Ordinal) && text.IndexOf('@') is var at and > 0 ? text[(at + 1)..].TrimEnd('/') : text;
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

    private static string DirectionWord(Direction direction) => direction switch
    {
        Direction.Receive => "in",
        Direction.Send => "out",
        _ => "both",
    };

    private static string Describe(Direction direction) => direction switch
    {
        Direction.Receive => "traffic from",
        Direction.Send => "traffic to",
        _ => "all traffic with",
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
