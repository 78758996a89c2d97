using Akka.Actor;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// The name of one node of a multi-node spec (Akka's <c>RoleName</c>). It is also the node's actor system name unless
/// <see cref="MultiNodeSpecOptions.SystemName"/> gives them all one, so it follows actor system naming: letters,
/// digits, '-' and '_', starting with a letter or digit.
/// </summary>
/// <param name="Name">The role's name, for instance <c>node1</c>.</param>
public readonly record struct RoleName(string Name)
{
    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// One node of a running spec as every other node sees it: its role, its position in
/// <see cref="MultiNodeConfig.Roles"/> and its fixed network address (the same across crashes and restarts).
/// </summary>
/// <param name="Role">The role.</param>
/// <param name="Index">1-based position of the role in declaration order; a factory may use it as a node id.</param>
/// <param name="Address">The address the node's system must listen on:
/// <c>akka.trttl.tcp://role@127.0.0.1:port</c> (<see cref="MultiNodeSystems.Protocol"/>; the system is
/// <see cref="MultiNodeSpecOptions.SystemName"/> when set).</param>
public sealed record MultiNodeMember(RoleName Role, int Index, Address Address);
