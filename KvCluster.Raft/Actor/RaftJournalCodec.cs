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
    public static ReadyWritten ToEvent(long? truncateFrom, IReadOnlyList<Entry> entries, HardState? hardState)
    {
        if (truncateFrom is null && entries.Count == 0 && hardState is null)
        {
            throw new ArgumentException("A Ready with nothing durable must not be persisted.");
        }

        var written = new ReadyWritten();
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

    /// <summary>Replays one stored event (any of the Raft event kinds) into a hard state and a log.</summary>
    /// <param name="event">The deserialized event.</param>
    /// <param name="sequenceNr">Its sequence number (for messages).</param>
    /// <param name="persistenceId">Its stream (for messages).</param>
    /// <param name="hardState">The hard state, updated.</param>
    /// <param name="log">The log, updated.</param>
    /// <exception cref="InvalidDataException">The event is of an unknown kind or inconsistent with the log.</exception>
    public static void Replay(object @event, long sequenceNr, string persistenceId, ref HardState hardState, List<Entry> log)
    {
        switch (@event)
        {
            case ReadyWritten ready:
                if (ready.HasTruncateFrom)
                {
                    Truncate(log, ready.TruncateFrom, sequenceNr, persistenceId);
                }

                Append(log, ready.Entries, sequenceNr, persistenceId);
                if (ready.HardState is { } h)
                {
                    hardState = new HardState(h.Term, h.Vote, h.Commit);
                }

                break;
            case HardStateChanged hs:
                hardState = new HardState(hs.Term, hs.Vote, hs.Commit);
                break;
            case LogTruncated truncated:
                Truncate(log, truncated.FromIndex, sequenceNr, persistenceId);
                break;
            case EntriesAppended appended:
                Append(log, appended.Entries, sequenceNr, persistenceId);
                break;
            default:
                throw new InvalidDataException($"Event {sequenceNr} of '{persistenceId}' is a {@event?.GetType().FullName ?? "null"}, not a Raft journal event.");
        }
    }

    /// <summary>Applies a replayed truncation.</summary>
    /// <exception cref="InvalidDataException">The index is invalid.</exception>
    public static void Truncate(List<Entry> log, long fromIndex, long sequenceNr, string persistenceId)
    {
        if (fromIndex < 1)
        {
            throw new InvalidDataException($"Event {sequenceNr} of '{persistenceId}' truncates from index {fromIndex}; indexes start at 1.");
        }

        if (fromIndex <= log.Count)
        {
            log.RemoveRange((int)(fromIndex - 1), (int)(log.Count - fromIndex + 1));
        }
    }

    /// <summary>Applies replayed entries.</summary>
    /// <exception cref="InvalidDataException">The entries do not follow the log.</exception>
    public static void Append(List<Entry> log, IEnumerable<JournalEntry> entries, long sequenceNr, string persistenceId)
    {
        foreach (var e in entries)
        {
            if (e.Index != log.Count + 1)
            {
                throw new InvalidDataException(
                    $"Event {sequenceNr} of '{persistenceId}' appends entry {e.Index} after index {log.Count}; the journal is inconsistent.");
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

            log.Add(new Entry(e.Term, e.Index, (EntryType)e.Type, e.Data.Memory));
        }
    }
}
