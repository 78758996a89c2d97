using System.Text.Json;
using KvCluster.Node.Hosting;

namespace KvCluster.Tests.Node;

/// <summary>
/// What the node process sets for its runtime before anything starts: the GC's gen0 budget cap in the node's
/// runtimeconfig (RSS, issue 17) and DotNetty's allocator for Akka.Remote's accepted sockets.
/// </summary>
public sealed class NodeRuntimeSettingsTests
{
    [Fact]
    public void RemotingBuffers_NothingSet_ChoosesUnpooledBuffers()
    {
        var environment = new Dictionary<string, string>();

        RemotingBuffers.Configure(k => environment.GetValueOrDefault(k), (k, v) => environment[k] = v);

        Assert.Equal("unpooled", environment[RemotingBuffers.AllocatorTypeVariable]);
    }

    [Fact]
    public void RemotingBuffers_TheOperatorChose_LeavesItAlone()
    {
        var environment = new Dictionary<string, string> { [RemotingBuffers.AllocatorTypeVariable] = "pooled" };

        RemotingBuffers.Configure(k => environment.GetValueOrDefault(k), (k, v) => environment[k] = v);

        Assert.Equal("pooled", environment[RemotingBuffers.AllocatorTypeVariable]);
    }

    [Fact]
    public void NodeRuntimeConfig_CapsTheGen0Budget()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory);
        var root = baseDir.Parent!.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(root, "KvCluster.Node", "bin", baseDir.Parent.Name, baseDir.Name, "KvCluster.Node.runtimeconfig.json");

        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var budget = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").GetProperty("System.GC.Gen0MaxBudget");

        Assert.InRange(budget.GetInt64(), 1L << 20, 64L << 20);
    }
}
