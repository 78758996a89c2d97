using Akka.Actor;
using Akka.Event;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// InstallSnapshot between RaftActors (Raft §7): the core asks for a snapshot to be sent (<see cref="InstallSnapshot"/>);
/// the shell streams the snapshot's envelope in <see cref="SnapshotChunk"/>s of
/// <see cref="RaftActorSettings.SnapshotChunkBytes"/>. Scenarios:
/// <list type="number">
/// <item>Leader: at most <see cref="ChunksInFlight"/> chunks are unacknowledged per follower (flow control); each
/// <see cref="SnapshotChunkAck"/> says how many bytes the follower holds, and sending continues from there. Chunks are
/// slices of the envelope kept in memory, handed to the transport without copying, so heartbeats, appends to other
/// followers and proposals go on between them.</item>
/// <item>A lost chunk: the follower keeps acknowledging the offset it has; the first repeated acknowledgement, or an
/// election timeout without progress, makes the leader resend from that offset. A transfer without any progress for
/// <see cref="AbortAfterTimeouts"/> election timeouts is abandoned and reported to the core, which sends a new snapshot
/// later; the follower keeps what it received, so the new transfer resumes where the old one stopped.</item>
/// <item>Follower: chunks are assembled in memory in order (a chunk at another offset is only answered with the offset
/// held); once whole, the envelope is verified off the actor's turn (SHA-256), staged, and stepped into the core as an
/// <see cref="InstallSnapshot"/>; the core persists it with its next Ready and the shell restores the state machine
/// (<c>RaftActor.Snapshot.cs</c>). A new member catching up as a learner takes the same path.</item>
/// </list>
/// Why the follower assembles in memory rather than spooling to a file under the data directory: every later step
/// needs the whole image as one array anyway. Akka.Persistence's snapshot store saves one object per snapshot
/// (<c>SaveSnapshot(byte[])</c>; Akka.Persistence.Sql writes it as one BLOB row and loads it back whole), and
/// <see cref="IStateMachine.RestoreSnapshot"/> reads the image from memory. A spool file would only add a copy and a
/// read-back; the bound is the same (one array: <see cref="Array.MaxLength"/> bytes, refused above it).
/// </summary>
public sealed partial class RaftActor
{
    /// <summary>Chunks sent and not yet acknowledged, per follower.</summary>
    private const int ChunksInFlight = 4;

    /// <summary>Election timeouts without progress after which a transfer is abandoned (sender) or dropped (receiver).</summary>
    private const int AbortAfterTimeouts = 10;

    /// <summary>Leader: the transfers in progress, by follower.</summary>
    private readonly Dictionary<ulong, OutgoingSnapshot> _outgoing = new();

    /// <summary>Follower: the snapshot being received, or null.</summary>
    private IncomingSnapshot? _incoming;

    /// <summary>Follower: appends dropped because they follow a snapshot still being verified (see StepPeerMessage).</summary>
    private long _appendsHeldForSnapshot;

    /// <summary>Leader: the core asks for its snapshot to be sent to a follower; start (or resume) the transfer.</summary>
    private void StartSnapshotTransfer(InstallSnapshot request, IActorRef peer)
    {
        var metadata = request.Snapshot;
        if (_snapshot.Index != metadata.Index)
        {
            Log.Warning("Raft node {NodeId} has no image of snapshot {Index} to send to node {To}; it will retry.", NodeId, metadata.Index, request.To);
            _node!.ReportSnapshot(request.To, success: false);
            return;
        }

        if (_snapshotEnvelope is not { } envelope)
        {
            // Dropped from memory while idle: read it back; the core asks again after the follower's next heartbeat answer.
            if (!_loadingEnvelope)
            {
                _loadingEnvelope = true;
                _logActor.Tell(LoadLatestRaftSnapshot.Instance, Self);
            }

            _node!.ReportSnapshot(request.To, success: false);
            return;
        }

        _envelopeIdleTicks = 0;

        if (_outgoing.TryGetValue(request.To, out var existing) && existing.Metadata.Index == metadata.Index && existing.Term == request.Term)
        {
            existing.Peer = peer;
            PumpChunks(existing);
            return;
        }

        var transfer = new OutgoingSnapshot(request.To, request.Term, metadata, envelope, peer);
        _outgoing[request.To] = transfer;
        Log.Info("Raft node {NodeId} sends snapshot {Index}/t{SnapshotTerm} ({Bytes} bytes) to node {To}.", NodeId, metadata.Index, metadata.Term, envelope.Length, request.To);
        PumpChunks(transfer);
    }

    private void PumpChunks(OutgoingSnapshot transfer)
    {
        var chunk = _settings.SnapshotChunkBytes;
        var total = transfer.Envelope.Length;
        while (transfer.Sent < total && transfer.Sent - transfer.Acked < (long)chunk * ChunksInFlight)
        {
            var length = (int)Math.Min(chunk, total - transfer.Sent);
            var message = new SnapshotChunk(
                NodeId, transfer.To, transfer.Term, transfer.Metadata.Index, transfer.Metadata.Term, transfer.Sent, total,
                transfer.Envelope.AsMemory((int)transfer.Sent, length));
            _peerMessagesOut++;
            _lastOut = message;
            SendToPeer(transfer.Peer, message);
            transfer.Sent += length;
        }
    }

    private void OnChunkAck(SnapshotChunkAck ack)
    {
        if (!_outgoing.TryGetValue(ack.From, out var transfer) || transfer.Metadata.Index != ack.SnapshotIndex)
        {
            return;
        }

        if (ack.NextOffset > transfer.Acked)
        {
            transfer.Acked = Math.Min(ack.NextOffset, transfer.Envelope.Length);
            transfer.Sent = Math.Max(transfer.Sent, transfer.Acked);
            transfer.IdleTicks = 0;
            transfer.Rewound = false;
        }
        else if (transfer.Sent > transfer.Acked && !transfer.Rewound)
        {
            // The follower still holds only Acked bytes although more were sent: a chunk was lost. Resend from there once
            // (the other chunks of the window will repeat this acknowledgement).
            transfer.Sent = transfer.Acked;
            transfer.Rewound = true;
        }

        if (transfer.Acked >= transfer.Envelope.Length)
        {
            _outgoing.Remove(ack.From);
            Log.Info("Raft node {NodeId}: node {To} received snapshot {Index} whole.", NodeId, ack.From, ack.SnapshotIndex);
            _node?.ReportSnapshot(ack.From, success: true);
            return;
        }

        PumpChunks(transfer);
    }

    /// <summary>Per tick: resend after an election timeout without progress, abandon after many, drop finished ones.</summary>
    private void TickSnapshotTransfers()
    {
        TickSnapshotEnvelope();
        var timeout = _settings.Raft.ElectionTimeoutMaxTicks;
        if (_outgoing.Count > 0)
        {
            if (_node is null || _node.Role != RaftRole.Leader)
            {
                _outgoing.Clear();
            }
            else
            {
                foreach (var transfer in _outgoing.Values.ToArray())
                {
                    if (transfer.Term != _node.Term || _node.ProgressOf(transfer.To) is not { State: ProgressState.Snapshot })
                    {
                        _outgoing.Remove(transfer.To); // the follower caught up, left, or a new term began
                        continue;
                    }

                    transfer.IdleTicks++;
                    if (transfer.IdleTicks >= timeout * AbortAfterTimeouts)
                    {
                        _outgoing.Remove(transfer.To);
                        Log.Warning("Raft node {NodeId}: sending snapshot {Index} to node {To} made no progress for {Ticks} ticks ({Acked}/{Total} bytes acknowledged); abandoned, the core will retry.",
                            NodeId, transfer.Metadata.Index, transfer.To, transfer.IdleTicks, transfer.Acked, transfer.Envelope.Length);
                        _node.ReportSnapshot(transfer.To, success: false);
                    }
                    else if (transfer.IdleTicks % timeout == 0)
                    {
                        transfer.Sent = transfer.Acked; // nothing acknowledged for an election timeout: resend the window
                        PumpChunks(transfer);
                    }
                }
            }
        }

        if (_incoming is { } incoming && ++incoming.IdleTicks >= timeout * AbortAfterTimeouts)
        {
            Log.Warning("Raft node {NodeId} drops the partial snapshot {Index} from node {From} ({Received}/{Total} bytes): no chunk for {Ticks} ticks.",
                NodeId, incoming.Index, incoming.From, incoming.Received, incoming.Buffer.Length, incoming.IdleTicks);
            _incoming = null;
        }
    }

    /// <summary>Follower: one chunk arrived.</summary>
    private void OnChunk(SnapshotChunk chunk)
    {
        if (_node is null || chunk.Term < _node.Term)
        {
            return; // recovering, or a deposed leader's transfer
        }

        if (chunk.TotalBytes > Array.MaxLength)
        {
            Log.Error("Raft node {NodeId} cannot receive snapshot {Index} from node {From}: {Bytes} bytes exceed the in-memory bound of {Max}.",
                NodeId, chunk.SnapshotIndex, chunk.From, chunk.TotalBytes, Array.MaxLength);
            return;
        }

        var incoming = _incoming;
        if (incoming is null || incoming.Index != chunk.SnapshotIndex || incoming.SnapshotTerm != chunk.SnapshotTerm || incoming.Buffer.Length != chunk.TotalBytes)
        {
            if (incoming is { Verifying: true })
            {
                return; // the previous snapshot is being verified; the leader retries
            }

            incoming = new IncomingSnapshot(chunk.From, chunk.SnapshotIndex, chunk.SnapshotTerm, new byte[chunk.TotalBytes]);
            _incoming = incoming;
        }

        incoming.From = chunk.From;
        incoming.Term = chunk.Term;
        incoming.IdleTicks = 0;
        if (chunk.Offset == incoming.Received && !incoming.Verifying)
        {
            chunk.Data.Span.CopyTo(incoming.Buffer.AsSpan((int)chunk.Offset));
            incoming.Received += chunk.Data.Length;
        }

        if (_peers.TryGetValue(chunk.From, out var leader))
        {
            SendToPeer(leader, new SnapshotChunkAck(NodeId, chunk.From, _node.Term, chunk.SnapshotIndex, incoming.Received));
        }

        if (incoming.Received == incoming.Buffer.Length && !incoming.Verifying)
        {
            incoming.Verifying = true;
            var envelope = incoming.Buffer;
            Task.Run(() => new SnapshotReceived(envelope, RaftSnapshotEnvelope.Decode(envelope)))
                .PipeTo(Self, failure: e => new SnapshotReceiveFailed(envelope, e));
        }
    }

    /// <summary>Follower: a whole snapshot was verified; hand it to the core.</summary>
    private void OnSnapshotReceived(SnapshotReceived received)
    {
        if (_incoming is not { } incoming || !ReferenceEquals(incoming.Buffer, received.Envelope))
        {
            return;
        }

        _incoming = null;
        var metadata = received.Decoded.Metadata;
        if (_node is null || _staged is not null || _persisting?.Snapshot is not null)
        {
            return; // another snapshot is being installed; the leader sends again if this one is still needed
        }

        _staged = (metadata, received.Envelope, received.Decoded);
        StepPeerMessage(new InstallSnapshot(incoming.From, NodeId, incoming.Term, metadata), Sender);
        if (!ReferenceEquals(_node.LogSnapshot, metadata))
        {
            _staged = null; // stale, or the log already held it: the core answered without installing
        }
    }

    private void OnSnapshotReceiveFailed(SnapshotReceiveFailed failed)
    {
        if (_incoming is { } incoming && ReferenceEquals(incoming.Buffer, failed.Envelope))
        {
            Log.Error(failed.Cause, "Raft node {NodeId} refused snapshot {Index} from node {From}: {Reason}", NodeId, incoming.Index, incoming.From, failed.Cause.Message);
            _incoming = null;
        }
    }

    /// <summary>A snapshot being sent to one follower.</summary>
    private sealed class OutgoingSnapshot(ulong to, long term, SnapshotMetadata metadata, byte[] envelope, IActorRef peer)
    {
        public ulong To { get; } = to;

        public long Term { get; } = term;

        public SnapshotMetadata Metadata { get; } = metadata;

        public byte[] Envelope { get; } = envelope;

        public IActorRef Peer { get; set; } = peer;

        /// <summary>Bytes sent (the next chunk starts here).</summary>
        public long Sent { get; set; }

        /// <summary>Bytes the follower said it holds.</summary>
        public long Acked { get; set; }

        /// <summary>Ticks since the last progress.</summary>
        public int IdleTicks { get; set; }

        /// <summary>Whether the window was already rewound for the current acknowledged offset.</summary>
        public bool Rewound { get; set; }
    }

    /// <summary>A snapshot being received from the leader.</summary>
    private sealed class IncomingSnapshot(ulong from, long index, long snapshotTerm, byte[] buffer)
    {
        public ulong From { get; set; } = from;

        public long Term { get; set; }

        public long Index { get; } = index;

        public long SnapshotTerm { get; } = snapshotTerm;

        public byte[] Buffer { get; } = buffer;

        public long Received { get; set; }

        public int IdleTicks { get; set; }

        public bool Verifying { get; set; }
    }

    /// <summary>A received envelope passed verification.</summary>
    private sealed record SnapshotReceived(byte[] Envelope, DecodedSnapshot Decoded) : INoSerializationVerificationNeeded;

    /// <summary>A received envelope failed verification.</summary>
    private sealed record SnapshotReceiveFailed(byte[] Envelope, Exception Cause) : INoSerializationVerificationNeeded;
}
