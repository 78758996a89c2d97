namespace KvCluster.Raft.Core;

/// <summary>
/// An in-memory run of consecutive log entries that starts after a compaction point (etcd's <c>MemoryStorage</c>
/// layout): entries (<see cref="Offset"/>, <see cref="LastIndex"/>], plus the term of the entry at
/// <see cref="Offset"/>, which is no longer held but is still needed to match an AppendEntries after it. The shared
/// index of <see cref="MemoryRaftStorage"/>, the RaftActor's journaled storage and the journal replay. Not thread-safe.
/// </summary>
internal sealed class StoredLog
{
    /// <summary>Entry <see cref="Offset"/> + 1 + i is at position i.</summary>
    private readonly List<Entry> _entries = new();

    /// <summary>Index of the last compacted entry (0 when nothing was compacted).</summary>
    public long Offset { get; private set; }

    /// <summary>Term of the entry at <see cref="Offset"/> (0 for index 0).</summary>
    public long OffsetTerm { get; private set; }

    /// <summary>Index of the first entry held.</summary>
    public long FirstIndex => Offset + 1;

    /// <summary>Index of the last entry held, or <see cref="Offset"/> when none is.</summary>
    public long LastIndex => Offset + _entries.Count;

    /// <summary>The entries held, in index order.</summary>
    public IReadOnlyList<Entry> All => _entries;

    /// <summary>Term at <paramref name="index"/> for <see cref="Offset"/> ≤ index ≤ <see cref="LastIndex"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index was compacted or is beyond the last entry.</exception>
    public long Term(long index)
    {
        if (index == Offset)
        {
            return OffsetTerm;
        }

        if (index < Offset || index > LastIndex)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"No stored entry at index {index}; stored range is [{Offset}, {LastIndex}] (compacted up to {Offset}).");
        }

        return _entries[(int)(index - Offset - 1)].Term;
    }

    /// <summary>Entries [<paramref name="lo"/>, <paramref name="hi"/>) up to about <paramref name="maxBytes"/> (at least one).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the held entries.</exception>
    public IReadOnlyList<Entry> Entries(long lo, long hi, long maxBytes)
    {
        if (lo <= Offset || hi > LastIndex + 1 || lo > hi)
        {
            throw new ArgumentOutOfRangeException(nameof(lo), $"Range [{lo}, {hi}) is outside the stored range [{FirstIndex}, {LastIndex}] (compacted up to {Offset}).");
        }

        var result = new List<Entry>((int)Math.Min(hi - lo, 64));
        long bytes = 0;
        for (var i = lo; i < hi; i++)
        {
            var entry = _entries[(int)(i - Offset - 1)];
            bytes += entry.Size;
            if (result.Count > 0 && bytes > maxBytes)
            {
                break;
            }

            result.Add(entry);
        }

        return result;
    }

    /// <summary>Deletes every entry at or after <paramref name="index"/>; an index at or below <see cref="Offset"/>
    /// deletes every entry held (the compacted prefix is committed and never truncated).</summary>
    public void TruncateFrom(long index)
    {
        var from = Math.Max(index, FirstIndex);
        if (from <= LastIndex)
        {
            _entries.RemoveRange((int)(from - Offset - 1), (int)(LastIndex - from + 1));
        }
    }

    /// <summary>Appends one entry; it must follow <see cref="LastIndex"/>.</summary>
    /// <returns>False (nothing appended) when the entry does not follow the last one.</returns>
    public bool TryAppend(Entry entry)
    {
        if (entry.Index != LastIndex + 1)
        {
            return false;
        }

        _entries.Add(entry);
        return true;
    }

    /// <summary>Drops every entry up to <paramref name="index"/>, remembering its term; no-op at or below
    /// <see cref="Offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is beyond the last entry.</exception>
    public void CompactTo(long index)
    {
        if (index <= Offset)
        {
            return;
        }

        var term = Term(index);
        _entries.RemoveRange(0, (int)(index - Offset));
        Offset = index;
        OffsetTerm = term;
    }

    /// <summary>Drops every entry: the log continues after (<paramref name="index"/>, <paramref name="term"/>), as after
    /// installing a snapshot.</summary>
    public void Reset(long index, long term)
    {
        _entries.Clear();
        Offset = index;
        OffsetTerm = term;
    }
}
