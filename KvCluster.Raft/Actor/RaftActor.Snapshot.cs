using Akka.Actor;
using Akka.Event;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// Snapshots and log compaction (Raft §7, thesis ch. 5) in the shell:
/// <list type="number">
/// <item>Trigger: after a Ready's entries were applied, or the previous snapshot was saved, when
/// <see cref="RaftActorSettings.SnapshotEntries"/> entries or <see cref="RaftActorSettings.SnapshotBytes"/> log bytes
/// were applied since the last snapshot, or (after at least <see cref="RaftActorSettings.SnapshotMinEntries"/>) log
/// bytes as many as the last snapshot's size times <see cref="RaftActorSettings.SnapshotLogRatio"/>, the state machine
/// is captured on this turn (<see cref="IStateMachine.CaptureSnapshot"/>); serializing it and building the envelope
/// (SHA-256) run on the thread pool and come back as <see cref="SnapshotSerialized"/>. One snapshot at a time.</item>
/// <item>Save: the log child writes the envelope to the snapshot store; once it is durable the storage records it
/// (leaders send it to followers that need compacted entries), entries up to its index minus
/// <see cref="RaftActorSettings.CompactionMarginEntries"/> leave memory, and the journal is compacted up to that point
/// but never past the previous snapshot, so a damaged newest snapshot can fall back to the previous one and the log.</item>
/// <item>Install: a snapshot received from the leader (see <c>RaftActor.Transfer.cs</c>) is staged, stepped into the
/// core, persisted with the Ready that carries it, and restored into the state machine before anything else is
/// applied.</item>
/// </list>
/// </summary>
public sealed partial class RaftActor
{
    /// <summary>The latest durable snapshot of this node: index, term, envelope size and when it was taken; index 0 = none.</summary>
    private (long Index, long Term, long Bytes, DateTime? TakenAt) _snapshot = (0, 0, 0, null);

    /// <summary>The latest durable snapshot's envelope, kept to send to followers; null when there is none or it was
    /// dropped after <see cref="EnvelopeKeepTimeouts"/> election timeouts without a transfer (it is then read back from
    /// the snapshot store when a follower needs it), so an idle node does not hold a second copy of its state.</summary>
    private byte[]? _snapshotEnvelope;

    /// <summary>Election timeouts without a transfer after which the envelope is dropped from memory.</summary>
    private const int EnvelopeKeepTimeouts = 10;

    /// <summary>Ticks since the envelope was last sent.</summary>
    private int _envelopeIdleTicks;

    /// <summary>The envelope is being read back from the snapshot store.</summary>
    private bool _loadingEnvelope;

    /// <summary>A capture is being serialized or saved.</summary>
    private bool _snapshotting;

    /// <summary>Log bytes (<see cref="Entry.Size"/>) applied since the last capture.</summary>
    private long _appliedBytesSinceSnapshot;

    /// <summary>The journal's compaction point last asked for (or recovered).</summary>
    private long _journalCompactedTo;

    /// <summary>A snapshot received whole from the leader, verified, waiting for the core to install it.</summary>
    private (SnapshotMetadata Metadata, byte[] Envelope, DecodedSnapshot Decoded)? _staged;

    /// <summary>Who asked for <see cref="SnapshotBeforeStop"/> and waits for the snapshot it started (or the one in progress).</summary>
    private List<IActorRef>? _stopSnapshotWaiters;

    /// <summary>Takes a snapshot when the triggers say so; called after a Ready was applied and advanced, and after a
    /// snapshot was saved. With <paramref name="force"/> (<see cref="SnapshotBeforeStop"/>), whenever anything was
    /// applied since the last one. Returns whether one was started.</summary>
    private bool MaybeStartSnapshot(bool force = false)
    {
        if (_snapshotting || _node is null || _lastApplied != _node.AppliedIndex || _lastApplied < _node.FirstIndex - 1)
        {
            // (Below the first index: a leader's snapshot is being installed; it replaces the state anyway.)
            return false;
        }

        var entries = _lastApplied - _snapshot.Index;
        if (entries <= 0 || (!force && entries < _settings.SnapshotEntries && !SnapshotBytesDue() && !LogOutgrewSnapshot(entries)))
        {
            return false;
        }

        var metadata = _node.CreateSnapshotMetadata(_lastApplied);
        var capture = _stateMachine.CaptureSnapshot();
        var takenAt = DateTime.UtcNow;
        _snapshotting = true;
        _appliedBytesSinceSnapshot = 0;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Task.Run(() => new SnapshotSerialized(metadata, takenAt, RaftSnapshotEnvelope.Encode(metadata, takenAt, capture.Serialize()), System.Diagnostics.Stopwatch.GetElapsedTime(started)))
            .PipeTo(Self, failure: e => new SnapshotSerializeFailed(metadata, e));
        return true;
    }

    /// <summary>
    /// <see cref="SnapshotBeforeStop"/>: a snapshot at everything applied when the log a restart would replay is worth
    /// it (<see cref="RaftActorSettings.SnapshotOnStopRatio"/>); the asker is answered once it is durable. A snapshot in
    /// progress is waited for, then the rule is applied again.
    /// </summary>
    private void OnSnapshotBeforeStop(IActorRef asker)
    {
        if (_snapshotting)
        {
            (_stopSnapshotWaiters ??= new()).Add(asker);
            return;
        }

        var entries = _node is null ? 0 : _lastApplied - _snapshot.Index;
        var due = _settings.SnapshotOnStopRatio > 0
            && entries >= _settings.SnapshotOnStopMinEntries
            && _appliedBytesSinceSnapshot >= _snapshot.Bytes * _settings.SnapshotOnStopRatio;
        if (!due)
        {
            var reason = _settings.SnapshotOnStopRatio <= 0
                ? "snapshots on stop are off"
                : $"{entries} entries ({_appliedBytesSinceSnapshot} bytes) applied since snapshot {_snapshot.Index} ({_snapshot.Bytes} bytes): not worth one";
            asker.Tell(new SnapshotBeforeStopDone(_snapshot.Index, Taken: false, reason), Self);
            return;
        }

        if (!MaybeStartSnapshot(force: true))
        {
            asker.Tell(new SnapshotBeforeStopDone(_snapshot.Index, Taken: false, "the node is installing the leader's snapshot"), Self);
            return;
        }

        Log.Info("Raft node {NodeId}: stopping; taking a snapshot of the {Entries} entries applied since snapshot {Index}, so the next start replays none.", NodeId, entries, _snapshot.Index);
        (_stopSnapshotWaiters ??= new()).Add(asker);
    }

    /// <summary>A snapshot finished (saved or failed): answers the <see cref="SnapshotBeforeStop"/> askers, or takes
    /// the stop's snapshot now if the finished one was not it.</summary>
    private void AnswerStopSnapshotWaiters(bool saved)
    {
        if (_stopSnapshotWaiters is not { Count: > 0 } waiters || _snapshotting)
        {
            return;
        }

        var askers = waiters.ToArray();
        waiters.Clear();
        if (saved && _lastApplied > _snapshot.Index)
        {
            // The one that finished started before the stop was asked for (or entries were applied meanwhile).
            foreach (var asker in askers)
            {
                OnSnapshotBeforeStop(asker);
            }

            return;
        }

        foreach (var asker in askers)
        {
            asker.Tell(new SnapshotBeforeStopDone(_snapshot.Index, Taken: saved, saved ? $"snapshot {_snapshot.Index} saved" : "the snapshot failed (see the log)"), Self);
        }
    }

    private bool SnapshotBytesDue() => _settings.SnapshotBytes > 0 && _appliedBytesSinceSnapshot >= _settings.SnapshotBytes;

    /// <summary><see cref="RaftActorSettings.SnapshotLogRatio"/>: the log since the last snapshot is as big as that snapshot (times the ratio).</summary>
    private bool LogOutgrewSnapshot(long entries) =>
        _settings.SnapshotLogRatio > 0
        && entries >= _settings.SnapshotMinEntries
        && _appliedBytesSinceSnapshot >= _snapshot.Bytes * _settings.SnapshotLogRatio;

    private void OnSnapshotSerialized(SnapshotSerialized serialized)
    {
        if (serialized.Metadata.Index <= _snapshot.Index)
        {
            _snapshotting = false; // a newer snapshot (installed from the leader) arrived meanwhile
            if (!MaybeStartSnapshot())
            {
                AnswerStopSnapshotWaiters(saved: true);
            }

            return;
        }

        _serializedIn = serialized.Took;
        _logActor.Tell(new SaveRaftSnapshot(serialized.Metadata, serialized.Envelope, serialized.TakenAt), Self);
    }

    /// <summary>How long the snapshot being saved took to serialize (for its log line).</summary>
    private TimeSpan _serializedIn;

    private void OnSnapshotSaved(RaftSnapshotSaved saved)
    {
        _snapshotting = false;
        RecordSnapshotSaved(saved);

        // Entries applied while this one was being saved may already make the next one due: take it now rather than on
        // the next write, which an idle node may never get (its log and journal would stay longer than the settings say).
        if (!MaybeStartSnapshot())
        {
            AnswerStopSnapshotWaiters(saved: true);
        }
    }

    private void RecordSnapshotSaved(RaftSnapshotSaved saved)
    {
        var metadata = saved.Request.Metadata;
        if (_storage is null || metadata.Index <= _snapshot.Index)
        {
            return;
        }

        var previous = _snapshot.Index;
        _storage.SetSnapshot(metadata);
        if (!ReferenceEquals(_storage.Snapshot, metadata))
        {
            return;
        }

        _snapshot = (metadata.Index, metadata.Term, saved.Request.Envelope.Length, saved.Request.TakenAt);
        _snapshotEnvelope = saved.Request.Envelope;
        _envelopeIdleTicks = 0;
        var keepFrom = metadata.Index - _settings.CompactionMarginEntries;

        // The journal keeps every entry after the previous snapshot: if this one turns out damaged, recovery falls back
        // to that one and replays the log from there.
        var journalTo = Math.Min(keepFrom, previous);
        if (journalTo > _journalCompactedTo && journalTo >= _storage.FirstIndex - 1)
        {
            _logActor.Tell(new CompactJournal(journalTo, _storage.Term(journalTo)), Self);
            _journalCompactedTo = journalTo;
        }

        _storage.Compact(keepFrom);
        Log.Info(
            "Raft node {NodeId}: {Snapshot} saved ({Bytes} bytes, {Details}); log now starts at {FirstIndex}, journal compacted to {JournalTo}.",
            NodeId, $"snapshot {metadata.Index}/t{metadata.Term}", saved.Request.Envelope.Length,
            $"sequence number {saved.SequenceNr}; serialized in {(long)_serializedIn.TotalMilliseconds} ms, stored in {(long)saved.Stored.TotalMilliseconds} ms",
            _storage.FirstIndex, _journalCompactedTo);
    }

    /// <summary>The newest snapshot was read back from the store for a transfer.</summary>
    private void OnLatestSnapshotLoaded(LatestRaftSnapshotLoaded loaded)
    {
        _loadingEnvelope = false;
        if (loaded.Envelope is { } envelope && loaded.Index == _snapshot.Index)
        {
            _snapshotEnvelope = envelope;
            _envelopeIdleTicks = 0;
            return;
        }

        Log.Warning("Raft node {NodeId} could not read snapshot {Index} back from the store ({Reason}); followers that need it wait for the next snapshot.",
            NodeId, _snapshot.Index, loaded.Error ?? $"the store's newest is {loaded.Index}");
    }

    /// <summary>Per tick: drops the envelope after a long time without transfers.</summary>
    private void TickSnapshotEnvelope()
    {
        if (_snapshotEnvelope is not null && _outgoing.Count == 0
            && ++_envelopeIdleTicks >= _settings.Raft.ElectionTimeoutMaxTicks * EnvelopeKeepTimeouts)
        {
            _snapshotEnvelope = null;
        }
    }

    /// <summary>Sets up the state machine and snapshot state from what recovery found; returns the failure when the state machine refuses the image, else null.</summary>
    private Exception? RestoreRecoveredSnapshot(RecoveredSnapshot snapshot)
    {
        var metadata = snapshot.Decoded.Metadata;
        try
        {
            _stateMachine.RestoreSnapshot(metadata.Index, snapshot.Decoded.Data);
        }
        catch (InvalidDataException e)
        {
            return new RaftUnrecoverableStateException(
                $"Raft snapshot of '{_settings.EffectivePersistenceId}' at sequence number {snapshot.SequenceNr} (index {metadata.Index}) passed its checksum but the state machine refused it: {e.Message}");
        }

        _lastApplied = metadata.Index;
        _snapshot = (metadata.Index, metadata.Term, snapshot.Envelope.Length, snapshot.Decoded.TakenAt);
        _snapshotEnvelope = snapshot.Envelope;
        _envelopeIdleTicks = 0;
        return null;
    }

    /// <summary>The Ready that installs a leader's snapshot is durable: restore the state machine from its image.</summary>
    private void RestoreInstalledSnapshot(SnapshotMetadata metadata)
    {
        if (_staged is not { } staged || !ReferenceEquals(staged.Metadata, metadata))
        {
            throw new InvalidOperationException($"Broken invariant: the core installs snapshot {metadata.Index}, but no image was staged for it.");
        }

        _staged = null;
        _stateMachine.RestoreSnapshot(metadata.Index, staged.Decoded.Data); // verified; a refusal is a bug: the actor fails
        _lastApplied = metadata.Index;
        _appliedBytesSinceSnapshot = 0;
        _snapshot = (metadata.Index, metadata.Term, staged.Envelope.Length, staged.Decoded.TakenAt);
        _snapshotEnvelope = staged.Envelope;
        _envelopeIdleTicks = 0;
        foreach (var index in _pendingProposals.Keys.Where(i => i <= metadata.Index).ToArray())
        {
            _pendingProposals.Remove(index, out var pending);
            pending.Sender.Tell(new ProposeDropped(
                $"this node installed the leader's snapshot {metadata.Index} before applying the proposal at index {index}; it may or may not have been committed", Indeterminate: true), Self);
        }

        Log.Info("Raft node {NodeId} installed {Snapshot} from the leader ({Bytes} bytes).", NodeId, metadata, staged.Envelope.Length);
    }

    /// <summary>A capture serialized into its envelope, back on the actor's turn.</summary>
    private sealed record SnapshotSerialized(SnapshotMetadata Metadata, DateTime TakenAt, byte[] Envelope, TimeSpan Took) : INoSerializationVerificationNeeded;

    /// <summary>Serializing a capture failed.</summary>
    private sealed record SnapshotSerializeFailed(SnapshotMetadata Metadata, Exception Cause) : INoSerializationVerificationNeeded;
}
