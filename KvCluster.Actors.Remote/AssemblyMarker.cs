namespace KvCluster.Actors.Remote;

/// <summary>Marks the KvCluster.Actors.Remote assembly; lets tests and tools locate it by type.</summary>
public static class AssemblyMarker
{
}
