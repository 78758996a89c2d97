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
    /// Creates a target by name, or returns null when it is known but not available in this build
    /// (AkkaKv, until its client library exists: add an <see cref="IBenchTarget"/> for it here).
    /// </summary>
    public static IBenchTarget? Create(string name) => name switch
    {
        Etcd => new EtcdBenchTarget(),
        AkkaKv => null,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown bench target."),
    };
}
