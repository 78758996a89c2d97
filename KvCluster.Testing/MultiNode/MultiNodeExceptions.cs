namespace KvCluster.Testing.MultiNode;

/// <summary>
/// A barrier of a multi-node spec failed: it timed out (<see cref="Missing"/> names who did not arrive), a role
/// entered a different barrier while it was in progress, or the spec was aborted because a role failed.
/// </summary>
public sealed class MultiNodeBarrierException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="barrier">The barrier's name.</param>
    /// <param name="missing">The roles that had not arrived when it failed.</param>
    /// <param name="message">What happened, naming the barrier and the roles.</param>
    /// <param name="inner">The failure that aborted the spec, if any.</param>
    public MultiNodeBarrierException(string barrier, IReadOnlyList<RoleName> missing, string message, Exception? inner = null)
        : base(message, inner)
    {
        Barrier = barrier;
        Missing = missing;
    }

    /// <summary>The barrier that failed.</summary>
    public string Barrier { get; }

    /// <summary>The roles that had not arrived at it.</summary>
    public IReadOnlyList<RoleName> Missing { get; }
}

/// <summary>
/// A multi-node spec failed: <see cref="Role"/>'s code threw (<see cref="Exception.InnerException"/>), or the spec
/// did not finish within its deadline. The message names the role and, for the other roles, where they were.
/// </summary>
public sealed class MultiNodeSpecException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="role">The role whose failure ended the spec, or null when the deadline did.</param>
    /// <param name="message">What happened.</param>
    /// <param name="inner">The role's exception.</param>
    public MultiNodeSpecException(RoleName? role, string message, Exception? inner = null)
        : base(message, inner)
    {
        Role = role;
    }

    /// <summary>The role whose code failed first, or null when the spec ran out of time.</summary>
    public RoleName? Role { get; }
}
