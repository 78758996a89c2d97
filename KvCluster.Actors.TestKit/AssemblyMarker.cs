namespace KvCluster.Actors.TestKit;

/// <summary>Marks the KvCluster.Actors.TestKit assembly; lets tests and tools locate it by type.</summary>
public static class AssemblyMarker
{
}
