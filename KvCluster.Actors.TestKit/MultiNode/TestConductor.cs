using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.FailureInjection;

namespace KvCluster.Actors.TestKit.MultiNode;

/// <summary>
/// The conductor of a <see cref="MultiNodeSpec{TNode}"/> (Akka's <c>TestConductor</c>): faults on the links between
/// nodes, applied to real frames on real sockets through each node's remoting <see cref="FailureInjector"/>, and
/// crashes and restarts of nodes. Directions are seen from <c>node</c>: <see cref="ThrottleDirection.Send"/> is the
/// traffic <c>node</c> sends to <c>target</c>, <see cref="ThrottleDirection.Receive"/> the traffic it receives from
/// <c>target</c>, <see cref="ThrottleDirection.Both"/> both. A new fault on a directed link replaces the previous one.
/// <para>
/// The conductor remembers every fault it set, so a node that restarts comes back behind the same faults (a restart
/// does not heal a partition). A black-hole is applied at both ends of the link (the sender drops, the receiver
/// drops), so it holds whichever end's connection carries a frame; drop and delay apply at the sender only, so they
/// do not compound. Thread-safe; callable from any role's code (usually inside <c>RunOn(..., first)</c>).
/// </para>
/// </summary>
/// <typeparam name="TNode">The spec's node handle type.</typeparam>
public sealed class TestConductor<TNode>
    where TNode : class, IMultiNodeHandle
{
    private readonly MultiNodeSpec<TNode> _spec;
    private readonly Lock _gate = new();

    /// <summary>The fault of each directed link (from → to) that is not a clean pass-through.</summary>
    private readonly Dictionary<(RoleName From, RoleName To), LinkFault> _faults = [];

    internal TestConductor(MultiNodeSpec<TNode> spec)
    {
        _spec = spec;
    }

    /// <summary>Drops every frame on the link(s) between <paramref name="node"/> and <paramref name="target"/> in <paramref name="direction"/> until healed.</summary>
    /// <exception cref="ArgumentException">A role is unknown, or both are the same.</exception>
    public void Blackhole(RoleName node, RoleName target, ThrottleDirection direction) =>
        Set(node, target, direction, new LinkFault(FaultKind.Blackhole, 0, 0, TimeSpan.Zero));

    /// <summary>
    /// Drops each frame in <paramref name="direction"/> with probability <paramref name="fraction"/>, from a generator
    /// seeded with <paramref name="seed"/> (print it to replay a run).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside 0..1.</exception>
    public void Drop(RoleName node, RoleName target, ThrottleDirection direction, double fraction, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fraction, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fraction, 1.0);
        Set(node, target, direction, new LinkFault(FaultKind.Drop, fraction, seed, TimeSpan.Zero));
    }

    /// <summary>Throttles the link: delays every message in <paramref name="direction"/> by <paramref name="delay"/>, keeping order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The delay is negative.</exception>
    public void Delay(RoleName node, RoleName target, ThrottleDirection direction, TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        Set(node, target, direction, new LinkFault(FaultKind.Delay, 0, 0, delay));
    }

    /// <summary>Heals the link(s) between <paramref name="node"/> and <paramref name="target"/> in <paramref name="direction"/>.</summary>
    public void PassThrough(RoleName node, RoleName target, ThrottleDirection direction) => Set(node, target, direction, null);

    /// <summary>
    /// Black-holes both directions of every link between a node of <paramref name="side"/> and a node outside it
    /// (a symmetric partition).
    /// </summary>
    public void Partition(IEnumerable<RoleName> side)
    {
        var inside = side.ToHashSet();
        foreach (var a in inside)
        {
            foreach (var b in _spec.Roles.Where(r => !inside.Contains(r)))
            {
                Blackhole(a, b, ThrottleDirection.Both);
            }
        }
    }

    /// <summary>Heals every link of the spec.</summary>
    public void HealAll()
    {
        lock (_gate)
        {
            _faults.Clear();
            foreach (var role in _spec.Roles)
            {
                if (_spec.NodeOrNull(role) is { } node)
                {
                    Injector(node).HealAll();
                }
            }
        }
    }

    /// <summary>True when the directed link <paramref name="from"/> → <paramref name="to"/> carries a fault the conductor set.</summary>
    public bool IsFaulty(RoleName from, RoleName to)
    {
        lock (_gate)
        {
            return _faults.ContainsKey((from, to));
        }
    }

    /// <summary>Kills <paramref name="role"/>'s node abruptly (<see cref="IMultiNodeHandle.CrashAsync"/>).</summary>
    /// <exception cref="InvalidOperationException">The node is already down.</exception>
    public async Task CrashAsync(RoleName role)
    {
        if (!await _spec.CrashNodeAsync(role).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"Node {role} cannot crash: it is already down.");
        }
    }

    /// <summary>Stops <paramref name="role"/>'s node gracefully (<see cref="IMultiNodeHandle.StopAsync"/>).</summary>
    /// <exception cref="InvalidOperationException">The node is already down.</exception>
    public async Task StopAsync(RoleName role)
    {
        if (!await _spec.StopNodeAsync(role).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"Node {role} cannot stop: it is already down.");
        }
    }

    /// <summary>
    /// Starts <paramref name="role"/>'s node again on the same address, from the same data directory, behind the
    /// faults currently set on its links.
    /// </summary>
    /// <returns>The new incarnation.</returns>
    /// <exception cref="InvalidOperationException">The node is running.</exception>
    /// <exception cref="TimeoutException">It did not start within <see cref="MultiNodeSpecOptions.StartTimeout"/>.</exception>
    public Task<TNode> RestartAsync(RoleName role) => _spec.StartNodeAsync(role);

    /// <summary>Crashes then restarts <paramref name="role"/>'s node.</summary>
    /// <returns>The new incarnation.</returns>
    public async Task<TNode> CrashAndRestartAsync(RoleName role)
    {
        await CrashAsync(role).ConfigureAwait(false);
        return await RestartAsync(role).ConfigureAwait(false);
    }

    /// <summary>A node (re)started: put back the faults of its links on its fresh injector.</summary>
    internal void OnNodeStarted(RoleName role, TNode node)
    {
        lock (_gate)
        {
            var injector = Injector(node);
            injector.HealAll();
            foreach (var ((from, to), fault) in _faults)
            {
                if (from == role)
                {
                    ApplySender(injector, _spec.AddressOf(to), fault);
                }
                else if (to == role && fault.Kind == FaultKind.Blackhole)
                {
                    injector.Blackhole(_spec.AddressOf(from), ThrottleDirection.Receive);
                }
            }
        }
    }

    private void Set(RoleName node, RoleName target, ThrottleDirection direction, LinkFault? fault)
    {
        _spec.AddressOf(node);
        _spec.AddressOf(target);
        if (node == target)
        {
            throw new ArgumentException($"A link joins two different nodes; both ends were {node}.", nameof(target));
        }

        lock (_gate)
        {
            if (direction != ThrottleDirection.Receive)
            {
                SetDirected(node, target, fault);
            }

            if (direction != ThrottleDirection.Send)
            {
                SetDirected(target, node, fault);
            }
        }
    }

    /// <summary>Replaces the fault of the directed link <paramref name="from"/> → <paramref name="to"/> at both of its ends.</summary>
    private void SetDirected(RoleName from, RoleName to, LinkFault? fault)
    {
        var sender = _spec.NodeOrNull(from);
        var receiver = _spec.NodeOrNull(to);
        var toAddress = _spec.AddressOf(to);
        var fromAddress = _spec.AddressOf(from);
        if (sender is not null)
        {
            Injector(sender).PassThrough(toAddress, ThrottleDirection.Send);
        }

        if (receiver is not null)
        {
            Injector(receiver).PassThrough(fromAddress, ThrottleDirection.Receive);
        }

        if (fault is null)
        {
            _faults.Remove((from, to));
            return;
        }

        _faults[(from, to)] = fault;
        if (sender is not null)
        {
            ApplySender(Injector(sender), toAddress, fault);
        }

        if (receiver is not null && fault.Kind == FaultKind.Blackhole)
        {
            Injector(receiver).Blackhole(fromAddress, ThrottleDirection.Receive);
        }
    }

    private static void ApplySender(FailureInjector injector, Remote.Transport.RemoteAddress target, LinkFault fault)
    {
        switch (fault.Kind)
        {
            case FaultKind.Blackhole:
                injector.Blackhole(target, ThrottleDirection.Send);
                break;
            case FaultKind.Drop:
                injector.Drop(target, ThrottleDirection.Send, fault.Fraction, fault.Seed);
                break;
            case FaultKind.Delay:
                injector.Delay(target, ThrottleDirection.Send, fault.DelayBy);
                break;
        }
    }

    private static FailureInjector Injector(TNode node) => RemoteExtension.Get(node.System).FailureInjector;

    private enum FaultKind
    {
        Blackhole,
        Drop,
        Delay,
    }

    private sealed record LinkFault(FaultKind Kind, double Fraction, int Seed, TimeSpan DelayBy);
}
