using Akka.Actor;
using Akka.Event;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

public sealed partial class RaftActor
{
    /// <summary>
    /// Takes and carries out Readies until the core has none, or one waits for the journal. Order (etcd's
    /// <c>doc.go</c>, <see cref="Ready"/>): messages that need no local durability go out at once, so a leader writes its
    /// log while followers write theirs (thesis §10.2.1); the durable part goes to the journal; the rest waits for
    /// <see cref="ReadyPersisted"/>.
    /// </summary>
    private void Drive()
    {
        if (_node is null)
        {
            return;
        }

        if (_persisting is not null || _flushingHardState)
        {
            // The next Ready waits for the write, but heartbeat answers need not (RaftNode.TakeHeartbeatResults): a
            // follower writing a received snapshot would otherwise go silent, and a leader with no other live
            // follower would step down by CheckQuorum meanwhile.
            SendAll(_node.TakeHeartbeatResults());
            return;
        }

        while (_node.HasReady)
        {
            var ready = _node.GetReady();
            SendAll(ready.Messages);
            if (ready.MustSync)
            {
                ApplyDurableCommitted(ready);
                _persisting = ready;
                _persistingHardState = ready.HardState ?? _deferredHardState;
                _deferredHardState = null;
                _syncedSinceTick = true;
                _writesRequested++;
                _logActor.Tell(new PersistReady(ready.TruncateFrom, ready.Entries, _persistingHardState, ready.Snapshot, ready.Snapshot is null ? null : StagedEnvelope(ready.Snapshot)), Self);
                return;
            }

            if (ready.HardState is { } commitOnly)
            {
                // Only the commit index moved: no fsync on the answer's path (see Ready.MustSync); it is written with
                // the next batch that must sync, so the stored commit index lags by at most that much.
                _deferredHardState = commitOnly;
            }

            Finish(ready);
            if (ready.CommittedEntries.Count >= _settings.Raft.MaxCommittedEntriesPerReady && _node.HasReady)
            {
                // A full batch of committed entries (a restart replaying what followed its snapshot): let the mailbox
                // in, so votes and ticks are stepped between batches instead of after all of them.
                ContinueSoon();
                return;
            }
        }
    }

    /// <summary>The journal made the outstanding Ready durable: reflect it in the index, then finish the Ready.</summary>
    private void OnPersisted()
    {
        _writesConfirmed++;
        if (_flushingHardState)
        {
            _flushingHardState = false;
            _storage!.Apply(null, null, Array.Empty<Entry>(), _persistingHardState);
            _persistingHardState = null;
        }
        else
        {
            var ready = _persisting ?? throw new InvalidOperationException("The journal confirmed a write that was never requested.");
            _persisting = null;
            _storage!.Apply(ready.Snapshot, ready.TruncateFrom, ready.Entries, _persistingHardState);
            _persistingHardState = null;
            Finish(ready);
        }

        if (_hardStateWaiters is { Count: > 0 })
        {
            FlushDeferredHardState();
            AnswerHardStateWaiters();
        }
    }

    /// <summary>
    /// Writes the deferred commit-only hard state on its own, when nothing else is being written: on a tick that saw
    /// no synced Ready (an idle node), and when asked by <see cref="SyncHardState"/>. A busy node never needs it: its
    /// next synced Ready carries the hard state.
    /// </summary>
    private void FlushDeferredHardState()
    {
        if (_deferredHardState is not { } hardState || _persisting is not null || _flushingHardState)
        {
            return;
        }

        _deferredHardState = null;
        _flushingHardState = true;
        _persistingHardState = hardState;
        _writesRequested++;
        _logActor.Tell(new PersistReady(null, Array.Empty<Entry>(), hardState), Self);
    }

    /// <summary>Answers <see cref="SyncHardState"/> once nothing is deferred or being written.</summary>
    private void AnswerHardStateWaiters()
    {
        if (_hardStateWaiters is not { Count: > 0 } waiters || _deferredHardState is not null || _persisting is not null || _flushingHardState)
        {
            return;
        }

        foreach (var waiter in waiters)
        {
            waiter.Tell(HardStateSynced.Instance, Self);
        }

        waiters.Clear();
    }

    /// <summary>Steps after durability: votes and acks, apply, reads, Advance.</summary>
    private void Finish(Ready ready)
    {
        if (ready.Snapshot is { } installed)
        {
            RestoreInstalledSnapshot(installed); // before anything after it is applied
        }

        // Raft Figure 2 / etcd msgsAfterAppend: a vote or an append acknowledgement promises durable state.
        SendAll(ready.MessagesAfterPersist);
        foreach (var entry in ready.CommittedEntries)
        {
            if (entry.Index > _lastApplied)
            {
                ApplyEntry(entry);
            }
        }

        foreach (var read in ready.ReadStates)
        {
            ServeRead(read);
        }

        if (_replayingSince is { } since && _lastApplied >= _node!.CommitIndex)
        {
            _replayingSince = null;
            Log.Info("Raft node {NodeId}: applied the {Entries} committed entries after its snapshot in {ApplyMs} ms (applied index {Applied}).",
                NodeId, _lastApplied - since.AppliedBefore, (int)System.Diagnostics.Stopwatch.GetElapsedTime(since.At).TotalMilliseconds, _lastApplied);
        }

        _node!.Advance(ready);
        MaybeStartSnapshot();
    }

    /// <summary>The envelope staged for the snapshot a Ready installs.</summary>
    private byte[] StagedEnvelope(SnapshotMetadata snapshot) =>
        _staged is { } staged && ReferenceEquals(staged.Metadata, snapshot)
            ? staged.Envelope
            : throw new InvalidOperationException($"Broken invariant: the core installs snapshot {snapshot.Index}, but no image was staged for it.");

    /// <summary>
    /// Applies the Ready's committed entries that are already in the durable log before its own write completes:
    /// they are committed (durable on a quorum) and durable here, so the write in flight (this Ready's new entries
    /// and hard state) need not delay the answer (etcd hands committed entries to its apply loop
    /// before the WAL write of the same Ready). Saves one fsync of latency per commit. Entries of this Ready (not
    /// durable yet) wait for <see cref="ReadyPersisted"/> as before. Only the leader does this: it answers the
    /// proposers, so the saving is on the client's path. (A commit index alone is never synced first, on any node: see
    /// <see cref="Ready.MustSync"/>; the state machine is rebuilt from the log on restart, so applying ahead of it is safe.)
    /// </summary>
    private void ApplyDurableCommitted(Ready ready)
    {
        if (_node!.Role != RaftRole.Leader)
        {
            return;
        }

        var durable = _storage!.LastIndex;
        foreach (var entry in ready.CommittedEntries)
        {
            if (entry.Index > durable || (ready.TruncateFrom is { } from && entry.Index >= from))
            {
                return;
            }

            if (entry.Index > _lastApplied)
            {
                ApplyEntry(entry);
            }
        }
    }

    private void ApplyEntry(Entry entry)
    {
        var result = entry.Type == EntryType.Normal ? _stateMachine.Apply(entry.Index, entry.Data) : ReadOnlyMemory<byte>.Empty;
        _lastApplied = entry.Index;
        _appliedBytesSinceSnapshot += entry.Size;
        OnMembershipEntryApplied(entry);
        if (_pendingProposals.Remove(entry.Index, out var pending))
        {
            if (pending.Term == entry.Term)
            {
                pending.Sender.Tell(new ProposeApplied(entry.Index, result), Self);
            }
            else
            {
                pending.Sender.Tell(new ProposeDropped(
                    $"the proposal at index {entry.Index} (term {pending.Term}) was replaced by a new leader's entry (term {entry.Term}); it was not applied, retry"), Self);
            }
        }
    }

    private void SendAll(IReadOnlyList<RaftMessage> messages)
    {
        foreach (var message in messages)
        {
            if (_peers.TryGetValue(message.To, out var peer))
            {
                if (message is InstallSnapshot install)
                {
                    StartSnapshotTransfer(install, peer); // streamed in chunks; see RaftActor.Transfer.cs
                    continue;
                }

                _peerMessagesOut++;
                _lastOut = message;
                SendToPeer(peer, message);
            }
            else
            {
                if (message is InstallSnapshot lost)
                {
                    _node!.ReportSnapshot(lost.To, success: false); // retried after the follower answers a heartbeat
                }

                _unroutable++;
                if (_unroutable == 1 || _unroutable % 1000 == 0)
                {
                    Log.Warning("Raft node {NodeId} has no ref for node {To}; {Count} messages dropped so far.", NodeId, message.To, _unroutable);
                }

                if (_ticks - _unroutablePublishedTick >= 10)
                {
                    // The node host finds the member's address and sends SetPeers.
                    _unroutablePublishedTick = _ticks;
                    Context.System.EventStream.Publish(new PeerUnroutable(NodeId, message.To));
                }
            }
        }
    }
}
