namespace KvCluster.Raft.Core;

/// <summary>
/// An in-memory <see cref="IRaftStorage"/> for tests, simulations and benchmarks: the "disk" that survives a
/// simulated crash (keep the instance, drop the <see cref="RaftNode"/>). Not thread-safe; one driver thread.
/// </summary>
public sealed class MemoryRaftStorage : IRaftStorage
{
    private readonly List<Entry> _entries = new();

    /// <inheritdoc />
    public HardState InitialHardState { get; private set; }

    /// <inheritdoc />
    public long FirstIndex => 1;

    /// <inheritdoc />
    public long LastIndex => _entries.Count;

    /// <summary>Persists the hard state of a <see cref="Ready"/>.</summary>
    /// <param name="state">The state to keep.</param>
    public void SetHardState(HardState state)
    {
        InitialHardState = state;
    }

    /// <summary>Deletes every entry at or after <paramref name="index"/> (the <see cref="Ready.TruncateFrom"/> step).</summary>
    /// <param name="index">First index to delete; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The index is below 1.</exception>
    public void TruncateFrom(long index)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(index, 1);
        if (index <= _entries.Count)
        {
            _entries.RemoveRange((int)(index - 1), (int)(_entries.Count - index + 1));
        }
    }

    /// <summary>
    /// Appends entries that must directly follow the last stored entry (after any truncation the Ready asked for).
    /// </summary>
    /// <param name="entries">Consecutive entries starting at <see cref="LastIndex"/> + 1.</param>
    /// <exception cref="ArgumentException">The entries would leave a gap or overlap.</exception>
    public void Append(IReadOnlyList<Entry> entries)
    {
        foreach (var entry in entries)
        {
            if (entry.Index != _entries.Count + 1)
            {
                throw new ArgumentException($"Entry index {entry.Index} does not follow the last stored index {_entries.Count}.", nameof(entries));
            }

            _entries.Add(entry);
        }
    }

    /// <summary>Applies one <see cref="Ready"/>'s durable part in the required order: truncate, append, hard state.</summary>
    /// <param name="ready">The batch returned by <see cref="RaftNode.GetReady"/>.</param>
    public void Persist(Ready ready)
    {
        if (ready.TruncateFrom is long from)
        {
            TruncateFrom(from);
        }

        Append(ready.Entries);
        if (ready.HardState is HardState state)
        {
            SetHardState(state);
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

        var result = new List<Entry>();
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
