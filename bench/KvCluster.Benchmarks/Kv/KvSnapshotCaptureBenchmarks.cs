using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;

namespace KvCluster.Benchmarks.Kv;

/// <summary>
/// Issue 17's snapshot cost split: what the RaftActor's turn pays (<see cref="KvStateMachine.CaptureSnapshot"/>: one
/// reference copy per key, in key order from the sorted index) against what runs later on another thread
/// (<see cref="KvSnapshotCapture.Serialize"/>: encode, SHA-256) and against a restore, on a store of <see cref="Keys"/>
/// keys with 256-byte values, each written twice (in a shuffled order, as clients write) so every key has a history of
/// two versions.
/// <c>dotnet run -c Release --project bench/KvCluster.Benchmarks -- --filter '*KvSnapshotCapture*'</c>
/// (add <c>--job short</c> for a quick look).
/// </summary>
[MemoryDiagnoser]
public class KvSnapshotCaptureBenchmarks
{
    private KvStateMachine _store = null!;
    private byte[] _image = null!;

    /// <summary>Keys in the store.</summary>
    [Params(100_000)]
    public int Keys { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var value = new byte[256];
        new Random(1).NextBytes(value);
        _store = new KvStateMachine();
        long index = 0;
        var order = Enumerable.Range(0, Keys).ToArray();
        new Random(2).Shuffle(order);
        for (var round = 0; round < 2; round++)
        {
            foreach (var i in order)
            {
                _store.Apply(++index, new KvCommand { EtcdPut = new KvCluster.Client.Etcd.PutRequest { Key = ByteString.CopyFromUtf8($"bench/key/{i:D6}"), Value = ByteString.CopyFrom(value) } });
            }
        }

        _image = _store.Snapshot();
    }

    /// <summary>The actor turn's share: capture only.</summary>
    [Benchmark(Baseline = true)]
    public KvSnapshotCapture CaptureOnTheActorTurn() => _store.CaptureSnapshot();

    /// <summary>The background share: capture then serialize the whole image.</summary>
    [Benchmark]
    public byte[] CaptureAndSerialize() => _store.CaptureSnapshot().Serialize();

    /// <summary>Installing the image into a fresh store (a follower's InstallSnapshot, a recovery).</summary>
    [Benchmark]
    public KvStateMachine Restore()
    {
        var store = new KvStateMachine();
        store.Restore(_image);
        return store;
    }
}
