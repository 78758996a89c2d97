using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>
/// The shape rules of the lease commands, shared by the router's validator and the state machine (through
/// <see cref="KvCommandRules"/>): a grant carries the id its node chose (never 0) and a TTL of at least one second.
/// </summary>
internal static class LeaseRules
{
    /// <summary>Null when the lease command in <paramref name="command"/> is acceptable, else the rejection.</summary>
    public static KvValidationError? Check(KvCommand command) => command.OpCase switch
    {
        KvCommand.OpOneofCase.LeaseGrant when command.LeaseGrant.ID == 0 =>
            new KvValidationError(KvStatus.InvalidArgument, "A lease grant in the log must carry the lease id the serving node chose (0 is no lease)."),
        KvCommand.OpOneofCase.LeaseGrant when command.LeaseGrant.TTL < 1 =>
            new KvValidationError(KvStatus.InvalidArgument, $"A lease grant in the log must carry a TTL of at least 1 s (the serving node raises it to the minimum), was {command.LeaseGrant.TTL}."),
        _ => null,
    };
}
