namespace KvCluster.Raft.Core;

/// <summary>
/// A node's view of its log (etcd's <c>raftLog</c>): the persisted part in <see cref="IRaftStorage"/> followed by
/// the <see cref="UnstableLog"/> tail, with the commit and applied indexes. Invariant:
/// applied ≤ committed ≤ last index.
/// </summary>
internal sealed class RaftLog
{
    /// <summary>The durable entries, written by the caller.</summary>
    private readonly IRaftStorage _storage;

    /// <summary>The in-memory tail not yet persisted.</summary>
    private readonly UnstableLog _unstable;

    /// <summary>Creates the view of a (re)started node; <paramref name="applied"/> is what its state machine already holds.</summary>
    public RaftLog(IRaftStorage storage, long committed, long applied)
    {
        _storage = storage;
        _unstable = new UnstableLog(storage.LastIndex + 1);

        // A snapshot holds only committed entries; the commit index in the hard state may lag behind it because a
        // commit-only hard state is not synced at once.
        committed = Math.Max(committed, storage.Snapshot.Index);
        if (committed > storage.LastIndex)
        {
            throw new InvalidOperationException(
                $"Stored hard state commits index {committed} but storage ends at {storage.LastIndex}: the storage lost entries it acknowledged.");
        }

        if (applied > committed)
        {
            throw new ArgumentOutOfRangeException(nameof(applied), applied, $"Applied index {applied} is beyond the stored commit index {committed}.");
        }

        if (applied < storage.FirstIndex - 1)
        {
            throw new ArgumentOutOfRangeException(
                nameof(applied), applied,
                $"Applied index {applied} is below the compacted log (first index {storage.FirstIndex}): restore the state machine from the storage's snapshot {storage.Snapshot.Index} first and pass its index.");
        }

        Committed = committed;
        Applied = applied;
    }

    /// <summary>Highest index known committed.</summary>
    public long Committed { get; private set; }

    /// <summary>Highest index handed to the caller to apply and acknowledged by Advance.</summary>
    public long Applied { get; private set; }

    /// <summary>The storage this log reads.</summary>
    public IRaftStorage Storage => _storage;

    /// <summary>The unstable tail.</summary>
    public UnstableLog Unstable => _unstable;

    /// <summary>Index of the last entry, stable or not.</summary>
    public long LastIndex => _unstable.LastIndex ?? _storage.LastIndex;

    /// <summary>Index of the first entry the log holds (after a pending snapshot, else the storage's first index).</summary>
    public long FirstIndex => _unstable.Snapshot is { } pending ? pending.Index + 1 : _storage.FirstIndex;

    /// <summary>The snapshot behind the log: one pending installation, else the storage's latest.</summary>
    public SnapshotMetadata Snapshot => _unstable.Snapshot ?? _storage.Snapshot;

    /// <summary>Term of the last entry (0 for an empty log).</summary>
    public long LastTerm => Term(LastIndex);

    /// <summary>Term at <paramref name="index"/>; throws when the index is outside the log.</summary>
    public long Term(long index)
    {
        if (TryTerm(index, out var term))
        {
            return term;
        }

        throw new InvalidOperationException($"Broken invariant: no entry at index {index}; log spans [{FirstIndex - 1}, {LastIndex}].");
    }

    /// <summary>Term at <paramref name="index"/> when the log holds it (index 0 has term 0).</summary>
    public bool TryTerm(long index, out long term)
    {
        if (_unstable.TryTerm(index, out term))
        {
            return true;
        }

        if (_unstable.Snapshot is not null || index < _storage.FirstIndex - 1 || index > LastIndex || index >= _unstable.Offset)
        {
            term = 0;
            return false;
        }

        term = _storage.Term(index);
        return true;
    }

    /// <summary>Whether the log holds an entry at <paramref name="index"/> with <paramref name="term"/>.</summary>
    public bool MatchTerm(long index, long term) => TryTerm(index, out var t) && t == term;

    /// <summary>
    /// Whether a log ending at (<paramref name="lastIndex"/>, <paramref name="lastTerm"/>) is at least as up-to-date
    /// as this one: later last term wins, equal terms compare length (Raft §5.4.1).
    /// </summary>
    public bool IsUpToDate(long lastIndex, long lastTerm)
    {
        var myTerm = LastTerm;
        return lastTerm > myTerm || (lastTerm == myTerm && lastIndex >= LastIndex);
    }

    /// <summary>
    /// The follower's AppendEntries receiver rules 2–5 (Raft Figure 2): when the log matches at
    /// (<paramref name="prevIndex"/>, <paramref name="prevTerm"/>), deletes a conflicting suffix, appends the new
    /// entries and advances commit to min(<paramref name="leaderCommit"/>, last new index).
    /// </summary>
    /// <param name="prevIndex">Index of the entry before <paramref name="entries"/>.</param>
    /// <param name="prevTerm">Its term.</param>
    /// <param name="leaderCommit">The leader's commit index.</param>
    /// <param name="entries">The leader's entries following prevIndex.</param>
    /// <param name="appended">The entries actually written (everything from the first conflict or missing index); every
    /// entry at or after the first of them was replaced. Empty when nothing changed.</param>
    /// <returns>The last new index, or null when the log does not match at prevIndex.</returns>
    public long? MaybeAppend(long prevIndex, long prevTerm, long leaderCommit, IReadOnlyList<Entry> entries, out IReadOnlyList<Entry> appended)
    {
        appended = Array.Empty<Entry>();
        if (!MatchTerm(prevIndex, prevTerm))
        {
            return null;
        }

        var lastNew = prevIndex + entries.Count;
        var conflict = FindConflict(entries);
        if (conflict != 0)
        {
            if (conflict <= Committed)
            {
                throw new InvalidOperationException(
                    $"Broken invariant: entry {conflict} conflicts with the leader but is already committed (commit {Committed}).");
            }

            var start = (int)(conflict - (prevIndex + 1));
            var suffix = entries.Skip(start).ToList();
            Append(suffix);
            appended = suffix;
        }

        CommitTo(Math.Min(leaderCommit, lastNew));
        return lastNew;
    }

    /// <summary>Index of the first entry that is missing here or has a different term, or 0 when all are present.</summary>
    public long FindConflict(IReadOnlyList<Entry> entries)
    {
        foreach (var entry in entries)
        {
            if (!MatchTerm(entry.Index, entry.Term))
            {
                return entry.Index;
            }
        }

        return 0;
    }

    /// <summary>Appends entries to the tail; they must start at or before <see cref="LastIndex"/> + 1 and after the commit index.</summary>
    public void Append(IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }

        var from = entries[0].Index;
        if (from <= Committed || from > LastIndex + 1)
        {
            throw new InvalidOperationException(
                $"Broken invariant: appending at {from} with commit {Committed} and last index {LastIndex}.");
        }

        _unstable.TruncateAndAppend(entries);
    }

    /// <summary>Raises the commit index; never lowers it.</summary>
    public void CommitTo(long index)
    {
        if (index <= Committed)
        {
            return;
        }

        if (index > LastIndex)
        {
            throw new InvalidOperationException($"Broken invariant: commit {index} is beyond the last index {LastIndex}.");
        }

        Committed = index;
    }

    /// <summary>
    /// Replaces the log with a snapshot from the leader (Raft §7, InstallSnapshot receiver rules 6-7): every entry is
    /// discarded, the log continues after the snapshot, and everything it covers is committed. The storage is reset
    /// and the state machine restored when the driver carries out the Ready that holds it.
    /// </summary>
    public void Restore(SnapshotMetadata snapshot)
    {
        if (snapshot.Index <= Committed)
        {
            throw new InvalidOperationException($"Broken invariant: restoring snapshot {snapshot.Index} at or below commit {Committed}.");
        }

        _unstable.Restore(snapshot);
        Committed = snapshot.Index;
    }

    /// <summary>The pending snapshot at <paramref name="index"/> was persisted and restored into the state machine.</summary>
    public void SnapshotApplied(long index)
    {
        _unstable.StableSnapTo(index);
        if (index > Applied)
        {
            Applied = index;
        }
    }

    /// <summary>Records that entries up to <paramref name="index"/> have been applied.</summary>
    public void AppliedTo(long index)
    {
        if (index > Committed || index < Applied)
        {
            throw new InvalidOperationException($"Broken invariant: applied {index} outside [{Applied}, {Committed}].");
        }

        Applied = index;
    }

    /// <summary>
    /// Entries from <paramref name="lo"/> up to the last index, at most <paramref name="maxCount"/> of them and about
    /// <paramref name="maxBytes"/> (at least one when any exist).
    /// </summary>
    public List<Entry> Entries(long lo, long maxBytes, int maxCount)
    {
        var hi = Math.Min(LastIndex + 1, lo + maxCount);
        var result = new List<Entry>();
        if (lo >= hi)
        {
            return result;
        }

        if (lo < FirstIndex)
        {
            throw new InvalidOperationException($"Broken invariant: entries from {lo} were compacted (first index {FirstIndex}).");
        }

        if (lo < _unstable.Offset)
        {
            var stored = _storage.Entries(lo, Math.Min(hi, _unstable.Offset), maxBytes);
            result.AddRange(stored);
            if (result.Count < Math.Min(hi, _unstable.Offset) - lo)
            {
                return result; // the byte limit stopped the stored part
            }
        }

        var uLo = Math.Max(lo, _unstable.Offset);
        if (uLo < hi)
        {
            long bytes = 0;
            foreach (var e in result)
            {
                bytes += e.Size;
            }

            foreach (var e in _unstable.Slice(uLo, hi))
            {
                bytes += e.Size;
                if (result.Count > 0 && bytes > maxBytes)
                {
                    break;
                }

                result.Add(e);
            }
        }

        return result;
    }

    /// <summary>Committed entries not yet applied, in order: at most <paramref name="max"/>.</summary>
    public List<Entry> NextCommittedEntries(int max = int.MaxValue) =>
        Committed > Applied && _unstable.Snapshot is null ? Entries(Applied + 1, long.MaxValue, (int)Math.Min(max, Committed - Applied)) : new List<Entry>();

    /// <summary>First index of the run of entries sharing the term of the entry at <paramref name="index"/>.</summary>
    public long FirstIndexOfTermAt(long index)
    {
        var term = Term(index);
        var first = index;
        while (first - 1 > Committed && TryTerm(first - 1, out var t) && t == term)
        {
            first--;
        }

        return first;
    }
}
