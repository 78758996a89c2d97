using Akka.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>Fault rates of a <see cref="ChaosNetwork"/>.</summary>
internal sealed record ChaosSettings(double DropRate, double DuplicateRate, int MaxDelayTicks, TimeSpan Tick) : INoSerializationVerificationNeeded;

/// <summary>
/// A simulated network that loses, duplicates and delays (hence reorders) Raft messages, and honours partitions.
/// Delays go through the system scheduler, so on virtual time a delayed message arrives when the test advances the
/// clock. Fault decisions come from a seeded <see cref="Random"/> (the actors' interleaving on Akka's dispatcher is not
/// fixed, so a seed reproduces the faults' sequence, not the exact message order). Every routing decision is reported
/// to <c>trace</c> (when given).
/// </summary>
internal sealed class ChaosNetwork : ReceiveActor
{
    private readonly Dictionary<ulong, IActorRef> _nodes = new();
    private readonly Random _random;
    private readonly Action<string>? _trace;
    private ChaosSettings _settings;
    private IReadOnlySet<ulong>? _side;

    /// <summary>Messages routed (of them, delayed), cut by a partition, dropped by chance, and addressed to an unregistered node.</summary>
    private long _routed, _delayed, _cut, _dropped, _unknown;

    /// <summary>The last message routed to each node, and the ref it went to.</summary>
    private readonly Dictionary<ulong, string> _lastTo = new();

    public ChaosNetwork(int seed, ChaosSettings settings, Action<string>? trace = null)
    {
        _random = new Random(seed);
        _settings = settings;
        _trace = trace;
        Receive<RegisterNode>(r => _nodes[r.Id] = r.Ref);
        Receive<Partition>(p => _side = p.Side);
        Receive<Heal>(_ => _side = null);
        Receive<ChaosSettings>(s => _settings = s);
        Receive<RaftMessage>(Route);
        Receive<GetReport>(_ => Sender.Tell(Diagnostics()));
        Receive<GetHandledCount>(_ => Sender.Tell(_routed + _cut + _dropped + _unknown));
    }

    /// <summary>Counters, settings, partition and registered refs, for a liveness failure's report.</summary>
    private string Diagnostics() =>
        $"network: side {(_side is null ? "none" : string.Join(",", _side))}, drop {_settings.DropRate} dup {_settings.DuplicateRate} delay {_settings.MaxDelayTicks}; " +
        $"routed {_routed} (delayed {_delayed}), cut {_cut}, dropped {_dropped}, no target {_unknown}; " +
        $"nodes {string.Join(",", _nodes.OrderBy(n => n.Key).Select(n => $"{n.Key}={n.Value.Path.Name}"))}; " +
        $"last to each: {string.Join("; ", _lastTo.OrderBy(n => n.Key).Select(n => n.Value))}";

    private void Route(RaftMessage message)
    {
        if (_side is not null && _side.Contains(message.From) != _side.Contains(message.To))
        {
            _cut++;
            _trace?.Invoke($"cut {Describe(message)}");
            return;
        }

        if (!_nodes.TryGetValue(message.To, out var target) || _random.NextDouble() < _settings.DropRate)
        {
            if (target is null)
            {
                _unknown++;
            }
            else
            {
                _dropped++;
            }

            _trace?.Invoke($"drop {Describe(message)}");
            return;
        }

        _routed++;
        _lastTo[message.To] = $"{Describe(message)} to {target.Path.Name}";
        var copies = _random.NextDouble() < _settings.DuplicateRate ? 2 : 1;
        for (var i = 0; i < copies; i++)
        {
            var delay = _random.Next(0, _settings.MaxDelayTicks + 1);
            _trace?.Invoke($"send {Describe(message)} delay {delay}");
            if (delay == 0)
            {
                target.Tell(message, Sender);
            }
            else
            {
                _delayed++;
                Context.System.Scheduler.ScheduleTellOnce(_settings.Tick * delay, target, message, Sender);
            }
        }
    }

    private static string Describe(RaftMessage message) => $"{message.GetType().Name} {message.From}->{message.To} t{message.Term}";
}

/// <summary>Asks a test actor (<see cref="ChaosNetwork"/>, the simulation's error recorder) for a report of its state, a string.</summary>
internal sealed record GetReport : INoSerializationVerificationNeeded
{
    /// <summary>The single instance.</summary>
    public static GetReport Instance { get; } = new();
}

/// <summary>Asks a <see cref="ChaosNetwork"/> how many Raft messages it handled (routed, cut or dropped), a long.</summary>
internal sealed record GetHandledCount : INoSerializationVerificationNeeded
{
    /// <summary>The single instance.</summary>
    public static GetHandledCount Instance { get; } = new();
}
