using Google.Protobuf;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// The journal events of a RaftActor and their stable manifests (the manifests <see cref="Serialization.RaftWireSerializer"/>
/// writes beside each stored event). A node writes only <see cref="ReadyWritten"/>, one per Raft Ready; the three older
/// event kinds are still read, so a journal converted from the in-house store replays.
/// </summary>
public static class RaftJournalEvents
{
    /// <summary>Manifest of <see cref="ReadyWritten"/>: the durable part of one Ready (truncation, entries, hard state).</summary>
    public const string ReadyManifest = "raft.ready.v1";

    /// <summary>Manifest of <see cref="LogCompacted"/>: entries up to a snapshot's margin were dropped.</summary>
    public const string CompactedManifest = "raft.compacted.v1";

    /// <summary>Manifest of <see cref="HardStateChanged"/> (older journals).</summary>
    public const string HardStateManifest = "raft.hard-state.v1";

    /// <summary>Manifest of <see cref="EntriesAppended"/> (older journals).</summary>
    public const string EntriesManifest = "raft.entries.v1";

    /// <summary>Manifest of <see cref="LogTruncated"/> (older journals).</summary>
    public const string TruncatedManifest = "raft.truncated.v1";
}

/// <summary>
/// Turns the durable part of a <see cref="Ready"/> into ONE journal event (<see cref="ReadyWritten"/>: one row, one atomic
/// write, whatever the number of entries) and replays events back into a hard state and a log. Inside the event the
/// order is truncate, append, hard state, so a crash never leaves a truncation without the entries that replaced the
/// suffix.
/// </summary>
internal static class RaftJournalCodec
{
    /// <summary>The event of one Ready.</summary>
    /// <exception cref="ArgumentException">Nothing durable is given.</exception>
    public static ReadyWritten ToEvent(long? truncateFrom, IReadOnlyList<Entry> entries, HardState? hardState, SnapshotMetadata? resetTo = null)
    {
        if (truncateFrom is null && entries.Count == 0 && hardState is null && resetTo is null)
        {
            throw new ArgumentException("A Ready with nothing durable must not be persisted.");
        }

        var written = new ReadyWritten();
        if (resetTo is not null)
        {
            written.ResetTo = new LogPoint { Index = resetTo.Index, Term = resetTo.Term };
        }

        if (truncateFrom is long from)
        {
            written.TruncateFrom = from;
        }

        foreach (var e in entries)
        {
            written.Entries.Add(new JournalEntry { Term = e.Term, Index = e.Index, Type = (int)e.Type, Data = UnsafeByteOperations.UnsafeWrap(e.Data) }); // shared: entry data never changes
        }

        if (hardState is HardState hs)
        {
            written.HardState = new HardStateChanged { Term = hs.Term, Vote = hs.Vote, Commit = hs.Commit };
        }

        return written;
    }

    /// <summary>
    /// Replays a whole stream (what is left of it after compactions) into a hard state and a log. The log starts at the
    /// newest compaction point (<see cref="LogCompacted"/>, written after the events it lets the journal delete, so
    /// replayed last), then every event is replayed in order over it: whatever the deleted events held is at or below
    /// that point, so the events kept rebuild the log after it exactly.
    /// </summary>
    /// <param name="events">The stored events with their sequence numbers, in order.</param>
    /// <param name="persistenceId">The stream (for messages).</param>
    /// <param name="hardState">The hard state, updated.</param>
    /// <param name="log">An empty log, filled.</param>
    /// <param name="mark">Called per event with its sequence number and the highest index it writes (0 for none).</param>
    /// <exception cref="InvalidDataException">An event is of an unknown kind or inconsistent with the log.</exception>
    public static void ReplayAll(IReadOnlyList<(long SequenceNr, object Event)> events, string persistenceId, ref HardState hardState, StoredLog log, Action<long, long>? mark = null)
    {
        for (var i = events.Count - 1; i >= 0; i--)
        {
            if (events[i].Event is LogCompacted { CompactedTo: { } point })
            {
                log.Reset(point.Index, point.Term);
                break;
            }
        }

        foreach (var (sequenceNr, @event) in events)
        {
            var highest = Replay(@event, sequenceNr, persistenceId, ref hardState, log);
            mark?.Invoke(sequenceNr, highest);
        }
    }

    /// <summary>Replays one stored event (any of the Raft event kinds) into a hard state and a log.</summary>
    /// <param name="event">The deserialized event.</param>
    /// <param name="sequenceNr">Its sequence number (for messages).</param>
    /// <param name="persistenceId">Its stream (for messages).</param>
    /// <param name="hardState">The hard state, updated.</param>
    /// <param name="log">The log, updated. Entries at or below its compaction point are skipped and truncations below
    /// it are clamped: the events kept after a compaction may still hold entries it covers.</param>
    /// <returns>The highest log index the event writes (or resets to), 0 when it writes none.</returns>
    /// <exception cref="InvalidDataException">The event is of an unknown kind or inconsistent with the log.</exception>
    public static long Replay(object @event, long sequenceNr, string persistenceId, ref HardState hardState, StoredLog log)
    {
        switch (@event)
        {
            case ReadyWritten ready:
            {
                long highest = 0;
                if (ready.ResetTo is { } reset)
                {
                    if (reset.Index > log.Offset)
                    {
                        log.Reset(reset.Index, reset.Term);
                    }
                    else
                    {
                        log.TruncateFrom(log.FirstIndex); // a later compaction point already covers the snapshot
                    }

                    highest = reset.Index;
                }

                if (ready.HasTruncateFrom)
                {
                    Truncate(log, ready.TruncateFrom, sequenceNr, persistenceId);
                }

                highest = Math.Max(highest, Append(log, ready.Entries, sequenceNr, persistenceId));
                if (ready.HardState is { } h)
                {
                    hardState = new HardState(h.Term, h.Vote, h.Commit);
                }

                return highest;
            }

            case LogCompacted compacted:
                if (compacted.CompactedTo is { } point && point.Index > log.Offset)
                {
                    if (point.Index > log.LastIndex || log.Term(point.Index) != point.Term)
                    {
                        throw new InvalidDataException(
                            $"Event {sequenceNr} of '{persistenceId}' compacts the log up to {point.Index}/t{point.Term}, which the log ({log.FirstIndex}..{log.LastIndex}) does not hold.");
                    }

                    log.CompactTo(point.Index);
                }

                if (compacted.HardState is { } c)
                {
                    hardState = new HardState(c.Term, c.Vote, c.Commit);
                }

                return 0;
            case HardStateChanged hs:
                hardState = new HardState(hs.Term, hs.Vote, hs.Commit);
                return 0;
            case LogTruncated truncated:
                Truncate(log, truncated.FromIndex, sequenceNr, persistenceId);
                return 0;
            case EntriesAppended appended:
                return Append(log, appended.Entries, sequenceNr, persistenceId);
            default:
                throw new InvalidDataException($"Event {sequenceNr} of '{persistenceId}' is a {@event?.GetType().FullName ?? "null"}, not a Raft journal event.");
        }
    }

    /// <summary>Applies a replayed truncation (clamped to the compaction point).</summary>
    /// <exception cref="InvalidDataException">The index is invalid.</exception>
    public static void Truncate(StoredLog log, long fromIndex, long sequenceNr, string persistenceId)
    {
        if (fromIndex < 1)
        {
            throw new InvalidDataException($"Event {sequenceNr} of '{persistenceId}' truncates from index {fromIndex}; indexes start at 1.");
        }

        log.TruncateFrom(fromIndex);
    }

    /// <summary>Applies replayed entries, skipping those at or below the compaction point.</summary>
    /// <returns>The highest index among the entries, 0 when there are none.</returns>
    /// <exception cref="InvalidDataException">The entries do not follow the log.</exception>
    public static long Append(StoredLog log, IEnumerable<JournalEntry> entries, long sequenceNr, string persistenceId)
    {
        long highest = 0;
        foreach (var e in entries)
        {
            highest = Math.Max(highest, e.Index);
            if (e.Index <= log.Offset)
            {
                continue; // covered by the compaction point (committed, so identical to what was dropped)
            }

            if (!Enum.IsDefined((EntryType)e.Type))
            {
                throw new InvalidDataException(
                    $"Event {sequenceNr} of '{persistenceId}' holds entry {e.Index} of unknown type {e.Type}; the journal was written by a newer version.");
            }

            if ((EntryType)e.Type == EntryType.ConfigChange)
            {
                try
                {
                    ConfigChangeCodec.Decode(e.Data.Memory); // fail recovery here, naming the event, rather than in the core
                }
                catch (InvalidDataException ex)
                {
                    throw new InvalidDataException($"Event {sequenceNr} of '{persistenceId}', entry {e.Index}: {ex.Message}", ex);
                }
            }

            if (!log.TryAppend(new Entry(e.Term, e.Index, (EntryType)e.Type, e.Data.Memory)))
            {
                throw new InvalidDataException(
                    $"Event {sequenceNr} of '{persistenceId}' appends entry {e.Index} after index {log.LastIndex}; the journal is inconsistent.");
            }
        }

        return highest;
    }
}
