namespace KvCluster.Raft;

/// <summary>Marks the KvCluster.Raft assembly; lets tests and tools locate it by type.</summary>
public static class AssemblyMarker
{
}
