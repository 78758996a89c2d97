using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Snapshot;

namespace KvCluster.Actors.Persistence;

/// <summary>
/// Recovery: 1. load the latest matching snapshot and offer it; 2. replay the later events, each
/// delivered through the mailbox as a message so handlers run on the actor; 3. read the highest
/// sequence number (it survives deletes, so numbering continues after them); 4. hand
/// <see cref="RecoveryCompleted"/> to the recover handlers and unstash the waiting commands.
/// </summary>
public abstract partial class PersistentActor
{
    private void StartRecovery()
    {
        _instanceId = Interlocked.Increment(ref s_nextInstanceId);
        IsRecovering = true;
        LastSequenceNr = 0;
        ResetWrites();
        _state = RecoveryStarted;
        var recovery = Recovery;
        var self = Self;
        var instanceId = _instanceId;
        SnapshotStore.LoadAsync(PersistenceId, recovery.FromSnapshot).ContinueWith(
            t => self.Tell(new SnapshotLoaded(instanceId, recovery, t.IsCompletedSuccessfully ? t.Result : null, t.Exception?.GetBaseException()), null),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Waiting for the snapshot; commands wait.</summary>
    private bool RecoveryStarted(object message)
    {
        if (message is not SnapshotLoaded loaded)
        {
            return IsOwnProtocol(message) ? true : StashInternal(message);
        }
        if (loaded.InstanceId != _instanceId)
        {
            return true;
        }
        if (loaded.Error is not null)
        {
            FailRecovery(loaded.Error, null);
            return true;
        }
        try
        {
            if (loaded.Snapshot is { } selected)
            {
                var snapshot = _persistence.Serializer.Deserialize(selected.Manifest, selected.Data);
                LastSequenceNr = selected.Metadata.SequenceNr;
                _inRecoverHandler = true;
                Dispatch(_recoverHandlers, new SnapshotOffer(selected.Metadata, snapshot));
            }
        }
        catch (Exception ex)
        {
            FailRecovery(ex, loaded.Snapshot);
            return true;
        }
        finally
        {
            _inRecoverHandler = false;
        }
        StartReplay(loaded.Recovery);
        return true;
    }

    private void StartReplay(Recovery recovery)
    {
        _state = Replaying;
        var self = Self;
        var instanceId = _instanceId;
        var persistenceId = PersistenceId;
        var journal = Journal;
        var from = LastSequenceNr + 1;
        _ = Task.Run(async () =>
        {
            try
            {
                await journal.ReplayMessagesAsync(persistenceId, from, recovery.ToSequenceNr, recovery.ReplayMax,
                    e => self.Tell(new ReplayedEvent(instanceId, e), null)).ConfigureAwait(false);
                var highest = await journal.ReadHighestSequenceNrAsync(persistenceId).ConfigureAwait(false);
                self.Tell(new ReplayCompleted(instanceId, Math.Min(highest, recovery.ToSequenceNr), null), null);
            }
            catch (Exception ex)
            {
                self.Tell(new ReplayCompleted(instanceId, 0, ex), null);
            }
        });
    }

    /// <summary>Replaying events; commands wait.</summary>
    private bool Replaying(object message)
    {
        switch (message)
        {
            case ReplayedEvent replayed when replayed.InstanceId == _instanceId:
                object? evt = null;
                try
                {
                    evt = _persistence.Serializer.Deserialize(replayed.Event.Manifest, replayed.Event.Payload);
                    LastSequenceNr = replayed.Event.SequenceNr;
                    _inRecoverHandler = true;
                    Dispatch(_recoverHandlers, evt);
                }
                catch (Exception ex)
                {
                    FailRecovery(ex, evt ?? replayed.Event);
                }
                finally
                {
                    _inRecoverHandler = false;
                }
                return true;
            case ReplayCompleted completed when completed.InstanceId == _instanceId:
                if (completed.Error is not null)
                {
                    FailRecovery(completed.Error, null);
                    return true;
                }
                // Events deleted after the last snapshot leave no trace but the highest sequence number.
                LastSequenceNr = Math.Max(LastSequenceNr, completed.HighestSequenceNr);
                _nextSequenceNr = LastSequenceNr;
                IsRecovering = false;
                _state = ProcessingCommands;
                try
                {
                    Dispatch(_recoverHandlers, RecoveryCompleted.Instance);
                }
                catch (Exception ex)
                {
                    FailRecovery(ex, RecoveryCompleted.Instance);
                    return true;
                }
                FlushPendingWrites();
                UnstashAllInternal();
                return true;
            default:
                return IsOwnProtocol(message) ? true : StashInternal(message);
        }
    }

    private void FailRecovery(Exception reason, object? message)
    {
        try
        {
            OnRecoveryFailure(reason, message);
        }
        finally
        {
            _state = Stopping;
            Context.Stop(Self);
        }
    }

    private static bool IsOwnProtocol(object message) => message is IPersistenceProtocol;

    private sealed record SnapshotLoaded(long InstanceId, Recovery Recovery, SelectedSnapshot? Snapshot, Exception? Error) : IPersistenceProtocol;

    private sealed record ReplayedEvent(long InstanceId, PersistentRepr Event) : IPersistenceProtocol;

    private sealed record ReplayCompleted(long InstanceId, long HighestSequenceNr, Exception? Error) : IPersistenceProtocol;
}
