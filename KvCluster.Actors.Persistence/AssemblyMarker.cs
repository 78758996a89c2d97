namespace KvCluster.Actors.Persistence;

/// <summary>Marks the KvCluster.Actors.Persistence assembly; lets tests and tools locate it by type.</summary>
public static class AssemblyMarker
{
}
