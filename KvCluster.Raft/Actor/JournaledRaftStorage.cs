using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// The core's <see cref="IRaftStorage"/> for a <see cref="RaftActor"/>: an in-memory index of the log and hard state
/// whose source of truth is the journal. It is filled from the events <see cref="RaftLogActor"/> recovered, and
/// updated only after the journal confirmed a write durable, so it never shows the core anything that a crash could
/// take back. Used on the RaftActor's mailbox turn only.
/// </summary>
internal sealed class JournaledRaftStorage : IRaftStorage
{
    /// <summary>Entry i (1-based) is at position i - 1.</summary>
    private readonly List<Entry> _entries;

    /// <summary>Creates the index from recovered state.</summary>
    /// <param name="hardState">The last hard state in the journal.</param>
    /// <param name="entries">The log as the journal's events rebuild it: consecutive from index 1.</param>
    /// <exception cref="InvalidOperationException">The entries are not consecutive from 1, or commit is beyond them.</exception>
    public JournaledRaftStorage(HardState hardState, IReadOnlyList<Entry> entries)
    {
        _entries = new List<Entry>(entries.Count);
        foreach (var entry in entries)
        {
            if (entry.Index != _entries.Count + 1)
            {
                throw new InvalidOperationException($"Recovered log is not consecutive: entry {entry.Index} follows index {_entries.Count}.");
            }

            _entries.Add(entry);
        }

        InitialHardState = hardState;
    }

    /// <inheritdoc />
    public HardState InitialHardState { get; private set; }

    /// <inheritdoc />
    public long FirstIndex => 1;

    /// <inheritdoc />
    public long LastIndex => _entries.Count;

    /// <summary>Reflects a write the journal confirmed durable: truncate, append, hard state (the order of <see cref="Ready"/>).</summary>
    /// <param name="truncateFrom">First index deleted, or null.</param>
    /// <param name="entries">Entries appended after the truncation, consecutive.</param>
    /// <param name="hardState">The new hard state, or null.</param>
    /// <exception cref="InvalidOperationException">The entries would leave a gap (a bug in the driver).</exception>
    public void Apply(long? truncateFrom, IReadOnlyList<Entry> entries, HardState? hardState)
    {
        if (truncateFrom is long from && from <= _entries.Count)
        {
            _entries.RemoveRange((int)(from - 1), (int)(_entries.Count - from + 1));
        }

        foreach (var entry in entries)
        {
            if (entry.Index != _entries.Count + 1)
            {
                throw new InvalidOperationException($"Entry {entry.Index} does not follow the last stored index {_entries.Count}.");
            }

            _entries.Add(entry);
        }

        if (hardState is HardState hs)
        {
            InitialHardState = hs;
        }
    }

    /// <inheritdoc />
    public long Term(long index)
    {
        if (index == 0)
        {
            return 0;
        }

        if (index < 0 || index > _entries.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"No stored entry at index {index}; stored range is [1, {_entries.Count}].");
        }

        return _entries[(int)(index - 1)].Term;
    }

    /// <inheritdoc />
    public IReadOnlyList<Entry> Entries(long lo, long hi, long maxBytes)
    {
        if (lo < 1 || hi > _entries.Count + 1 || lo > hi)
        {
            throw new ArgumentOutOfRangeException(nameof(lo), $"Range [{lo}, {hi}) is outside the stored range [1, {_entries.Count}].");
        }

        var result = new List<Entry>((int)Math.Min(hi - lo, 64));
        long bytes = 0;
        for (var i = lo; i < hi; i++)
        {
            var entry = _entries[(int)(i - 1)];
            bytes += entry.Size;
            if (result.Count > 0 && bytes > maxBytes)
            {
                break;
            }

            result.Add(entry);
        }

        return result;
    }
}
