using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

internal sealed partial class RaftLogActor
{
    /// <summary>Longest wait for the snapshot store to load one snapshot at recovery.</summary>
    private static readonly TimeSpan s_loadTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Snapshots refused at recovery, for the report when nothing valid is left.</summary>
    private readonly List<string> _refused = new();

    /// <summary>Sequence numbers of the snapshots known to be kept, oldest first (at most two after a save).</summary>
    private readonly List<long> _snapshotSequenceNrs = new();

    /// <summary>Index of the newest snapshot saved or recovered; an older one is never saved after it.</summary>
    private long _latestSnapshotIndex;

    /// <summary>The snapshot save in progress (one at a time), with the Ready that waits for it when it installs a
    /// leader's snapshot.</summary>
    private (SaveRaftSnapshot Request, PersistReady? Install)? _savingFor;

    /// <summary>The journal was read: rebuild the log, then load the latest snapshot to go with it.</summary>
    private void OnJournalReplayed()
    {
        _replayedAt = Stopwatch.GetTimestamp();
        var events = _events;
        _events = new List<(long, object)>();
        try
        {
            RaftJournalCodec.ReplayAll(events, _persistenceId, ref _hardState, _log, Mark);
        }
        catch (InvalidDataException e)
        {
            FailRecovery(e);
            return;
        }

        if (!_newestSnapshotRequested)
        {
            LoadSnapshotAtOrBefore(long.MaxValue);
        }
    }

    /// <summary>Whether the newest snapshot was asked for before the replay (<see cref="RequestNewestSnapshotEarly"/>).</summary>
    private bool _newestSnapshotRequested;

    /// <summary>
    /// Asks the snapshot store for the newest snapshot while the journal replays, so that the two reads (and the two
    /// plugins' first use) overlap instead of following each other; nothing is written during recovery, so the answer
    /// is the one a load after the replay would get. The answer waits in Akka's recovery stash until the replay is done.
    /// </summary>
    private void RequestNewestSnapshotEarly()
    {
        _newestSnapshotRequested = true;
        LoadSnapshotAtOrBefore(long.MaxValue);
    }

    private void LoadSnapshotAtOrBefore(long maxSequenceNr)
    {
        var request = new LoadSnapshot(_persistenceId, new SnapshotSelectionCriteria(maxSequenceNr, DateTime.MaxValue), long.MaxValue);
        SnapshotStore.Ask<object>(request, s_loadTimeout)
            .PipeTo(Self, success: r => new SnapshotLoaded(r, null), failure: e => new SnapshotLoaded(null, e));
    }

    private void OnSnapshotLoaded(SnapshotLoaded loaded)
    {
        switch (loaded.Result)
        {
            case LoadSnapshotResult { Snapshot: null }:
                Recovered(null);
                return;
            case LoadSnapshotResult { Snapshot: { } selected }:
                var sequenceNr = selected.Metadata.SequenceNr;
                if (selected.Snapshot is not byte[] envelope)
                {
                    Refuse(sequenceNr, null, $"it holds a {selected.Snapshot?.GetType().FullName ?? "null"}, not a Raft snapshot envelope");
                    LoadSnapshotAtOrBefore(sequenceNr - 1);
                    return;
                }

                DecodedSnapshot decoded;
                try
                {
                    decoded = RaftSnapshotEnvelope.Decode(envelope);
                }
                catch (InvalidDataException e)
                {
                    Refuse(sequenceNr, RaftSnapshotEnvelope.TryReadIndex(envelope), e.Message);
                    LoadSnapshotAtOrBefore(sequenceNr - 1);
                    return;
                }

                Recovered(new RecoveredSnapshot(decoded, envelope, sequenceNr));
                return;
            case LoadSnapshotFailed failed:
                FailRecovery(failed.Cause);
                return;
            default:
                FailRecovery(loaded.Failure ?? new InvalidOperationException($"The snapshot store answered {loaded.Result?.GetType().Name ?? "nothing"} to LoadSnapshot."));
                return;
        }
    }

    private void Refuse(long sequenceNr, long? index, string reason)
    {
        var what = $"snapshot of '{_persistenceId}' at sequence number {sequenceNr} (index {index?.ToString() ?? "unreadable"})";
        _refused.Add($"{what}: {reason}");
        Log.Error("Raft {Snapshot} is refused: {Reason}. Falling back to the previous snapshot and the log.", what, reason);
    }

    /// <summary>Combines the replayed journal with the snapshot (or none) and hands the result to the parent.</summary>
    private void Recovered(RecoveredSnapshot? snapshot)
    {
        var refused = _refused.Count == 0 ? "" : $"; refused: {string.Join("; ", _refused)}";
        if (snapshot is null)
        {
            if (_log.Offset > 0)
            {
                FailRecovery(new RaftUnrecoverableStateException(
                    $"Raft journal '{_persistenceId}' was compacted up to index {_log.Offset}, but no valid snapshot covers it{refused}."));
                return;
            }
        }
        else
        {
            var metadata = snapshot.Decoded.Metadata;
            if (metadata.Index < _log.Offset)
            {
                FailRecovery(new RaftUnrecoverableStateException(
                    $"Raft journal '{_persistenceId}' was compacted up to index {_log.Offset}, but the newest valid snapshot (sequence number {snapshot.SequenceNr}) covers only up to index {metadata.Index}{refused}."));
                return;
            }

            if (metadata.Index > _log.LastIndex || _log.Term(metadata.Index) != metadata.Term)
            {
                // A snapshot installed from the leader whose reset event was not written, or a log that diverged after
                // it: the snapshot holds only committed entries, so it wins (Raft §7, receiver rule 7).
                _log.Reset(metadata.Index, metadata.Term);
            }

            _hardState = _hardState with { Commit = Math.Max(_hardState.Commit, metadata.Index) };
            _latestSnapshotIndex = metadata.Index;
            _snapshotSequenceNrs.Add(snapshot.SequenceNr);
            Log.Info(
                "Raft {PersistenceId} recovers from snapshot {Index}/t{Term} (sequence number {SequenceNr}, {Bytes} bytes) and {Events} journal events.",
                _persistenceId, metadata.Index, metadata.Term, snapshot.SequenceNr, snapshot.Envelope.Length, _replayed);
        }

        if (_hardState.Commit > _log.LastIndex)
        {
            FailRecovery(new InvalidDataException($"Journal stream '{_persistenceId}' records commit index {_hardState.Commit} beyond its last entry {_log.LastIndex}."));
            return;
        }

        Log.Info(
            "Raft {PersistenceId}: recovery read {Events} journal events in {ReplayMs} ms; the snapshot store (asked meanwhile) was done {SnapshotMs} ms after that.",
            _persistenceId, _replayed, (int)Stopwatch.GetElapsedTime(_startedAt, _replayedAt).TotalMilliseconds,
            (int)Stopwatch.GetElapsedTime(_replayedAt).TotalMilliseconds);
        Context.Parent.Tell(new RaftLogRecovered(_hardState, _log, snapshot, _replayed), Self);
        _log = new StoredLog();
    }

    private void FailRecovery(Exception cause)
    {
        Log.Error(cause, "Raft journal {PersistenceId} cannot be recovered; stopping the Raft node.", _persistenceId);
        Context.Parent.Tell(new RaftLogRecoveryFailed(cause), Self);
        Context.Stop(Self);
    }

    private void Save(SaveRaftSnapshot request)
    {
        if (_savingFor is not null)
        {
            Stash.Stash();
            return;
        }

        if (request.Metadata.Index <= _latestSnapshotIndex)
        {
            Context.Parent.Tell(new RaftSnapshotSaveFailed(request, new InvalidOperationException(
                $"snapshot {request.Metadata.Index} is not newer than the stored snapshot {_latestSnapshotIndex}")), Self);
            return;
        }

        StartSave(request, null);
    }

    private void StartSave(SaveRaftSnapshot request, PersistReady? install)
    {
        _savingFor = (request, install);
        _saveStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        SaveSnapshot(request.Envelope);
    }

    /// <summary>When the save in progress began (<see cref="System.Diagnostics.Stopwatch"/> ticks), for the install's log line.</summary>
    private long _saveStarted;

    private void OnSnapshotSaved(SaveSnapshotSuccess success)
    {
        if (_savingFor is not { } saving)
        {
            return;
        }

        _savingFor = null;
        _latestSnapshotIndex = Math.Max(_latestSnapshotIndex, saving.Request.Metadata.Index);
        var sequenceNr = success.Metadata.SequenceNr;
        if (_snapshotSequenceNrs.Count == 0 || _snapshotSequenceNrs[^1] != sequenceNr)
        {
            _snapshotSequenceNrs.Add(sequenceNr);
        }

        if (_snapshotSequenceNrs.Count >= 2)
        {
            // Keep this one and the previous one: a damaged newest snapshot falls back to the previous (see Recovered).
            DeleteSnapshots(new SnapshotSelectionCriteria(_snapshotSequenceNrs[^2] - 1, DateTime.MaxValue));
            _snapshotSequenceNrs.RemoveRange(0, _snapshotSequenceNrs.Count - 2);
        }

        if (saving.Install is { } install)
        {
            // The follower sends nothing while this Ready is outstanding (not even heartbeat answers), so the time
            // is worth knowing when a leader with one live follower steps down meanwhile (CheckQuorum).
            Log.Info("Raft {PersistenceId}: the leader's snapshot {Index} ({Bytes} bytes) is durable after {Ms} ms.", _persistenceId,
                saving.Request.Metadata.Index, saving.Request.Envelope.Length, (long)System.Diagnostics.Stopwatch.GetElapsedTime(_saveStarted).TotalMilliseconds);
            PersistWritten(install);
        }
        else
        {
            Context.Parent.Tell(new RaftSnapshotSaved(saving.Request, sequenceNr, System.Diagnostics.Stopwatch.GetElapsedTime(_saveStarted)), Self);
        }

        Stash.UnstashAll();
    }

    private void OnSnapshotSaveFailed(SaveSnapshotFailure failure)
    {
        if (_savingFor is not { } saving)
        {
            return;
        }

        _savingFor = null;
        if (saving.Install is not null)
        {
            // The Ready that installs the snapshot cannot be made durable: like a failed journal write, stop.
            Log.Error(failure.Cause, "Raft {PersistenceId}: saving the leader's snapshot {Index} failed; stopping the Raft node.", _persistenceId, saving.Request.Metadata.Index);
            Context.Parent.Tell(new ReadyPersistFailed(failure.Cause), Self);
            Context.Stop(Self);
            return;
        }

        Context.Parent.Tell(new RaftSnapshotSaveFailed(saving.Request, failure.Cause), Self);
        Stash.UnstashAll();
    }

    /// <summary>Reads the newest snapshot for the parent and verifies it on the thread pool (a big image's SHA-256 must
    /// not hold up journal writes).</summary>
    private void LoadLatestForParent()
    {
        var request = new LoadSnapshot(_persistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue);
        SnapshotStore.Ask<object>(request, s_loadTimeout)
            .ContinueWith(VerifyLatest, TaskScheduler.Default)
            .PipeTo(Context.Parent, Self);
    }

    private static LatestRaftSnapshotLoaded VerifyLatest(Task<object> load)
    {
        if (!load.IsCompletedSuccessfully)
        {
            return new LatestRaftSnapshotLoaded(null, 0, load.Exception?.GetBaseException().Message ?? "the snapshot store did not answer");
        }

        if (load.Result is not LoadSnapshotResult { Snapshot.Snapshot: byte[] envelope })
        {
            return new LatestRaftSnapshotLoaded(null, 0, $"the snapshot store holds no Raft snapshot ({load.Result.GetType().Name})");
        }

        try
        {
            return new LatestRaftSnapshotLoaded(envelope, RaftSnapshotEnvelope.Decode(envelope).Metadata.Index, null);
        }
        catch (InvalidDataException e)
        {
            return new LatestRaftSnapshotLoaded(null, 0, e.Message);
        }
    }

    /// <summary>The snapshot store's answer to a recovery load (or the Ask's failure).</summary>
    private sealed record SnapshotLoaded(object? Result, Exception? Failure);
}
