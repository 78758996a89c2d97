using Google.Protobuf;
using KvCluster.Raft.Core;
using W = KvCluster.Raft.Protos.Wire;

namespace KvCluster.Raft.Protos;

/// <summary>
/// Maps the Raft core's messages, entries and hard state to their protobuf wire forms (<c>Protos/raft.proto</c>) and
/// back. Stateless and thread-safe. Decoding validates everything the core relies on and throws
/// <see cref="InvalidDataException"/> naming the problem, so a transport can close the offending connection and
/// keep serving others. Decoded entries reference the wire message's payload memory without copying.
/// </summary>
public static class RaftWireFormat
{
    /// <summary>Encodes a core message to bytes.</summary>
    /// <param name="message">The message to encode.</param>
    /// <returns>A new array holding the protobuf encoding; owned by the caller.</returns>
    public static byte[] Serialize(RaftMessage message) => ToWire(message).ToByteArray();

    /// <summary>Decodes bytes produced by <see cref="Serialize"/> (possibly by another process).</summary>
    /// <param name="bytes">One encoded message.</param>
    /// <returns>The core message.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a valid Raft message.</exception>
    public static RaftMessage Deserialize(ReadOnlySpan<byte> bytes)
    {
        W.RaftMessage wire;
        try
        {
            wire = W.RaftMessage.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"Not a valid Raft message: {ex.Message}", ex);
        }

        return FromWire(wire);
    }

    /// <summary>Maps a core message to its wire form.</summary>
    /// <param name="message">The message.</param>
    /// <returns>The wire message.</returns>
    /// <exception cref="ArgumentException">The message type is unknown to the wire format.</exception>
    public static W.RaftMessage ToWire(RaftMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var wire = new W.RaftMessage { From = message.From, To = message.To, Term = (ulong)message.Term };
        switch (message)
        {
            case RequestVote m:
                wire.RequestVote = new W.RequestVote
                {
                    LastLogIndex = (ulong)m.LastLogIndex, LastLogTerm = (ulong)m.LastLogTerm,
                    PreVote = m.PreVote, LeadershipTransfer = m.LeadershipTransfer,
                };
                break;
            case RequestVoteResult m:
                wire.RequestVoteResult = new W.RequestVoteResult { PreVote = m.PreVote, Granted = m.Granted };
                break;
            case AppendEntries m:
                var append = new W.AppendEntries
                {
                    PrevLogIndex = (ulong)m.PrevLogIndex, PrevLogTerm = (ulong)m.PrevLogTerm, LeaderCommit = (ulong)m.LeaderCommit,
                };
                foreach (var e in m.Entries)
                {
                    append.Entries.Add(ToWire(e));
                }

                wire.AppendEntries = append;
                break;
            case AppendEntriesResult m:
                wire.AppendEntriesResult = new W.AppendEntriesResult
                {
                    Success = m.Success, Index = (ulong)m.Index, ConflictTerm = (ulong)m.ConflictTerm, ConflictIndex = (ulong)m.ConflictIndex,
                };
                break;
            case Heartbeat m:
                wire.Heartbeat = new W.Heartbeat { Commit = (ulong)m.Commit, ReadRound = m.ReadRound };
                break;
            case HeartbeatResult m:
                wire.HeartbeatResult = new W.HeartbeatResult { ReadRound = m.ReadRound };
                break;
            case ReadIndexRequest m:
                wire.ReadIndexRequest = new W.ReadIndexRequest { Context = m.Context };
                break;
            case ReadIndexResult m:
                wire.ReadIndexResult = new W.ReadIndexResult { Context = m.Context, Index = (ulong)m.Index };
                break;
            case TimeoutNow:
                wire.TimeoutNow = new W.TimeoutNow();
                break;
            case SnapshotChunk m:
                wire.SnapshotChunk = new W.SnapshotChunk
                {
                    SnapshotIndex = (ulong)m.SnapshotIndex, SnapshotTerm = (ulong)m.SnapshotTerm, Offset = (ulong)m.Offset,
                    TotalBytes = (ulong)m.TotalBytes, Data = UnsafeByteOperations.UnsafeWrap(m.Data), // the envelope never changes
                };
                break;
            case SnapshotChunkAck m:
                wire.SnapshotChunkAck = new W.SnapshotChunkAck { SnapshotIndex = (ulong)m.SnapshotIndex, NextOffset = (ulong)m.NextOffset };
                break;
            default:
                throw new ArgumentException($"Message type {message.GetType().Name} has no wire form.", nameof(message));
        }

        return wire;
    }

    /// <summary>Maps a wire message to the core message.</summary>
    /// <param name="wire">The wire message.</param>
    /// <returns>The core message.</returns>
    /// <exception cref="InvalidDataException">The message has no body, or a value is out of range.</exception>
    public static RaftMessage FromWire(W.RaftMessage wire)
    {
        ArgumentNullException.ThrowIfNull(wire);
        var from = wire.From;
        var to = wire.To;
        var term = ToLong(wire.Term, "term");
        return wire.BodyCase switch
        {
            W.RaftMessage.BodyOneofCase.RequestVote => new RequestVote(
                from, to, term, ToLong(wire.RequestVote.LastLogIndex, "last_log_index"), ToLong(wire.RequestVote.LastLogTerm, "last_log_term"),
                wire.RequestVote.PreVote, wire.RequestVote.LeadershipTransfer),
            W.RaftMessage.BodyOneofCase.RequestVoteResult => new RequestVoteResult(
                from, to, term, wire.RequestVoteResult.PreVote, wire.RequestVoteResult.Granted),
            W.RaftMessage.BodyOneofCase.AppendEntries => FromWire(from, to, term, wire.AppendEntries),
            W.RaftMessage.BodyOneofCase.AppendEntriesResult => new AppendEntriesResult(
                from, to, term, wire.AppendEntriesResult.Success, ToLong(wire.AppendEntriesResult.Index, "index"),
                ToLong(wire.AppendEntriesResult.ConflictTerm, "conflict_term"), ToLong(wire.AppendEntriesResult.ConflictIndex, "conflict_index")),
            W.RaftMessage.BodyOneofCase.Heartbeat => new Heartbeat(
                from, to, term, ToLong(wire.Heartbeat.Commit, "commit"), wire.Heartbeat.ReadRound),
            W.RaftMessage.BodyOneofCase.HeartbeatResult => new HeartbeatResult(from, to, term, wire.HeartbeatResult.ReadRound),
            W.RaftMessage.BodyOneofCase.ReadIndexRequest => new ReadIndexRequest(from, to, term, wire.ReadIndexRequest.Context),
            W.RaftMessage.BodyOneofCase.ReadIndexResult => new ReadIndexResult(
                from, to, term, wire.ReadIndexResult.Context, ToLong(wire.ReadIndexResult.Index, "index")),
            W.RaftMessage.BodyOneofCase.TimeoutNow => new TimeoutNow(from, to, term),
            W.RaftMessage.BodyOneofCase.SnapshotChunk => FromWire(from, to, term, wire.SnapshotChunk),
            W.RaftMessage.BodyOneofCase.SnapshotChunkAck => new SnapshotChunkAck(
                from, to, term, ToLong(wire.SnapshotChunkAck.SnapshotIndex, "snapshot_index"), ToLong(wire.SnapshotChunkAck.NextOffset, "next_offset")),
            _ => throw new InvalidDataException($"Raft message from node {from} to node {to} has no body (unknown or missing message kind)."),
        };
    }

    /// <summary>Maps a core entry to its wire form; the payload is shared, not copied (an entry's data never changes
    /// once proposed: the log, the journal and every follower's message hold the same bytes).</summary>
    /// <param name="entry">The entry.</param>
    /// <returns>The wire entry.</returns>
    public static W.Entry ToWire(Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new W.Entry
        {
            Term = (ulong)entry.Term,
            Index = (ulong)entry.Index,
            Type = entry.Type switch
            {
                EntryType.Empty => W.EntryType.Empty,
                EntryType.ConfigChange => W.EntryType.ConfigChange,
                _ => W.EntryType.Normal,
            },
            Data = UnsafeByteOperations.UnsafeWrap(entry.Data),
        };
    }

    /// <summary>Maps a wire entry to a core entry; the payload references the wire entry's memory.</summary>
    /// <param name="wire">The wire entry.</param>
    /// <returns>The core entry.</returns>
    /// <exception cref="InvalidDataException">The index or term is out of range, the type is unknown, or a configuration
    /// change entry's data is not a valid <c>ConfigChangeEntry</c>.</exception>
    public static Entry FromWire(W.Entry wire)
    {
        ArgumentNullException.ThrowIfNull(wire);
        var type = wire.Type switch
        {
            W.EntryType.Normal => EntryType.Normal,
            W.EntryType.Empty => EntryType.Empty,
            W.EntryType.ConfigChange => EntryType.ConfigChange,
            _ => throw new InvalidDataException($"Entry {wire.Index} has unknown type {(int)wire.Type}."),
        };
        var index = ToLong(wire.Index, "entry index");
        if (index < 1)
        {
            throw new InvalidDataException("Entry index must be at least 1, was 0.");
        }

        if (type == EntryType.ConfigChange)
        {
            // Validate here so bad bytes close the connection instead of reaching the core.
            ConfigChangeCodec.Decode(wire.Data.Memory);
        }

        return new Entry(ToLong(wire.Term, "entry term"), index, type, wire.Data.Memory);
    }

    /// <summary>Maps a hard state to its wire form.</summary>
    /// <param name="state">The hard state.</param>
    /// <returns>The wire hard state.</returns>
    public static W.HardState ToWire(HardState state) =>
        new() { Term = (ulong)state.Term, Vote = state.Vote, Commit = (ulong)state.Commit };

    /// <summary>Maps a wire hard state to the core's.</summary>
    /// <param name="wire">The wire hard state.</param>
    /// <returns>The hard state.</returns>
    /// <exception cref="InvalidDataException">A value is out of range.</exception>
    public static HardState FromWire(W.HardState wire)
    {
        ArgumentNullException.ThrowIfNull(wire);
        return new HardState(ToLong(wire.Term, "hard state term"), wire.Vote, ToLong(wire.Commit, "hard state commit"));
    }

    private static AppendEntries FromWire(ulong from, ulong to, long term, W.AppendEntries wire)
    {
        var prev = ToLong(wire.PrevLogIndex, "prev_log_index");
        var entries = new Entry[wire.Entries.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = FromWire(wire.Entries[i]);
            if (entries[i].Index != prev + 1 + i)
            {
                throw new InvalidDataException(
                    $"AppendEntries from node {from}: entry {i} has index {entries[i].Index}, expected {prev + 1 + i} (entries must follow prev_log_index {prev} consecutively).");
            }
        }

        return new AppendEntries(from, to, term, prev, ToLong(wire.PrevLogTerm, "prev_log_term"), entries, ToLong(wire.LeaderCommit, "leader_commit"));
    }

    private static SnapshotChunk FromWire(ulong from, ulong to, long term, W.SnapshotChunk wire)
    {
        var offset = ToLong(wire.Offset, "offset");
        var total = ToLong(wire.TotalBytes, "total_bytes");
        if (offset + wire.Data.Length > total)
        {
            throw new InvalidDataException(
                $"Snapshot chunk from node {from}: {wire.Data.Length} bytes at offset {offset} run past the snapshot's {total} bytes.");
        }

        return new SnapshotChunk(from, to, term, ToLong(wire.SnapshotIndex, "snapshot_index"), ToLong(wire.SnapshotTerm, "snapshot_term"), offset, total, wire.Data.Memory);
    }

    private static long ToLong(ulong value, string field) => value <= long.MaxValue
        ? (long)value
        : throw new InvalidDataException($"Field {field} is {value}, beyond the largest supported value {long.MaxValue}.");
}
