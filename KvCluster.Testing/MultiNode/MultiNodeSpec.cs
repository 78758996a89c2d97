// Akka.NET ships its multi-node test kit as Akka.MultiNode.TestAdapter and Akka.Remote.TestKit; neither is served by
// the package registry our machines reach (issue 14), so this harness is ours. It keeps Akka's model (roles, RunOn,
// barriers, a TestConductor) and Akka's mechanism for faults (Akka.Remote's throttler transport adapter, the one
// Akka's TestConductor drives), but runs every node in this process: one ActorSystem per role on 127.0.0.1 with
// real Akka.Remote TCP between them.
using System.Net;
using System.Net.Sockets;
using Akka.Actor;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// A running multi-node spec in the style of Akka's <c>MultiNodeSpec</c>, all nodes in this process: each role is
/// its own Akka actor system on its own TCP port of 127.0.0.1 (Akka.Remote's DotNetty transport under the throttler
/// adapter, addresses <c>akka.trttl.tcp://role@127.0.0.1:port</c>), started by the spec's
/// <see cref="IMultiNodeFactory{TNode}"/> with its own data directory. <see cref="RunAsync"/> runs the spec's code once per role, concurrently, with
/// <c>RunOn</c> and <c>EnterBarrier</c>; <see cref="Conductor"/> injects faults between nodes and crashes and restarts
/// them. Disposing crashes every node still running and deletes the data directories.
/// </summary>
/// <typeparam name="TNode">The spec's node handle type.</typeparam>
/// <example>
/// <code>
/// await using var spec = await MultiNodeSpec&lt;MyNode&gt;.StartAsync(config, new MyNodeFactory());
/// await spec.RunAsync(async node =>
/// {
///     await node.EnterBarrierAsync("started");
///     await node.RunOnAsync(() => node.Conductor.BlackholeAsync(first, second, ThrottleTransportAdapter.Direction.Both), first);
///     await node.EnterBarrierAsync("partitioned");
/// });
/// </code>
/// </example>
public sealed class MultiNodeSpec<TNode> : IAsyncDisposable
    where TNode : class, IMultiNodeHandle
{
    private readonly IMultiNodeFactory<TNode> _factory;
    private readonly Dictionary<RoleName, NodeSlot> _slots;
    private readonly string _dataRoot;
    private int _disposed;

    private MultiNodeSpec(MultiNodeConfig config, IMultiNodeFactory<TNode> factory, MultiNodeSpecOptions options, IReadOnlyList<MultiNodeMember> members, string dataRoot)
    {
        Config = config;
        _factory = factory;
        Options = options;
        Members = members;
        _dataRoot = dataRoot;
        _slots = members.ToDictionary(m => m.Role, m => new NodeSlot(m, Path.Combine(dataRoot, m.Role.Name)));
        Conductor = new TestConductor<TNode>(this);
    }

    /// <summary>The spec's declaration.</summary>
    public MultiNodeConfig Config { get; }

    /// <summary>The spec's limits.</summary>
    public MultiNodeSpecOptions Options { get; }

    /// <summary>Every node in declaration order, with its fixed address.</summary>
    public IReadOnlyList<MultiNodeMember> Members { get; }

    /// <summary>The roles in declaration order.</summary>
    public IReadOnlyList<RoleName> Roles => Config.Roles;

    /// <summary>Faults between nodes; crashes and restarts.</summary>
    public TestConductor<TNode> Conductor { get; }

    /// <summary>
    /// Reserves a loopback port per role, creates the data directories and starts every node (concurrently) through
    /// <paramref name="factory"/>. On failure every node already started is crashed and the directories deleted.
    /// </summary>
    /// <exception cref="ArgumentException">The config declares no role.</exception>
    /// <exception cref="TimeoutException">A node did not start within <see cref="MultiNodeSpecOptions.StartTimeout"/>.</exception>
    public static async Task<MultiNodeSpec<TNode>> StartAsync(MultiNodeConfig config, IMultiNodeFactory<TNode> factory, MultiNodeSpecOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(factory);
        options ??= MultiNodeSpecOptions.Default;
        options.Validate();
        if (config.Roles.Count == 0)
        {
            throw new ArgumentException("A multi-node spec needs at least one role; declare them with MultiNodeConfig.Role.", nameof(config));
        }

        var ports = ReservePorts(config.Roles.Count);
        var members = config.Roles.Select((role, i) => new MultiNodeMember(role, i + 1, new Address(MultiNodeSystems.Protocol, options.SystemName ?? role.Name, MultiNodeSystems.Host, ports[i]))).ToArray();
        var dataRoot = Path.Combine(options.DataRoot ?? Path.GetTempPath(), "akkakv-multinode", Guid.NewGuid().ToString("N"));
        var spec = new MultiNodeSpec<TNode>(config, factory, options, members, dataRoot);
        try
        {
            await Task.WhenAll(members.Select(m => spec.StartNodeAsync(m.Role))).ConfigureAwait(false);
            return spec;
        }
        catch
        {
            await spec.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The running node of <paramref name="role"/>.</summary>
    /// <exception cref="InvalidOperationException">The node is down (crashed or stopped and not restarted).</exception>
    public TNode Node(RoleName role) =>
        Slot(role).Current ?? throw new InvalidOperationException($"Node {role} is down (crashed or stopped); restart it with Conductor.RestartAsync first.");

    /// <summary>The running node of <paramref name="role"/>, or null when it is down.</summary>
    public TNode? NodeOrNull(RoleName role) => Slot(role).Current;

    /// <summary>True while <paramref name="role"/>'s node runs.</summary>
    public bool IsRunning(RoleName role) => Slot(role).Current is not null;

    /// <summary>The fixed address of <paramref name="role"/> (the same in every incarnation).</summary>
    public Address AddressOf(RoleName role) => Slot(role).Member.Address;

    /// <summary>The data directory of <paramref name="role"/> (the same in every incarnation).</summary>
    public string DataDirectoryOf(RoleName role) => Slot(role).DataDirectory;

    /// <summary>How many times <paramref name="role"/>'s node was started (1 before any restart).</summary>
    public int IncarnationOf(RoleName role) => Slot(role).Incarnation;

    /// <summary>
    /// Runs <paramref name="body"/> once per role, concurrently, each with its own <see cref="MultiNodeContext{TNode}"/>,
    /// and returns when every role finished. When one role throws, the barriers fail for the others and the context's
    /// token is cancelled; when the run exceeds <see cref="MultiNodeSpecOptions.RunTimeout"/>, the same happens.
    /// </summary>
    /// <exception cref="MultiNodeSpecException">A role failed (the message names it; the inner exception is its
    /// failure) or the deadline passed (the message says where each unfinished role was).</exception>
    public async Task RunAsync(Func<MultiNodeContext<TNode>, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var barriers = new BarrierCoordinator(Roles);
        using var abort = new CancellationTokenSource();
        var contexts = Roles.Select(r => new MultiNodeContext<TNode>(this, r, barriers, Options.BarrierTimeout, abort.Token)).ToArray();
        var failures = new List<(RoleName Role, Exception Error)>();
        var gate = new Lock();
        var runs = contexts.Select(context => Task.Run(async () =>
        {
            try
            {
                await body(context).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                lock (gate)
                {
                    failures.Add((context.Myself, e));
                }

                barriers.Abort(new InvalidOperationException($"role {context.Myself} failed: {e.Message}", e));
                await abort.CancelAsync().ConfigureAwait(false);
            }
        })).ToArray();

        var all = Task.WhenAll(runs);
        using var deadline = new CancellationTokenSource();
        if (await Task.WhenAny(all, Task.Delay(Options.RunTimeout, deadline.Token)).ConfigureAwait(false) != all)
        {
            // Where everyone is, before the abort below lets the unfinished roles end.
            var where = barriers.Describe();
            var unfinished = contexts.Where((_, i) => !runs[i].IsCompleted).Select(c => $"{c.Myself} (last barrier: {c.LastBarrier ?? "none"})").ToArray();
            barriers.Abort(new TimeoutException($"the run exceeded its deadline of {Options.RunTimeout.TotalSeconds:0.#} s"));
            await abort.CancelAsync().ConfigureAwait(false);
            throw new MultiNodeSpecException(null,
                $"The multi-node run did not finish within {Options.RunTimeout.TotalSeconds:0.#} s; unfinished roles: {string.Join(", ", unfinished)}" +
                (where is null ? "." : $"; {where}."));
        }

        await deadline.CancelAsync().ConfigureAwait(false);
        if (failures.Count > 0)
        {
            // The first failure is the cause; the others are usually barriers it aborted.
            var (role, error) = failures[0];
            var others = failures.Skip(1).Select(f => $"{f.Role}: {f.Error.GetType().Name}: {f.Error.Message}").ToArray();
            throw new MultiNodeSpecException(role,
                $"Role {role} failed: {error.GetType().Name}: {error.Message}" + (others.Length == 0 ? string.Empty : $" (then {string.Join("; ", others)})"),
                error);
        }
    }

    /// <summary>Crashes every node still running and deletes the data directories. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Task.WhenAll(_slots.Keys.Select(r => CrashNodeAsync(r))).ConfigureAwait(false);
        await DeleteDataRootAsync().ConfigureAwait(false);
    }

    /// <summary>Starts (or restarts) the node of <paramref name="role"/>, retrying while its port is still taken.</summary>
    internal async Task<TNode> StartNodeAsync(RoleName role)
    {
        var slot = Slot(role);
        await slot.Lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (slot.Current is not null)
            {
                throw new InvalidOperationException($"Node {role} is already running; crash or stop it before restarting it.");
            }

            Directory.CreateDirectory(slot.DataDirectory);
            var info = new NodeStartInfo(slot.Member, Members, slot.DataDirectory, Config.EffectiveConfig(role), slot.Incarnation + 1);
            using var timeout = new CancellationTokenSource(Options.StartTimeout);
            while (true)
            {
                TNode node;
                try
                {
                    node = await _factory.StartAsync(info, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (!timeout.IsCancellationRequested && e is not OperationCanceledException && MultiNodeSystems.IsBindFailure(e))
                {
                    // The port may linger for a moment after a crash; anything else fails below on the deadline.
                    await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                    continue;
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    throw new TimeoutException($"Node {role} did not start within {Options.StartTimeout.TotalSeconds:0.#} s on {info.Address}.");
                }

                if (!node.Address.Equals(info.Address))
                {
                    await node.CrashAsync().ConfigureAwait(false);
                    throw new InvalidOperationException($"The factory started node {role} at {node.Address}, but the spec assigned it {info.Address}.");
                }

                slot.Incarnation = info.Incarnation;
                slot.Current = node;
                await Conductor.OnNodeStartedAsync(role).ConfigureAwait(false);
                return node;
            }
        }
        finally
        {
            slot.Lifecycle.Release();
        }
    }

    /// <summary>Crashes the node of <paramref name="role"/> if it runs; true when it did.</summary>
    internal Task<bool> CrashNodeAsync(RoleName role) => TakeDownAsync(role, n => n.CrashAsync());

    /// <summary>Stops the node of <paramref name="role"/> gracefully if it runs; true when it did.</summary>
    internal Task<bool> StopNodeAsync(RoleName role) => TakeDownAsync(role, n => n.StopAsync());

    private async Task<bool> TakeDownAsync(RoleName role, Func<TNode, Task> how)
    {
        var slot = Slot(role);
        await slot.Lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (slot.Current is not { } node)
            {
                return false;
            }

            slot.Current = null;
            await how(node).ConfigureAwait(false);
            return true;
        }
        finally
        {
            slot.Lifecycle.Release();
        }
    }

    private NodeSlot Slot(RoleName role) =>
        _slots.TryGetValue(role, out var slot) ? slot : throw new ArgumentException($"Role '{role}' is not part of this spec (roles: {string.Join(", ", Roles)}).", nameof(role));

    private async Task DeleteDataRootAsync()
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if (Directory.Exists(_dataRoot))
                {
                    Directory.Delete(_dataRoot, recursive: true);
                }

                return;
            }
            catch (IOException)
            {
                await Task.Delay(50).ConfigureAwait(false); // a file closed asynchronously a moment ago
            }
            catch (UnauthorizedAccessException)
            {
                return;
            }
        }
    }

    /// <summary>Picks distinct free loopback ports by binding them all at once, then releasing them.</summary>
    private static int[] ReservePorts(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }

            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Stop();
            }
        }
    }

    /// <summary>One role's node over its lifetime: fixed address and directory, the current incarnation.</summary>
    private sealed class NodeSlot(MultiNodeMember member, string dataDirectory)
    {
        public MultiNodeMember Member { get; } = member;

        public string DataDirectory { get; } = dataDirectory;

        /// <summary>Serialises start, crash and stop of this node.</summary>
        public SemaphoreSlim Lifecycle { get; } = new(1, 1);

        public int Incarnation { get; set; }

        private TNode? _current;

        /// <summary>The running incarnation, or null while the node is down; read from any thread.</summary>
        public TNode? Current
        {
            get => Volatile.Read(ref _current);
            set => Volatile.Write(ref _current, value);
        }
    }
}
