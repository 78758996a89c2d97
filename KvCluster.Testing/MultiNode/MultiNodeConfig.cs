using System.Text.RegularExpressions;

namespace KvCluster.Testing.MultiNode;

/// <summary>
/// The declaration of a multi-node spec (Akka's <c>MultiNodeConfig</c>): its roles, the configuration every node
/// gets, and per-node overrides. Configuration is a flat map of string keys to string values that the spec's
/// <see cref="IMultiNodeFactory{TNode}"/> interprets (for instance <c>raft.tick-interval-ms</c>); the harness only
/// merges it. Build it before <see cref="MultiNodeSpec{TNode}.StartAsync"/>; it is read once, then not changed.
/// </summary>
/// <example>
/// <code>
/// var config = new MultiNodeConfig();
/// var first = config.Role("node1");
/// var second = config.Role("node2");
/// config.CommonConfig("raft.tick-interval-ms", "25");
/// config.NodeConfig(second, "raft.tick-interval-ms", "50");   // node2 ticks slower
/// </code>
/// </example>
public sealed partial class MultiNodeConfig
{
    private readonly List<RoleName> _roles = [];
    private readonly Dictionary<string, string> _common = new(StringComparer.Ordinal);
    private readonly Dictionary<RoleName, Dictionary<string, string>> _perNode = [];

    /// <summary>The roles in declaration order.</summary>
    public IReadOnlyList<RoleName> Roles => _roles;

    /// <summary>Declares a role (a node).</summary>
    /// <param name="name">The role name, also the node's actor system name.</param>
    /// <returns>The role.</returns>
    /// <exception cref="ArgumentException">The name is not a valid actor system name, or is already declared.</exception>
    public RoleName Role(string name)
    {
        if (name is null || !SystemName().IsMatch(name))
        {
            throw new ArgumentException($"Role name '{name}' is not a valid actor system name: use letters, digits, '-' and '_', starting with a letter or digit.", nameof(name));
        }

        var role = new RoleName(name);
        if (_roles.Contains(role))
        {
            throw new ArgumentException($"Role '{name}' is declared twice.", nameof(name));
        }

        _roles.Add(role);
        return role;
    }

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> for every node (a node override wins).</summary>
    /// <returns>This config, for chaining.</returns>
    public MultiNodeConfig CommonConfig(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        _common[key] = value;
        return this;
    }

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> for <paramref name="role"/> only.</summary>
    /// <returns>This config, for chaining.</returns>
    /// <exception cref="ArgumentException">The role was not declared with <see cref="Role"/>.</exception>
    public MultiNodeConfig NodeConfig(RoleName role, string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        RequireRole(role);
        if (!_perNode.TryGetValue(role, out var map))
        {
            _perNode[role] = map = new Dictionary<string, string>(StringComparer.Ordinal);
        }

        map[key] = value;
        return this;
    }

    /// <summary>The configuration <paramref name="role"/> starts with: the common map overlaid with its own.</summary>
    /// <exception cref="ArgumentException">The role was not declared.</exception>
    public IReadOnlyDictionary<string, string> EffectiveConfig(RoleName role)
    {
        RequireRole(role);
        var merged = new Dictionary<string, string>(_common, StringComparer.Ordinal);
        if (_perNode.TryGetValue(role, out var own))
        {
            foreach (var (key, value) in own)
            {
                merged[key] = value;
            }
        }

        return merged;
    }

    private void RequireRole(RoleName role)
    {
        if (!_roles.Contains(role))
        {
            throw new ArgumentException($"Role '{role}' is not declared in this MultiNodeConfig (declared: {string.Join(", ", _roles)}).", nameof(role));
        }
    }

    /// <summary>True when <paramref name="name"/> is a valid Akka actor system name.</summary>
    internal static bool IsValidSystemName(string? name) => name is not null && SystemName().IsMatch(name);

    /// <summary>Akka's actor system name rule (ActorSystem.Create refuses any other name).</summary>
    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_-]*$")]
    private static partial Regex SystemName();
}
