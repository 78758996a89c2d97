using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Actors.TestKit.MultiNode;

/// <summary>
/// Starts the nodes of a multi-node spec. The spec supplies it, so the same spec runs on any node implementation:
/// a test assembly of parts today, the real node host tomorrow. The harness calls <see cref="StartAsync"/> once per
/// role when the spec starts, and again after every crash or stop, always with the same role, port and data
/// directory, from one thread at a time per role.
/// </summary>
/// <typeparam name="TNode">The handle type the spec's code works with (it may add client operations).</typeparam>
public interface IMultiNodeFactory<TNode>
    where TNode : class, IMultiNodeHandle
{
    /// <summary>
    /// Starts the node described by <paramref name="info"/> and returns once its actor system listens on
    /// <see cref="NodeStartInfo.Address"/> (its port must be exactly <see cref="NodeStartInfo.Port"/>, its system
    /// name <see cref="NodeStartInfo.SystemName"/>). State that must survive a crash lives under
    /// <see cref="NodeStartInfo.DataDirectory"/> and nowhere else; a restart must recover from it.
    /// </summary>
    /// <param name="info">Who the node is, where it listens, where its data lives and its configuration.</param>
    /// <param name="cancellationToken">Cancels a start that takes too long.</param>
    /// <returns>The running node.</returns>
    /// <exception cref="IOException">The port could not be bound (the harness retries for a while, then fails).</exception>
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

    /// <summary>The node's remoting-enabled actor system; the conductor reaches its failure injector through it.</summary>
    ActorSystem System { get; }

    /// <summary>The address the node listens on (equal to <see cref="NodeStartInfo.Address"/>).</summary>
    RemoteAddress Address { get; }

    /// <summary>
    /// Kills the node abruptly, as a SIGKILL would: connections are torn down without draining or a goodbye, so
    /// peers see them drop; nothing more is sent; the journal files are closed so a restart can reopen them. What was
    /// durably written stays; what was in flight is lost or written, as after a crash.
    /// </summary>
    Task CrashAsync();

    /// <summary>Stops the node in order (actors stop, queued messages flush, then remoting closes).</summary>
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

    /// <summary>The actor system name to use: the role name.</summary>
    public string SystemName => Self.Address.System;

    /// <summary>The TCP port to listen on, on 127.0.0.1.</summary>
    public int Port => Self.Address.Port;

    /// <summary>The address to listen on.</summary>
    public RemoteAddress Address => Self.Address;

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
