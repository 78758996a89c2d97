using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft.Simulation;

/// <summary>
/// Snapshots and log compaction in the simulation (Raft §7): each node's "state machine" is a running hash of the
/// entries it applied; every <see cref="_snapshotEvery"/> applied entries a node snapshots it and compacts its storage
/// up to the snapshot minus a margin; a leader whose follower needs compacted entries sends an
/// <see cref="InstallSnapshot"/>, whose image the simulation carries beside the message, and the follower installs it
/// (storage reset, state machine replaced). The <see cref="SafetyChecker"/> checks that every node's state at every
/// index, applied or restored, is the same.
/// </summary>
internal sealed partial class RaftSimulation
{
    /// <summary>Applied entries between snapshots; 0 = this run takes no snapshots.</summary>
    private int _snapshotEvery;

    /// <summary>Entries kept behind a snapshot when compacting.</summary>
    private int _compactionMargin;

    /// <summary>Each node's state machine: a hash of every entry it applied (or restored).</summary>
    private readonly Dictionary<ulong, ulong> _stateHash = new();

    /// <summary>Snapshot images by (node holding it, index): the state hash at that index.</summary>
    private readonly Dictionary<(ulong Node, long Index), ulong> _images = new();

    /// <summary>Snapshots taken, installed, and snapshot messages delivered.</summary>
    private int _snapshotsTaken, _snapshotsInstalled, _snapshotsSent;

    /// <summary>Snapshots taken by nodes (for the test's check that runs really exercise compaction).</summary>
    public int SnapshotsTaken => _snapshotsTaken;

    /// <summary>Snapshots installed from a leader.</summary>
    public int SnapshotsInstalled => _snapshotsInstalled;

    private void ConfigureSnapshots()
    {
        // Three runs in four take snapshots, often enough that lagging and restarted nodes need InstallSnapshot.
        _snapshotEvery = _rng.Next(4) == 0 ? 0 : _rng.Next(3, 25);
        _compactionMargin = _rng.Next(0, 6);
    }

    /// <summary>A (re)started node: its state machine is restored from its storage's snapshot, if any.</summary>
    private long RestoreOnStart(ulong id)
    {
        var snapshot = _disk[id].Snapshot;
        if (snapshot.Index == 0)
        {
            _stateHash[id] = 0;
            return 0;
        }

        var hash = _images[(id, snapshot.Index)];
        _stateHash[id] = hash;
        _checker.ObserveState(id, snapshot.Index, hash);
        return snapshot.Index;
    }

    /// <summary>Applies one committed entry to the node's state machine.</summary>
    private void ApplyToState(ulong id, Entry entry)
    {
        var hash = _stateHash[id];
        foreach (var b in entry.Data.Span)
        {
            hash = (hash ^ b) * 1_099_511_628_211UL;
        }

        hash = (hash ^ (ulong)entry.Index) * 1_099_511_628_211UL;
        hash = (hash ^ (ulong)entry.Term) * 1_099_511_628_211UL;
        _stateHash[id] = hash;
        _checker.ObserveState(id, entry.Index, hash);
    }

    /// <summary>The Ready that installs a leader's snapshot is durable: replace the state machine with its image.</summary>
    private void InstallSnapshot(ulong id, SnapshotMetadata snapshot)
    {
        var hash = _images[(id, snapshot.Index)];
        _stateHash[id] = hash;
        _appliedIndex[id] = snapshot.Index;
        _checker.ObserveState(id, snapshot.Index, hash);
        _snapshotsInstalled++;
        Log($"node {id} installs snapshot {snapshot.Index}/t{snapshot.Term}");
    }

    /// <summary>After a Ready was applied: snapshot and compact when due.</summary>
    private void MaybeSnapshot(ulong id, RaftNode node)
    {
        var disk = _disk[id];
        var applied = _appliedIndex[id];
        if (_snapshotEvery == 0 || applied - disk.Snapshot.Index < _snapshotEvery || node.AppliedIndex != applied || applied > disk.LastIndex || applied < node.FirstIndex - 1)
        {
            return;
        }

        var metadata = node.CreateSnapshotMetadata(applied);
        disk.CreateSnapshot(metadata);
        _images[(id, applied)] = _stateHash[id];
        disk.Compact(Math.Max(0, applied - _compactionMargin));
        _snapshotsTaken++;
        Log($"node {id} snapshots at {applied}, log from {disk.FirstIndex}");
    }

    /// <summary>
    /// An <see cref="InstallSnapshot"/> leaves the network: the image travels with it (staged on the receiver) and the
    /// sender learns the outcome, as the RaftActor's chunked transfer reports it (etcd's ReportSnapshot).
    /// </summary>
    private void OnSnapshotMessage(InstallSnapshot message, bool delivered)
    {
        if (delivered)
        {
            _images[(message.To, message.Snapshot.Index)] = _images[(message.From, message.Snapshot.Index)];
            _snapshotsSent++;
        }

        _nodes[message.From]?.ReportSnapshot(message.To, delivered);
    }
}
