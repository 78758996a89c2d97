using Google.Protobuf;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Serialization;
using KvCluster.Raft.Actor.Journal;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// Registers the RaftActor's journal events (protobuf, <c>raft_journal.proto</c>) with an
/// <see cref="EventSerializerRegistry"/>. The persistence settings of every actor system that hosts a RaftActor must use
/// a serializer built this way (together with the node's other event types).
/// </summary>
public static class RaftJournalEvents
{
    /// <summary>Manifest of <see cref="HardStateChanged"/>.</summary>
    public const string HardStateManifest = "raft.hard-state.v1";

    /// <summary>Manifest of <see cref="EntriesAppended"/>.</summary>
    public const string EntriesManifest = "raft.entries.v1";

    /// <summary>Manifest of <see cref="LogTruncated"/>.</summary>
    public const string TruncatedManifest = "raft.truncated.v1";

    /// <summary>Adds the three Raft event types to <paramref name="registry"/>.</summary>
    /// <param name="registry">The registry to extend.</param>
    /// <returns>The same registry, for chaining.</returns>
    /// <exception cref="ArgumentException">A Raft event type or manifest is already registered.</exception>
    public static EventSerializerRegistry Register(EventSerializerRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return registry
            .Add<HardStateChanged>(HardStateManifest, e => e.ToByteArray(), b => HardStateChanged.Parser.ParseFrom(b.Span))
            .Add<EntriesAppended>(EntriesManifest, e => e.ToByteArray(), b => EntriesAppended.Parser.ParseFrom(b.Span))
            .Add<LogTruncated>(TruncatedManifest, e => e.ToByteArray(), b => LogTruncated.Parser.ParseFrom(b.Span));
    }

    /// <summary>A new registry holding only the Raft event types.</summary>
    /// <returns>The registry.</returns>
    public static EventSerializerRegistry CreateSerializer() => Register(new EventSerializerRegistry());
}

/// <summary>
/// Turns the durable part of a <see cref="Ready"/> into journal events and replays them back into a hard state and a
/// log. One Ready is one atomic write of up to three events in the order truncate, append, hard state, so a crash never
/// leaves a truncation without the entries that replaced the suffix.
/// </summary>
internal static class RaftJournalCodec
{
    /// <summary>The events of one Ready, in write order; at least one.</summary>
    public static List<IMessage> ToEvents(long? truncateFrom, IReadOnlyList<Entry> entries, HardState? hardState)
    {
        var events = new List<IMessage>(3);
        if (truncateFrom is long from)
        {
            events.Add(new LogTruncated { FromIndex = from });
        }

        if (entries.Count > 0)
        {
            var appended = new EntriesAppended();
            foreach (var e in entries)
            {
                appended.Entries.Add(new JournalEntry { Term = e.Term, Index = e.Index, Type = (int)e.Type, Data = UnsafeByteOperations.UnsafeWrap(e.Data) }); // shared: entry data never changes
            }

            events.Add(appended);
        }

        if (hardState is HardState hs)
        {
            events.Add(new HardStateChanged { Term = hs.Term, Vote = hs.Vote, Commit = hs.Commit });
        }

        if (events.Count == 0)
        {
            throw new ArgumentException("A Ready with nothing durable must not be persisted.");
        }

        return events;
    }

    /// <summary>Applies a replayed truncation.</summary>
    /// <exception cref="InvalidDataException">The index is invalid.</exception>
    public static void Truncate(List<Entry> log, LogTruncated truncated, long sequenceNr, string persistenceId)
    {
        if (truncated.FromIndex < 1)
        {
            throw new InvalidDataException($"Event {sequenceNr} of '{persistenceId}' truncates from index {truncated.FromIndex}; indexes start at 1.");
        }

        if (truncated.FromIndex <= log.Count)
        {
            log.RemoveRange((int)(truncated.FromIndex - 1), (int)(log.Count - truncated.FromIndex + 1));
        }
    }

    /// <summary>Applies a replayed append.</summary>
    /// <exception cref="InvalidDataException">The entries do not follow the log.</exception>
    public static void Append(List<Entry> log, EntriesAppended appended, long sequenceNr, string persistenceId)
    {
        foreach (var e in appended.Entries)
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

    /// <summary>Replays one stored event (read straight from a journal, e.g. by a checker) into a hard state and log.</summary>
    /// <exception cref="InvalidDataException">The manifest is unknown or the event inconsistent.</exception>
    public static void Replay(PersistentRepr repr, ref HardState hardState, List<Entry> log)
    {
        switch (repr.Manifest)
        {
            case RaftJournalEvents.HardStateManifest:
                var hs = HardStateChanged.Parser.ParseFrom(repr.Payload.Span);
                hardState = new HardState(hs.Term, hs.Vote, hs.Commit);
                break;
            case RaftJournalEvents.TruncatedManifest:
                Truncate(log, LogTruncated.Parser.ParseFrom(repr.Payload.Span), repr.SequenceNr, repr.PersistenceId);
                break;
            case RaftJournalEvents.EntriesManifest:
                Append(log, EntriesAppended.Parser.ParseFrom(repr.Payload.Span), repr.SequenceNr, repr.PersistenceId);
                break;
            default:
                throw new InvalidDataException($"Event {repr.SequenceNr} of '{repr.PersistenceId}' has unknown manifest '{repr.Manifest}'.");
        }
    }
}
