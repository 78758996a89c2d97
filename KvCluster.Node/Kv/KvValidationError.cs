using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>
/// Why a command was rejected: <see cref="KvStatus.InvalidArgument"/> (a key or value breaks a
/// limit, a bound is malformed) or <see cref="KvStatus.InvalidCommand"/> (no operation, or bytes
/// that are not a command). <paramref name="Message"/> names the problem and the limit so a person
/// can act on it.
/// </summary>
/// <param name="Status">The status reported to the client.</param>
/// <param name="Message">A human-readable reason naming the offending field and limit.</param>
public sealed record KvValidationError(KvStatus Status, string Message)
{
    /// <summary>
    /// The result to send back to the client for this rejection; <paramref name="revision"/> is the
    /// store revision the caller knows (0 when it is not known, for example in the router).
    /// </summary>
    public KvResult ToResult(long revision = 0) => new()
    {
        Status = Status,
        Error = Message,
        Revision = revision,
    };
}
