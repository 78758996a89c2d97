using Akka.Remote.Transport;
using Direction = Akka.Remote.Transport.ThrottleTransportAdapter.Direction;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// The conductor of a <see cref="MultiNodeSpec{TNode}"/> (Akka's <c>TestConductor</c>): faults on the links between
/// nodes, applied to real frames on real sockets through Akka.Remote's throttler transport adapter of each node
/// (<c>SetThrottle</c> sent with <c>Transport.ManagementCommand</c>, as Akka's own TestConductor does), and crashes
/// and restarts of nodes. Directions are Akka's <see cref="ThrottleTransportAdapter.Direction"/>, seen from
/// <c>node</c>: <see cref="Direction.Send"/> is the traffic <c>node</c> sends to <c>target</c>,
/// <see cref="Direction.Receive"/> the traffic it receives from <c>target</c>, <see cref="Direction.Both"/> both. A new
/// fault on a directed link replaces the previous one.
/// <para>
/// How each fault maps onto the throttler. A black-hole is set at both ends of the directed link (the sender's
/// <c>Send</c> and the receiver's <c>Receive</c>), so it holds on whichever of the two nodes' connections a frame
/// travels, and on connections opened later (a receiver refuses a new inbound association from a black-holed
/// sender). <see cref="DelayAsync"/> and <see cref="ThrottleAsync"/> act at the receiver (the throttler's send side
/// would stall frames larger than its bucket). <see cref="DropAsync"/> with a fraction below 1 is an approximation:
/// the throttler drops nothing at random, so the link is black-holed at the sender during seeded random slices of
/// <see cref="DropSlice"/> that add up to about that fraction of the time (a lossy, flapping link).
/// </para>
/// <para>
/// The conductor remembers every fault it set, so a node that restarts comes back behind the same faults (a restart
/// does not heal a partition). Thread-safe; callable from any role's code (usually inside <c>RunOn(..., first)</c>).
/// Every method completes once every running node acknowledged the change. The synchronous forms wait for the same
/// acknowledgement (they are meant for spec code, not actors).
/// </para>
/// </summary>
/// <typeparam name="TNode">The spec's node handle type.</typeparam>
public sealed partial class TestConductor<TNode>
    where TNode : class, IMultiNodeHandle
{
    /// <summary>The length of one slice of a partial <see cref="DropAsync"/>.</summary>
    public static readonly TimeSpan DropSlice = TimeSpan.FromMilliseconds(50);

    /// <summary>Bucket size of the receive-side token buckets: 1000 bytes, as Akka's TestConductor uses.</summary>
    private const int BucketBytes = 1000;

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    private const int CommandAttempts = 3;

    private readonly MultiNodeSpec<TNode> _spec;
    private readonly Lock _gate = new();

    /// <summary>Serialises the commands sent to the throttlers, so they arrive in the order the faults changed.</summary>
    private readonly SemaphoreSlim _apply = new(1, 1);

    /// <summary>The fault of each directed link (from → to) that is not a clean pass-through.</summary>
    private readonly Dictionary<(RoleName From, RoleName To), LinkFault> _faults = [];

    internal TestConductor(MultiNodeSpec<TNode> spec)
    {
        _spec = spec;
    }

    /// <summary>Drops every frame on the link(s) between <paramref name="node"/> and <paramref name="target"/> in <paramref name="direction"/> until healed.</summary>
    /// <exception cref="ArgumentException">A role is unknown, or both are the same.</exception>
    public Task BlackholeAsync(RoleName node, RoleName target, Direction direction) =>
        SetAsync(node, target, direction, () => LinkFault.Blackhole);

    /// <summary>
    /// Drops frames in <paramref name="direction"/>: all of them when <paramref name="fraction"/> is 1 (a
    /// black-hole), none when 0; in between, the link is black-holed during random slices of <see cref="DropSlice"/>,
    /// each with probability <paramref name="fraction"/>, from a generator seeded with <paramref name="seed"/>
    /// (the throttler has no per-frame random drop; see the class remarks).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside 0..1.</exception>
    public Task DropAsync(RoleName node, RoleName target, Direction direction, double fraction, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fraction, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fraction, 1.0);
        var salt = 0;
        return SetAsync(node, target, direction, () => fraction switch
        {
            >= 1.0 => LinkFault.Blackhole,
            <= 0.0 => null,
            _ => LinkFault.Flapping(fraction, seed + salt++),
        });
    }

    /// <summary>
    /// Delays the frames in <paramref name="direction"/>, keeping their order: a frame reaching an idle link waits
    /// <paramref name="delay"/> at the receiver; frames arriving meanwhile are released right behind it (see
    /// <see cref="LatencyThrottleMode"/>: this is the throttler's inbound queue, not a fixed per-frame latency).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The delay is negative.</exception>
    public Task DelayAsync(RoleName node, RoleName target, Direction direction, TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        return SetAsync(node, target, direction, () => delay == TimeSpan.Zero ? null : LinkFault.Latency(delay));
    }

    /// <summary>
    /// Limits the link to <paramref name="rateMBit"/> megabits per second in <paramref name="direction"/> (Akka's
    /// <c>TestConductor.Throttle</c>: a token bucket of 1000 bytes, here <see cref="RateThrottleMode"/> at the receiver,
    /// since Akka's own <c>TokenBucket</c> does not survive <c>serialize-messages = on</c>); 0 black-holes, a negative
    /// rate heals.
    /// </summary>
    public Task ThrottleAsync(RoleName node, RoleName target, Direction direction, double rateMBit) =>
        SetAsync(node, target, direction, () => rateMBit switch
        {
            < 0 => null,
            0 => LinkFault.Blackhole,
            _ => LinkFault.Rate(rateMBit),
        });

    /// <summary>Heals the link(s) between <paramref name="node"/> and <paramref name="target"/> in <paramref name="direction"/>.</summary>
    public Task PassThroughAsync(RoleName node, RoleName target, Direction direction) => SetAsync(node, target, direction, () => null);

    /// <summary>
    /// Black-holes both directions of every link between a node of <paramref name="side"/> and a node outside it
    /// (a symmetric partition).
    /// </summary>
    public async Task PartitionAsync(IEnumerable<RoleName> side)
    {
        var inside = side.ToHashSet();
        foreach (var a in inside)
        {
            foreach (var b in _spec.Roles.Where(r => !inside.Contains(r)))
            {
                await BlackholeAsync(a, b, Direction.Both).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Heals every link of the spec.</summary>
    public async Task HealAllAsync()
    {
        await _apply.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                foreach (var fault in _faults.Values)
                {
                    fault.StopFlapping();
                }

                _faults.Clear();
            }

            foreach (var at in _spec.Roles)
            {
                foreach (var peer in _spec.Roles.Where(r => r != at))
                {
                    await ApplyAtAsync(at, peer).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _apply.Release();
        }
    }

    /// <summary><see cref="BlackholeAsync"/>, waiting for it.</summary>
    public void Blackhole(RoleName node, RoleName target, Direction direction) => Wait(BlackholeAsync(node, target, direction));

    /// <summary><see cref="DropAsync"/>, waiting for it.</summary>
    public void Drop(RoleName node, RoleName target, Direction direction, double fraction, int seed) => Wait(DropAsync(node, target, direction, fraction, seed));

    /// <summary><see cref="DelayAsync"/>, waiting for it.</summary>
    public void Delay(RoleName node, RoleName target, Direction direction, TimeSpan delay) => Wait(DelayAsync(node, target, direction, delay));

    /// <summary><see cref="ThrottleAsync"/>, waiting for it.</summary>
    public void Throttle(RoleName node, RoleName target, Direction direction, double rateMBit) => Wait(ThrottleAsync(node, target, direction, rateMBit));

    /// <summary><see cref="PassThroughAsync"/>, waiting for it.</summary>
    public void PassThrough(RoleName node, RoleName target, Direction direction) => Wait(PassThroughAsync(node, target, direction));

    /// <summary><see cref="PartitionAsync"/>, waiting for it.</summary>
    public void Partition(IEnumerable<RoleName> side) => Wait(PartitionAsync(side));

    /// <summary><see cref="HealAllAsync"/>, waiting for it.</summary>
    public void HealAll() => Wait(HealAllAsync());

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

    /// <summary>A node (re)started: set the faults of its links on its fresh throttler.</summary>
    internal async Task OnNodeStartedAsync(RoleName role)
    {
        await _apply.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var peer in _spec.Roles.Where(r => r != role))
            {
                bool faulty;
                lock (_gate)
                {
                    faulty = _faults.ContainsKey((role, peer)) || _faults.ContainsKey((peer, role));
                }

                // A fresh throttler passes everything: only the faulty links need a command.
                if (faulty)
                {
                    await ApplyAtAsync(role, peer).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _apply.Release();
        }
    }

    private static void Wait(Task task)
    {
        var limit = CommandTimeout * (CommandAttempts + 1);
        if (!task.Wait(limit))
        {
            throw new TimeoutException($"The conductor's command was not acknowledged within {limit.TotalSeconds:0} s.");
        }
    }

    private async Task SetAsync(RoleName node, RoleName target, Direction direction, Func<LinkFault?> fault)
    {
        _spec.AddressOf(node);
        _spec.AddressOf(target);
        if (node == target)
        {
            throw new ArgumentException($"A link joins two different nodes; both ends were {node}.", nameof(target));
        }

        var links = new List<(RoleName From, RoleName To)>(2);
        if (direction != Direction.Receive)
        {
            links.Add((node, target));
        }

        if (direction != Direction.Send)
        {
            links.Add((target, node));
        }

        await _apply.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var link in links)
            {
                var next = fault();
                lock (_gate)
                {
                    if (_faults.Remove(link, out var previous))
                    {
                        previous.StopFlapping();
                    }

                    if (next is not null)
                    {
                        _faults[link] = next;
                    }
                }

                await ApplyAtAsync(link.From, link.To).ConfigureAwait(false);
                await ApplyAtAsync(link.To, link.From).ConfigureAwait(false);
                if (next is { Kind: FaultKind.Flapping })
                {
                    next.StartFlapping(this, link.From, link.To);
                }
            }
        }
        finally
        {
            _apply.Release();
        }
    }

    /// <summary>One slice of a flapping link passed: apply its new state at the sender.</summary>
    private async Task FlapAsync(LinkFault fault, RoleName from, RoleName to)
    {
        await _apply.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (!_faults.TryGetValue((from, to), out var current) || !ReferenceEquals(current, fault))
                {
                    return; // replaced meanwhile
                }
            }

            await ApplyAtAsync(from, to).ConfigureAwait(false);
        }
        finally
        {
            _apply.Release();
        }
    }

    /// <summary>
    /// Sets, on <paramref name="at"/>'s throttler, the modes of its links with <paramref name="peer"/>: what it sends
    /// (the fault of at → peer, sender side) and what it receives (the fault of peer → at, receiver side). The
    /// throttler remembers one mode and one direction per peer for associations opened later, so the mode that is not
    /// a pass-through is sent last (when both are faulty and differ, a later association gets only the send mode).
    /// Nothing happens while <paramref name="at"/> is down. Called under <see cref="_apply"/>.
    /// </summary>
    private async Task ApplyAtAsync(RoleName at, RoleName peer)
    {
        if (_spec.NodeOrNull(at) is not { } node)
        {
            return;
        }

        ThrottleMode send;
        ThrottleMode receive;
        lock (_gate)
        {
            send = _faults.TryGetValue((at, peer), out var outbound) ? outbound.SenderMode : Unthrottled.Instance;
            receive = _faults.TryGetValue((peer, at), out var inbound) ? inbound.ReceiverMode : Unthrottled.Instance;
        }

        var address = _spec.AddressOf(peer);
        if (ReferenceEquals(send, receive))
        {
            await CommandAsync(node, new SetThrottle(address, Direction.Both, send)).ConfigureAwait(false);
        }
        else if (send is Unthrottled)
        {
            await CommandAsync(node, new SetThrottle(address, Direction.Send, send)).ConfigureAwait(false);
            await CommandAsync(node, new SetThrottle(address, Direction.Receive, receive)).ConfigureAwait(false);
        }
        else
        {
            await CommandAsync(node, new SetThrottle(address, Direction.Receive, receive)).ConfigureAwait(false);
            await CommandAsync(node, new SetThrottle(address, Direction.Send, send)).ConfigureAwait(false);
        }
    }

    /// <summary>Sends <paramref name="command"/> to <paramref name="node"/>'s transport; a node that is terminating is skipped.</summary>
    private static async Task CommandAsync(TNode node, object command)
    {
        if (node.System.WhenTerminated.IsCompleted)
        {
            return;
        }

        bool acknowledged;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                acknowledged = await MultiNodeSystems.Provider(node.System).Transport.ManagementCommand(command).WaitAsync(CommandTimeout).ConfigureAwait(false);
                break;
            }
            catch (Exception) when (node.System.WhenTerminated.IsCompleted)
            {
                return; // crashed or stopped meanwhile: its links are gone anyway
            }
            catch (Exception e) when (attempt < CommandAttempts && IsTimeout(e))
            {
                // The throttler's manager asks each association actor with a 5 s timeout; on a loaded machine
                // (several systems starting on two cores) that can pass. The command is idempotent: send it again.
            }
        }

        if (!acknowledged && !node.System.WhenTerminated.IsCompleted)
        {
            throw new InvalidOperationException(
                $"Node {node.Role}'s transport refused {Describe(command)}: is the throttler adapter applied " +
                $"(akka.remote.dot-netty.tcp.applied-adapters = [trttl], addresses {MultiNodeSystems.Protocol}://)? Start nodes on NodeStartInfo.AkkaConfig.");
        }
    }

    private static bool IsTimeout(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is TimeoutException or Akka.Actor.AskTimeoutException or TaskCanceledException
                || (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsTimeout)))
            {
                return true;
            }
        }

        return false;
    }

    private static string Describe(object command) => command switch
    {
        SetThrottle set => $"{set.Mode} ({set.Direction}) toward {set.Address}",
        _ => command.ToString() ?? command.GetType().Name,
    };
}
