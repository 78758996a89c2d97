using Google.Protobuf;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// Turns the durable part of a <see cref="Ready"/> into journal events (protobuf, <c>raft_journal.proto</c>) and
/// replays them back into a hard state and a log. One Ready is one atomic write of up to three events in the order
/// truncate, append, hard state, so a crash never leaves a truncation without the entries that replaced the suffix.
/// </summary>
internal static class RaftJournalCodec
{
    /// <summary>Manifest of <see cref="HardStateChanged"/>.</summary>
    public const string HardStateManifest = "raft.hard-state.v1";

    /// <summary>Manifest of <see cref="EntriesAppended"/>.</summary>
    public const string EntriesManifest = "raft.entries.v1";

    /// <summary>Manifest of <see cref="LogTruncated"/>.</summary>
    public const string TruncatedManifest = "raft.truncated.v1";

    /// <summary>Builds the events of one write, numbered from <paramref name="nextSequenceNr"/>.</summary>
    public static List<PersistentRepr> Encode(
        string persistenceId, long nextSequenceNr, string writerUuid, long? truncateFrom, IReadOnlyList<Entry> entries, HardState? hardState)
    {
        var events = new List<PersistentRepr>(3);
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        if (truncateFrom is long from)
        {
            var evt = new LogTruncated { FromIndex = from };
            events.Add(new PersistentRepr(persistenceId, nextSequenceNr++, evt.ToByteArray(), TruncatedManifest, writerUuid, timestamp));
        }

        if (entries.Count > 0)
        {
            var evt = new EntriesAppended();
            foreach (var e in entries)
            {
                evt.Entries.Add(new JournalEntry { Term = e.Term, Index = e.Index, Type = (int)e.Type, Data = ByteString.CopyFrom(e.Data.Span) });
            }

            events.Add(new PersistentRepr(persistenceId, nextSequenceNr++, evt.ToByteArray(), EntriesManifest, writerUuid, timestamp));
        }

        if (hardState is HardState hs)
        {
            var evt = new HardStateChanged { Term = hs.Term, Vote = hs.Vote, Commit = hs.Commit };
            events.Add(new PersistentRepr(persistenceId, nextSequenceNr, evt.ToByteArray(), HardStateManifest, writerUuid, timestamp));
        }

        return events;
    }

    /// <summary>Applies one replayed event to the state being rebuilt.</summary>
    /// <exception cref="InvalidDataException">The event is unknown or inconsistent with the events before it.</exception>
    public static void Replay(PersistentRepr repr, ref HardState hardState, List<Entry> log)
    {
        switch (repr.Manifest)
        {
            case HardStateManifest:
                var hs = HardStateChanged.Parser.ParseFrom(repr.Payload.Span);
                hardState = new HardState(hs.Term, hs.Vote, hs.Commit);
                break;
            case TruncatedManifest:
                var truncated = LogTruncated.Parser.ParseFrom(repr.Payload.Span);
                if (truncated.FromIndex < 1)
                {
                    throw new InvalidDataException($"Event {repr.SequenceNr} of '{repr.PersistenceId}' truncates from index {truncated.FromIndex}; indexes start at 1.");
                }

                if (truncated.FromIndex <= log.Count)
                {
                    log.RemoveRange((int)(truncated.FromIndex - 1), (int)(log.Count - truncated.FromIndex + 1));
                }

                break;
            case EntriesManifest:
                var appended = EntriesAppended.Parser.ParseFrom(repr.Payload.Span);
                foreach (var e in appended.Entries)
                {
                    if (e.Index != log.Count + 1)
                    {
                        throw new InvalidDataException(
                            $"Event {repr.SequenceNr} of '{repr.PersistenceId}' appends entry {e.Index} after index {log.Count}; the journal is inconsistent.");
                    }

                    log.Add(new Entry(e.Term, e.Index, (EntryType)e.Type, e.Data.Memory));
                }

                break;
            default:
                throw new InvalidDataException($"Event {repr.SequenceNr} of '{repr.PersistenceId}' has unknown manifest '{repr.Manifest}'.");
        }
    }
}
