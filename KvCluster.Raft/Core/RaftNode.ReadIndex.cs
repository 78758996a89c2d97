namespace KvCluster.Raft.Core;

public sealed partial class RaftNode
{
    /// <summary>Leader: reads waiting for a quorum to confirm leadership, oldest first.</summary>
    private readonly List<PendingRead> _pendingReads = new();

    /// <summary>Leader: reads that arrived before the leader committed an entry of its term (thesis §6.4 step 1).</summary>
    private readonly List<(ulong Requester, ulong Context)> _readsAwaitingCommit = new();

    /// <summary>Leader: highest read round acknowledged by each follower in this term.</summary>
    private readonly Dictionary<ulong, ulong> _readAcks = new();

    /// <summary>Leader: the last read round broadcast in heartbeats; 0 before any.</summary>
    private ulong _readRound;

    /// <summary>Leader: reads joined round <see cref="_readRound"/> + 1, which goes out with the next Ready.</summary>
    private bool _readRoundPending;

    private void ResetReadState()
    {
        _pendingReads.Clear();
        _readsAwaitingCommit.Clear();
        _readAcks.Clear();
        _readRound = 0;
        _readRoundPending = false;
    }

    /// <summary>
    /// ReadIndex on the leader (thesis §6.4): record the commit index as the read index, then confirm leadership with a
    /// heartbeat round before releasing it. Waits first until an entry of this term is committed, since only then is
    /// the commit index known to be at least every entry committed before this leader.
    /// </summary>
    private void HandleReadRequest(ulong requester, ulong context)
    {
        if (!CommittedInCurrentTerm)
        {
            _readsAwaitingCommit.Add((requester, context));
            return;
        }

        if (_voters.Ids.Count == 1 && _voters.Contains(Id))
        {
            ReleaseRead(requester, context, _log.Committed);
            return;
        }

        _pendingReads.Add(new PendingRead(_readRound + 1, _log.Committed, requester, context));
        _readRoundPending = true;
    }

    private void ReleaseReadsWaitingForCommit()
    {
        if (_readsAwaitingCommit.Count == 0)
        {
            return;
        }

        var waiting = _readsAwaitingCommit.ToArray();
        _readsAwaitingCommit.Clear();
        foreach (var (requester, context) in waiting)
        {
            HandleReadRequest(requester, context);
        }
    }

    /// <summary>
    /// Leader: a read round was broadcast and a quorum has not confirmed it yet. Reads arriving meanwhile wait for the
    /// next round, which starts when this one is confirmed (etcd's read loop does the same): under load one heartbeat
    /// round serves every read of a round trip. Heartbeats on ticks carry the round again, so a lost ack only delays it.
    /// </summary>
    private bool ReadRoundInFlight => _pendingReads.Count > 0 && _pendingReads[0].Round <= _readRound;

    /// <summary>Whether a Ready would start a read round (reads are waiting and none is in flight).</summary>
    private bool ReadRoundDue => _readRoundPending && !ReadRoundInFlight;

    /// <summary>Starts the read round that reads joined since the last round began; heartbeats carry it.</summary>
    private void FlushReadRound()
    {
        if (!ReadRoundDue)
        {
            return;
        }

        _readRoundPending = false;
        _readRound++;
        BroadcastHeartbeat();
    }

    /// <summary>Leader heartbeat to every follower and learner (Raft §5.2), carrying the latest read round.</summary>
    private void BroadcastHeartbeat()
    {
        foreach (var id in ReplicationTargets())
        {
            var commit = Math.Min(_progress[id].Match, _log.Committed);
            Send(new Heartbeat(Id, id, Term, commit, _readRound));
        }
    }

    /// <summary>A follower confirmed leadership up to <paramref name="round"/>; release reads a quorum confirmed.</summary>
    private void HandleReadAck(ulong from, ulong round)
    {
        if (round == 0 || _pendingReads.Count == 0)
        {
            return;
        }

        if (!_readAcks.TryGetValue(from, out var acked) || acked < round)
        {
            _readAcks[from] = round;
        }

        var confirmed = (ulong)_voters.QuorumValue(id => id == Id ? (long)_readRound : (long)_readAcks.GetValueOrDefault(id));
        var released = 0;
        while (released < _pendingReads.Count && _pendingReads[released].Round <= confirmed)
        {
            var read = _pendingReads[released];
            ReleaseRead(read.Requester, read.Context, read.Index);
            released++;
        }

        _pendingReads.RemoveRange(0, released);
    }

    private void ReleaseRead(ulong requester, ulong context, long index)
    {
        if (requester == Id)
        {
            _readStates.Add(new ReadState(index, context));
        }
        else
        {
            Send(new ReadIndexResult(Id, requester, Term, context, index));
        }
    }

    /// <summary>A read waiting for round <see cref="Round"/> to be confirmed by a quorum.</summary>
    private readonly record struct PendingRead(ulong Round, long Index, ulong Requester, ulong Context);
}
