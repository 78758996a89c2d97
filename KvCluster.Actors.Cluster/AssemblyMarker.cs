namespace KvCluster.Actors.Cluster;

/// <summary>Marks the KvCluster.Actors.Cluster assembly; lets tests and tools locate it by type.</summary>
public static class AssemblyMarker
{
}
