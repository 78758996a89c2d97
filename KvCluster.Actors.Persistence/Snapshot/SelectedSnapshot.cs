namespace KvCluster.Actors.Persistence.Snapshot;

/// <summary>A snapshot loaded from a store.</summary>
/// <param name="Metadata">Which snapshot it is.</param>
/// <param name="Manifest">The serializer's type hint given when it was saved.</param>
/// <param name="Data">The serialized snapshot; owned by the receiver.</param>
public sealed record SelectedSnapshot(SnapshotMetadata Metadata, string Manifest, ReadOnlyMemory<byte> Data);
