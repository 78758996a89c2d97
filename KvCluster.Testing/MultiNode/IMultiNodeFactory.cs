using Akka.Actor;
using Akka.Configuration;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// Starts the nodes of a multi-node spec. The spec supplies it, so the same spec runs on any node implementation:
/// a test assembly of parts, or the real node host. The harness calls <see cref="StartAsync"/> once per role when the
/// spec starts, and again after every crash or stop, always with the same role, port and data directory, from one
/// thread at a time per role. A factory builds its actor system on <see cref="NodeStartInfo.AkkaConfig"/> (remoting
/// through the throttler on the assigned port), for instance
/// <c>ActorSystem.Create(info.SystemName, myConfig.WithFallback(info.AkkaConfig))</c>.
/// </summary>
/// <typeparam name="TNode">The handle type the spec's code works with (it may add client operations).</typeparam>
public interface IMultiNodeFactory<TNode>
    where TNode : class, IMultiNodeHandle
{
    /// <summary>
    /// Starts the node described by <paramref name="info"/> and returns once its actor system listens on
    /// <see cref="NodeStartInfo.Address"/> (its port must be exactly <see cref="NodeStartInfo.Port"/>, its system
    /// name <see cref="NodeStartInfo.SystemName"/>, its transport the throttler of <see cref="NodeStartInfo.AkkaConfig"/>).
    /// State that must survive a crash lives under <see cref="NodeStartInfo.DataDirectory"/> and nowhere else; a
    /// restart must recover from it.
    /// </summary>
    /// <param name="info">Who the node is, where it listens, where its data lives and its configuration.</param>
    /// <param name="cancellationToken">Cancels a start that takes too long.</param>
    /// <returns>The running node.</returns>
    /// <exception cref="Exception">The port could not be bound: the harness retries while
    /// <see cref="MultiNodeSystems.IsBindFailure"/> says so, then fails.</exception>
    Task<TNode> StartAsync(NodeStartInfo info, CancellationToken cancellationToken);
}

/// <summary>
/// A running node of a multi-node spec. Returned by <see cref="IMultiNodeFactory{TNode}.StartAsync"/>; after
/// <see cref="CrashAsync"/> or <see cref="StopAsync"/> it is dead for good (a restart returns a new handle).
/// Both stops are idempotent and may be called from any thread.
/// </summary>
public interface IMultiNodeHandle
{
    /// <summary>The role this node plays.</summary>
    RoleName Role { get; }

    /// <summary>The node's remoting-enabled Akka actor system; the conductor reaches its throttler through it.</summary>
    ActorSystem System { get; }

    /// <summary>The address the node listens on (equal to <see cref="NodeStartInfo.Address"/>).</summary>
    Address Address { get; }

    /// <summary>
    /// Kills the node abruptly, as near to a SIGKILL as one process allows (<see cref="MultiNodeSystems.CrashAsync"/>:
    /// the system is aborted, skipping coordinated shutdown, so no cluster leave); peers see its connections close.
    /// Stores (journal files) must be closed when it completes so a restart can reopen them.
    /// </summary>
    Task CrashAsync();

    /// <summary>Stops the node in order (<see cref="MultiNodeSystems.StopAsync"/>: coordinated shutdown, then remoting closes).</summary>
    Task StopAsync();
}

/// <summary>Everything a factory needs to start (or restart) one node.</summary>
/// <param name="Self">This node: role, 1-based index, address.</param>
/// <param name="Members">Every node of the spec in declaration order (this one included), with their fixed addresses.</param>
/// <param name="DataDirectory">This node's own directory, created, kept across crashes and restarts, deleted when the spec ends.</param>
/// <param name="Config">The node's effective configuration (<see cref="MultiNodeConfig.EffectiveConfig"/>).</param>
/// <param name="Incarnation">1 for the first start, incremented by every restart.</param>
public sealed record NodeStartInfo(
    MultiNodeMember Self,
    IReadOnlyList<MultiNodeMember> Members,
    string DataDirectory,
    IReadOnlyDictionary<string, string> Config,
    int Incarnation)
{
    /// <summary>The role being started.</summary>
    public RoleName Role => Self.Role;

    /// <summary>The actor system name to use: <see cref="MultiNodeSpecOptions.SystemName"/>, or the role name when that is null.</summary>
    public string SystemName => Self.Address.System;

    /// <summary>The TCP port to listen on, on 127.0.0.1.</summary>
    public int Port => Self.Address.Port ?? throw new InvalidOperationException($"Node {Role} has no port in {Self.Address}.");

    /// <summary>The address to listen on.</summary>
    public Address Address => Self.Address;

    /// <summary>
    /// The Akka configuration every node of the spec starts from (<see cref="MultiNodeSystems.NodeConfig"/>): remote
    /// provider, DotNetty TCP on 127.0.0.1 and <see cref="Port"/> through the throttler adapter, messages serialized.
    /// Put a node's own configuration in front of it with <c>WithFallback</c>.
    /// </summary>
    public Config AkkaConfig => MultiNodeSystems.NodeConfig(Port);

    /// <summary>The configured value of <paramref name="key"/>, or <paramref name="fallback"/>.</summary>
    public string Get(string key, string fallback) => Config.TryGetValue(key, out var value) ? value : fallback;

    /// <summary>The configured integer <paramref name="key"/>, or <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">The value is not an integer; the message names the key and the node.</exception>
    public int GetInt(string key, int fallback)
    {
        if (!Config.TryGetValue(key, out var text))
        {
            return fallback;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ArgumentException($"Node {Role}: configuration '{key}' must be an integer, was '{text}'.", nameof(key));
    }
}
