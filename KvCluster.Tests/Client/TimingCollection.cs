namespace KvCluster.Tests.Client;

/// <summary>
/// Specs that bound how long the client waits: they run alone (not in parallel with other classes), so a starved
/// thread pool on a small machine does not read as a client that overstays its deadline.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Client timing";
}
