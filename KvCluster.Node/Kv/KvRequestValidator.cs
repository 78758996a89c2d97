using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>
/// Checks a client command against the configured <see cref="KvLimits"/> before it is proposed to
/// the Raft log, so a bad request costs no log entry, no fsync and no replication. The router calls
/// <see cref="Validate"/> on every command and, when it returns an error, replies with
/// <see cref="KvValidationError.ToResult"/> instead of proposing. Stateless and thread-safe.
/// </summary>
public sealed class KvRequestValidator
{
    /// <summary>Creates a validator for <paramref name="limits"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public KvRequestValidator(KvLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.EnsureValid();
        Limits = limits;
    }

    /// <summary>The limits this validator enforces.</summary>
    public KvLimits Limits { get; }

    /// <summary>
    /// Returns null when <paramref name="command"/> may be proposed, else the reason it may not
    /// (empty or oversized key, oversized value, missing operation, malformed range bounds).
    /// </summary>
    public KvValidationError? Validate(KvCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        return KvCommandRules.Check(command, Limits);
    }
}
