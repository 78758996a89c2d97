namespace KvCluster.Raft.Core;

/// <summary>
/// The in-memory tail of the log not yet known to be persisted (etcd's <c>unstable</c>). Entries here take
/// precedence over storage at the same index: after a conflict the tail replaces stored entries that the next
/// <see cref="Ready"/> will truncate.
/// </summary>
internal sealed class UnstableLog
{
    /// <summary>The entries, consecutive from <see cref="Offset"/>.</summary>
    private readonly List<Entry> _entries = new();

    /// <summary>Creates an empty tail that would start at <paramref name="offset"/>.</summary>
    public UnstableLog(long offset)
    {
        Offset = offset;
    }

    /// <summary>Index of the first unstable entry (or of the next entry when empty).</summary>
    public long Offset { get; private set; }

    /// <summary>The unstable entries, in index order.</summary>
    public IReadOnlyList<Entry> Entries => _entries;

    /// <summary>A snapshot received from the leader and not yet persisted; the entries follow it.</summary>
    public SnapshotMetadata? Snapshot { get; private set; }

    /// <summary>Index of the last unstable entry, else of the pending snapshot, or null when there is neither.</summary>
    public long? LastIndex => _entries.Count > 0 ? Offset + _entries.Count - 1 : Snapshot?.Index;

    /// <summary>Replaces the whole tail with a snapshot to install: the log continues after it.</summary>
    public void Restore(SnapshotMetadata snapshot)
    {
        Snapshot = snapshot;
        _entries.Clear();
        Offset = snapshot.Index + 1;
    }

    /// <summary>Marks the pending snapshot at <paramref name="index"/> durable; ignored when it was replaced since.</summary>
    public void StableSnapTo(long index)
    {
        if (Snapshot is { } snapshot && snapshot.Index == index)
        {
            Snapshot = null;
        }
    }

    /// <summary>Term at <paramref name="index"/> if this tail (or its pending snapshot) covers it.</summary>
    public bool TryTerm(long index, out long term)
    {
        if (Snapshot is { } snapshot && index == snapshot.Index)
        {
            term = snapshot.Term;
            return true;
        }

        if (index >= Offset && index < Offset + _entries.Count)
        {
            term = _entries[(int)(index - Offset)].Term;
            return true;
        }

        term = 0;
        return false;
    }

    /// <summary>Marks entries up to (<paramref name="index"/>, <paramref name="term"/>) durable and drops them.
    /// Ignored when the tail no longer holds that entry (it was replaced after the Ready was taken).</summary>
    public void StableTo(long index, long term)
    {
        if (!TryTerm(index, out var t) || t != term)
        {
            return;
        }

        var count = (int)(index - Offset + 1);
        _entries.RemoveRange(0, count);
        Offset = index + 1;
    }

    /// <summary>Appends <paramref name="entries"/>, first dropping any tail entry at or after the first new index.</summary>
    public void TruncateAndAppend(IReadOnlyList<Entry> entries)
    {
        var from = entries[0].Index;
        if (from == Offset + _entries.Count)
        {
            // Directly follows the tail.
        }
        else if (from <= Offset)
        {
            // Replaces the whole tail (and, through the next Ready's TruncateFrom, stored entries from `from`).
            _entries.Clear();
            Offset = from;
        }
        else
        {
            _entries.RemoveRange((int)(from - Offset), (int)(Offset + _entries.Count - from));
        }

        _entries.AddRange(entries);
    }

    /// <summary>Entries [<paramref name="lo"/>, <paramref name="hi"/>), all inside this tail.</summary>
    public List<Entry> Slice(long lo, long hi) => _entries.GetRange((int)(lo - Offset), (int)(hi - lo));
}
