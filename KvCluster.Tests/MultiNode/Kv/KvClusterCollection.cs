namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>The KV cluster specs run one at a time (each starts three or five nodes on the machine's cores).</summary>
[CollectionDefinition(Name)]
public sealed class KvClusterCollection
{
    public const string Name = "KV multi-node cluster";
}
