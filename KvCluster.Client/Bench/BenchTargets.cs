using KvCluster.Client.Bench.AkkaKv;
using KvCluster.Client.Bench.Etcd;

namespace KvCluster.Client.Bench;

/// <summary>The targets `kv bench --target` knows.</summary>
internal static class BenchTargets
{
    /// <summary>AkkaKv itself, through its client library.</summary>
    public const string AkkaKv = "akkakv";

    /// <summary>etcd v3 through its gRPC KV API.</summary>
    public const string Etcd = "etcd";

    /// <summary>Every accepted <c>--target</c> value.</summary>
    public static readonly string[] Names = [AkkaKv, Etcd];

    /// <summary>
    /// Creates a target by name. The return type stays nullable so a build may ship a known target it cannot
    /// drive (the runner then reports it as not available); every target of this build is available.
    /// </summary>
    public static IBenchTarget? Create(string name) => name switch
    {
        Etcd => new EtcdBenchTarget(),
        AkkaKv => new AkkaKvBenchTarget(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown bench target."),
    };
}
