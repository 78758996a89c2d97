namespace KvCluster.Actors;

/// <summary>Marks the KvCluster.Actors assembly; lets tests and tools locate it by type.</summary>
public static class AssemblyMarker
{
}
