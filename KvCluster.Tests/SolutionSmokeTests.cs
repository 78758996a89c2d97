namespace KvCluster.Tests;

public sealed class SolutionSmokeTests
{
    [Fact]
    public void TestAssembly_Loads_EveryLayer()
    {
        // Each layer's assembly is referenced and loadable; a broken reference fails here first.
        string[] names =
        [
            "KvCluster.Actors", "KvCluster.Actors.Remote", "KvCluster.Actors.Cluster",
            "KvCluster.Actors.Persistence", "KvCluster.Actors.TestKit", "KvCluster.Raft",
        ];
        foreach (var name in names)
        {
            Assert.Equal(name, System.Reflection.Assembly.Load(name).GetName().Name);
        }
    }
}
