namespace KvCluster.Client;

/// <summary>The base of every error <see cref="KvClient"/> reports; the message says what to do.</summary>
public abstract class KvClientException : Exception
{
    /// <summary>Creates the error.</summary>
    protected KvClientException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The contacted node is not the leader and no leader was found before the deadline. The write was not
/// proposed: retrying is safe. <see cref="LeaderEndpoint"/> is the hint, when one was known.
/// </summary>
public sealed class KvNotLeaderException : KvClientException
{
    /// <summary>Creates the error.</summary>
    public KvNotLeaderException(string message, string? leaderEndpoint)
        : base(message)
    {
        LeaderEndpoint = string.IsNullOrEmpty(leaderEndpoint) ? null : leaderEndpoint;
    }

    /// <summary>host:port of the node believed to lead, or null.</summary>
    public string? LeaderEndpoint { get; }
}

/// <summary>
/// No node could serve the request: none answered, the cluster has no leader (no quorum), or the node is
/// starting, stopping or busy. When <see cref="Indeterminate"/> is false the request never took effect.
/// </summary>
public class KvUnavailableException : KvClientException
{
    /// <summary>Creates the error.</summary>
    public KvUnavailableException(string message, bool indeterminate = false, Exception? inner = null)
        : base(message, inner)
    {
        Indeterminate = indeterminate;
    }

    /// <summary>True when a write may or may not have been committed.</summary>
    public bool Indeterminate { get; }
}

/// <summary>The router refused the request because it holds its maximum in flight; nothing took effect.</summary>
public sealed class KvBusyException : KvUnavailableException
{
    /// <summary>Creates the error.</summary>
    public KvBusyException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// The deadline passed before an answer. A write may or may not have been committed (it is never retried
/// automatically); a read had no effect.
/// </summary>
public sealed class KvTimeoutException : KvClientException
{
    /// <summary>Creates the error.</summary>
    public KvTimeoutException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>The request is malformed or over a limit (key or value size...); nothing reached the log. Not retried.</summary>
public sealed class KvBadRequestException : KvClientException
{
    /// <summary>Creates the error.</summary>
    public KvBadRequestException(string message)
        : base(message)
    {
    }
}
