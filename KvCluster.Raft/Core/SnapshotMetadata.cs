namespace KvCluster.Raft.Core;

/// <summary>
/// What a snapshot covers (Raft §7, thesis §5.1): the state machine after applying every entry up to
/// <see cref="Index"/>, whose term was <see cref="Term"/>, under the configuration <see cref="Membership"/> (the latest
/// configuration entry at or before <see cref="Index"/>, set at <see cref="MembershipIndex"/>). The image itself
/// (the state machine's bytes) never passes through the core: the driver keeps it beside this metadata.
/// </summary>
/// <param name="Index">The last log index the snapshot covers; 0 means no snapshot.</param>
/// <param name="Term">The term of the entry at <paramref name="Index"/>.</param>
/// <param name="Membership">The configuration in force at <paramref name="Index"/>.</param>
/// <param name="MembershipIndex">The index of the entry that set it; 0 for the bootstrap configuration.</param>
public sealed record SnapshotMetadata(long Index, long Term, Membership Membership, long MembershipIndex)
{
    /// <summary>No snapshot: index 0, term 0, the empty configuration.</summary>
    public static SnapshotMetadata None { get; } = new(0, 0, Membership.Empty, 0);

    /// <inheritdoc />
    public override string ToString() => $"snapshot {Index}/t{Term} ({Membership} from {MembershipIndex})";
}
