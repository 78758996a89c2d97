namespace KvCluster.Raft.Core;

/// <summary>How the leader currently replicates to one follower (etcd's progress states).</summary>
internal enum ProgressState
{
    /// <summary>The leader does not know where the logs match: one AppendEntries at a time, then wait.</summary>
    Probe = 0,

    /// <summary>The logs match up to Match: entries are pipelined, bounded by the in-flight window.</summary>
    Replicate = 1,

    /// <summary>The follower needs compacted entries: a snapshot is being sent; nothing else until it is acknowledged
    /// or reported failed (etcd's StateSnapshot).</summary>
    Snapshot = 2,
}

/// <summary>
/// The leader's view of one follower (Raft Figure 2, "Volatile state on leaders": nextIndex and matchIndex) plus
/// flow control: probe/replicate state and the in-flight window.
/// </summary>
internal sealed class Progress
{
    /// <summary>Appends sent but not yet acknowledged, oldest first, as (last index, bytes).</summary>
    private readonly Queue<(long LastIndex, long Bytes)> _inflight = new();

    /// <summary>Window bound by message count.</summary>
    private readonly int _maxInflightMessages;

    /// <summary>Window bound by entry bytes.</summary>
    private readonly long _maxInflightBytes;

    /// <summary>Creates the progress of a follower whose log is not yet known.</summary>
    public Progress(long next, int maxInflightMessages, long maxInflightBytes)
    {
        Next = next;
        _maxInflightMessages = maxInflightMessages;
        _maxInflightBytes = maxInflightBytes;
    }

    /// <summary>Highest index known replicated on the follower (durably).</summary>
    public long Match { get; set; }

    /// <summary>Index of the next entry to send.</summary>
    public long Next { get; set; }

    /// <summary>Probe or Replicate.</summary>
    public ProgressState State { get; private set; }

    /// <summary>In Probe: an AppendEntries is outstanding, so send no other until a response or heartbeat response.</summary>
    public bool ProbeSent { get; set; }

    /// <summary>Whether the follower answered since the last CheckQuorum round.</summary>
    public bool RecentActive { get; set; }

    /// <summary>Messages in the window.</summary>
    public int InflightCount => _inflight.Count;

    /// <summary>Entry bytes in the window.</summary>
    public long InflightBytes { get; private set; }

    /// <summary>In Snapshot: the index of the snapshot being sent.</summary>
    public long PendingSnapshot { get; private set; }

    /// <summary>Whether no more appends may be sent right now.</summary>
    public bool IsPaused => State switch
    {
        ProgressState.Probe => ProbeSent,
        ProgressState.Snapshot => true,
        _ => _inflight.Count >= _maxInflightMessages || InflightBytes >= _maxInflightBytes,
    };

    /// <summary>Falls back to probing from just after <see cref="Match"/> (or <paramref name="next"/> when higher).</summary>
    public void BecomeProbe(long next)
    {
        State = ProgressState.Probe;
        Next = Math.Max(Match + 1, next);
        ProbeSent = false;
        PendingSnapshot = 0;
        ClearInflight();
    }

    /// <summary>Starts sending the snapshot at <paramref name="snapshotIndex"/>; appends wait until it is done.</summary>
    public void BecomeSnapshot(long snapshotIndex)
    {
        State = ProgressState.Snapshot;
        PendingSnapshot = snapshotIndex;
        Next = snapshotIndex + 1;
        ProbeSent = false;
        ClearInflight();
    }

    /// <summary>Starts pipelining after a successful match.</summary>
    public void BecomeReplicate()
    {
        State = ProgressState.Replicate;
        PendingSnapshot = 0;
        Next = Match + 1;
        ClearInflight();
    }

    /// <summary>Records an acknowledgement up to <paramref name="index"/>; returns whether Match grew.</summary>
    public bool MaybeUpdate(long index)
    {
        var updated = false;
        if (Match < index)
        {
            Match = index;
            updated = true;
            ProbeSent = false;
        }

        Next = Math.Max(Next, index + 1);
        return updated;
    }

    /// <summary>
    /// Handles a rejection of PrevLogIndex <paramref name="rejected"/>; <paramref name="hintNext"/> is the next index
    /// derived from the follower's conflict hint. Returns false for a stale rejection that must be ignored.
    /// </summary>
    public bool MaybeDecreaseTo(long rejected, long hintNext)
    {
        if (State == ProgressState.Snapshot)
        {
            return false; // the snapshot's outcome decides what comes next
        }

        if (State == ProgressState.Replicate)
        {
            if (rejected <= Match)
            {
                return false; // an older append, already superseded by a success
            }

            BecomeProbe(Math.Min(hintNext, rejected));
            return true;
        }

        if (Next - 1 != rejected)
        {
            return false; // not the probe we are waiting for
        }

        Next = Math.Max(Math.Min(rejected, hintNext), Match + 1);
        ProbeSent = false;
        return true;
    }

    /// <summary>Accounts for an AppendEntries just sent whose entries end at <paramref name="lastIndex"/>.</summary>
    public void OnSent(int entryCount, long lastIndex, long bytes)
    {
        if (State == ProgressState.Replicate)
        {
            if (entryCount > 0)
            {
                Next = lastIndex + 1;
                _inflight.Enqueue((lastIndex, bytes));
                InflightBytes += bytes;
            }
        }
        else
        {
            ProbeSent = true;
        }
    }

    /// <summary>Frees window slots for appends acknowledged up to <paramref name="index"/>.</summary>
    public void FreeInflightUpTo(long index)
    {
        while (_inflight.Count > 0 && _inflight.Peek().LastIndex <= index)
        {
            InflightBytes -= _inflight.Dequeue().Bytes;
        }
    }

    /// <summary>Frees the oldest slot so a stalled, full window can send again (its append may have been lost).</summary>
    public void FreeFirstInflight()
    {
        if (_inflight.Count > 0)
        {
            InflightBytes -= _inflight.Dequeue().Bytes;
        }
    }

    private void ClearInflight()
    {
        _inflight.Clear();
        InflightBytes = 0;
    }
}
