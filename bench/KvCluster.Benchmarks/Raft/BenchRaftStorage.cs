using KvCluster.Raft.Core;

namespace KvCluster.Benchmarks.Raft;

/// <summary>
/// In-memory <see cref="IRaftStorage"/> for long benchmark runs: like <see cref="MemoryRaftStorage"/> but it forgets
/// entries far behind the tail (as log compaction would), so millions of proposals do not exhaust memory. Only valid
/// while no follower lags more than <see cref="Keep"/> entries, which holds for the in-process, lossless benchmark.
/// </summary>
internal sealed class BenchRaftStorage : IRaftStorage
{
    private const int Keep = 100_000;
    private readonly List<Entry> _entries = new();
    private long _offset = 1;
    private long _termBeforeOffset;

    public HardState InitialHardState { get; private set; }

    public long FirstIndex => _offset;

    public long LastIndex => _offset + _entries.Count - 1;

    /// <summary>What the forgotten prefix stands for; never sent (no follower lags that far here).</summary>
    public SnapshotMetadata Snapshot => _offset == 1 ? SnapshotMetadata.None : new SnapshotMetadata(_offset - 1, _termBeforeOffset, Membership.Empty, 0);

    public void Persist(Ready ready)
    {
        if (ready.TruncateFrom is long from && from <= LastIndex)
        {
            _entries.RemoveRange((int)(from - _offset), (int)(LastIndex - from + 1));
        }

        _entries.AddRange(ready.Entries);
        if (ready.HardState is HardState hs)
        {
            InitialHardState = hs;
        }

        if (_entries.Count > 2 * Keep)
        {
            _termBeforeOffset = _entries[Keep - 1].Term;
            _entries.RemoveRange(0, Keep);
            _offset += Keep;
        }
    }

    public long Term(long index) => index == _offset - 1 ? _termBeforeOffset : _entries[(int)(index - _offset)].Term;

    public IReadOnlyList<Entry> Entries(long lo, long hi, long maxBytes)
    {
        var result = new List<Entry>();
        long bytes = 0;
        for (var i = lo; i < hi; i++)
        {
            var e = _entries[(int)(i - _offset)];
            bytes += e.Size;
            if (result.Count > 0 && bytes > maxBytes)
            {
                break;
            }

            result.Add(e);
        }

        return result;
    }
}
