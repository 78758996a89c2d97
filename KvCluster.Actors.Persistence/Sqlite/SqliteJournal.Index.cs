using KvCluster.Actors.Persistence.Journal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;

namespace KvCluster.Actors.Persistence.Sqlite;

/// <summary>
/// How the writer thread stores, indexes and deletes events (schema version 2, see
/// <see cref="SchemaSql"/>). Everything here runs on the writer thread.
/// <list type="number">
/// <item>Append (the normal case): an atomic write whose first sequence number is above the
/// highest one its persistence id has stored or deleted is appended to <c>journal_event</c> with
/// the next orderings, and nothing else. The highest sequence numbers come from
/// <see cref="_highest"/>, loaded from the index on an id's first write since the last indexing.
/// A group commit of 64 persistence ids then dirties a few pages at the end of one table instead
/// of one B-tree leaf per id.</item>
/// <item>Out of order (a duplicate, or a gap being filled: never done by a persistent actor): the
/// tail is indexed first, inside the open transaction; then each event's index entry is inserted
/// before the event, so the primary key rejects a sequence number already stored, and the
/// watermark moves past the new events. The invariant of <see cref="SchemaSql"/> holds.</item>
/// <item>Indexing: once <see cref="SqliteStoreOptions.JournalIndexBatchEvents"/> events are
/// unindexed, after a group commit, ONE transaction inserts their index entries sorted by key
/// (each persistence id's entries land together on its leaf) and moves the watermark.</item>
/// </list>
/// <para>
/// Durability of the indexing transaction: it stores nothing a caller was told about, so it
/// commits with <c>synchronous=NORMAL</c> (no fsync) when the journal runs with FULL, and FULL is
/// set again before the next group commit. That is safe in WAL mode: the indexing commit's frames
/// are appended to the WAL after every acknowledged commit and before every later one. A crash
/// before the next fsync can lose or tear only those frames (and later unacknowledged ones); WAL
/// recovery stops at the first frame whose checksum or salt does not match, so the database comes
/// back at the last complete commit before the indexing, whose events are all still found (after
/// the watermark, by the readers' scan and then by the indexing at open). The next FULL commit's
/// fsync covers the whole WAL file, the indexing frames included, so once a later write is
/// acknowledged the indexing is durable too and nothing acknowledged ever depends on an unsynced
/// frame. Checkpoints fsync the WAL before copying it in NORMAL mode as in FULL.
/// </para>
/// </summary>
internal sealed partial class SqliteJournal
{
    /// <summary>How many unindexed events start an indexing transaction after a group commit.</summary>
    private readonly int _indexBatchEvents;

    /// <summary>True when the journal runs with synchronous=FULL, so indexing transactions may run with NORMAL.</summary>
    private readonly bool _relaxIndexingSync;

    /// <summary>
    /// Per persistence id written since the last indexing transaction: a number at or above the
    /// highest sequence number it has stored or deleted (above only after a failed transaction,
    /// which merely sends the id's next write down the out-of-order path). Every id with an event
    /// after the watermark is here; cleared after each indexing transaction, when none has.
    /// </summary>
    private readonly Dictionary<string, long> _highest = new(StringComparer.Ordinal);

    /// <summary>The ordering the next appended event gets; only rises (a rolled-back transaction leaves a gap).</summary>
    private long _nextOrdering;

    /// <summary>The committed watermark: every event with an ordering up to here has its index entry.</summary>
    private long _indexedTo;

    /// <summary>True while the connection runs with synchronous=NORMAL for an indexing transaction.</summary>
    private bool _syncRelaxed;

    /// <summary>
    /// The append, bound and stepped through SQLite's own API: it runs once per event, and the
    /// command layer's per-execution work was a measurable part of the writer's CPU per event.
    /// </summary>
    private sqlite3_stmt _append = null!;
    private SqliteCommand _insertIndexEntry = null!;
    private SqliteCommand _indexTail = null!;
    private SqliteCommand _setWatermark = null!;
    private SqliteCommand _highestIndexed = null!;
    private SqliteCommand _highestStored = null!;
    private SqliteCommand _deleteEvents = null!;
    private SqliteCommand _deleteIndexEntries = null!;
    private SqliteCommand _recordDeleted = null!;
    private SqliteCommand _syncNormal = null!;
    private SqliteCommand _syncFull = null!;

    private void PrepareIndexStatements()
    {
        var db = _writer.Handle!;
        CheckWriter(raw.sqlite3_prepare_v2(
            db,
            "INSERT INTO journal_event (ordering, persistence_id, sequence_nr, timestamp, manifest, writer_uuid, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7);",
            out _append));
        _insertIndexEntry = Prepare(
            "INSERT INTO journal_index (persistence_id, sequence_nr, ordering) VALUES ($pid, $seq, $ordering);",
            ("$pid", SqliteType.Text), ("$seq", SqliteType.Integer), ("$ordering", SqliteType.Integer));
        _indexTail = Prepare(
            "INSERT INTO journal_index (persistence_id, sequence_nr, ordering) SELECT persistence_id, sequence_nr, ordering FROM journal_event " +
            "WHERE ordering > (SELECT to_ordering FROM journal_indexed) AND ordering <= $to ORDER BY persistence_id, sequence_nr;",
            ("$to", SqliteType.Integer));
        _setWatermark = Prepare("UPDATE journal_indexed SET to_ordering = max(to_ordering, $to);", ("$to", SqliteType.Integer));
        // Exact for an id with no event after the watermark, which is every id missing from _highest.
        _highestIndexed = Prepare(
            "SELECT max(h) FROM (SELECT max(sequence_nr) AS h FROM journal_index WHERE persistence_id = $pid " +
            "UNION ALL SELECT highest_deleted_sequence_nr FROM journal_metadata WHERE persistence_id = $pid);",
            ("$pid", SqliteType.Text));
        _highestStored = Prepare("SELECT max(sequence_nr) FROM journal_index WHERE persistence_id = $pid;", ("$pid", SqliteType.Text));
        _deleteEvents = Prepare(
            "DELETE FROM journal_event WHERE ordering IN (SELECT ordering FROM journal_index WHERE persistence_id = $pid AND sequence_nr <= $to);",
            ("$pid", SqliteType.Text), ("$to", SqliteType.Integer));
        _deleteIndexEntries = Prepare(
            "DELETE FROM journal_index WHERE persistence_id = $pid AND sequence_nr <= $to;",
            ("$pid", SqliteType.Text), ("$to", SqliteType.Integer));
        _recordDeleted = Prepare(
            "INSERT INTO journal_metadata (persistence_id, highest_deleted_sequence_nr) VALUES ($pid, $seq) " +
            "ON CONFLICT (persistence_id) DO UPDATE SET highest_deleted_sequence_nr = max(highest_deleted_sequence_nr, excluded.highest_deleted_sequence_nr);",
            ("$pid", SqliteType.Text), ("$seq", SqliteType.Integer));
        _syncNormal = Prepare("PRAGMA synchronous=NORMAL;");
        _syncFull = Prepare("PRAGMA synchronous=FULL;");
    }

    /// <summary>The statements of this file, for the writer thread to dispose.</summary>
    private IEnumerable<IDisposable> IndexStatements() =>
    [
        _append, _insertIndexEntry, _indexTail, _setWatermark, _highestIndexed, _highestStored,
        _deleteEvents, _deleteIndexEntries, _recordDeleted, _syncNormal, _syncFull,
    ];

    /// <summary>
    /// Called once at open, before the writer thread starts: reads the watermark and the last
    /// ordering, and indexes what the last run left unindexed (a crash, or a close between
    /// indexings), so that <see cref="_highest"/> may start empty.
    /// </summary>
    private void StartIndexing()
    {
        using var command = _writer.CreateCommand();
        command.CommandText = "SELECT (SELECT to_ordering FROM journal_indexed), (SELECT coalesce(max(ordering), 0) FROM journal_event);";
        using (var reader = command.ExecuteReader())
        {
            reader.Read();
            _indexedTo = reader.GetInt64(0);
            _nextOrdering = Math.Max(_indexedTo, reader.GetInt64(1)) + 1;
        }
        if (_nextOrdering - 1 > _indexedTo)
        {
            _begin.ExecuteNonQuery();
            try
            {
                IndexTail();
                _commit.ExecuteNonQuery();
            }
            catch
            {
                try
                {
                    _rollback.ExecuteNonQuery();
                }
                catch (SqliteException)
                {
                }
                throw;
            }
        }
    }

    /// <summary>Stores one atomic write inside the open transaction; returns its rejection, or null when stored.</summary>
    private Exception? Insert(AtomicWrite write)
    {
        var events = write.Events;
        foreach (ref readonly var e in events)
        {
            if (e.Payload.Length > _limits.MaxEventBytes)
            {
                return new EventRejectedException(
                    e.PersistenceId,
                    e.SequenceNr,
                    $"Event {e.SequenceNr} of '{e.PersistenceId}' has {e.Payload.Length} bytes, more than the journal's limit of {_limits.MaxEventBytes} bytes (JournalOptions.MaxEventBytes); its atomic write was not stored.");
            }
        }
        var persistenceId = write.PersistenceId;
        var highest = HighestOf(persistenceId);
        if (write.LowestSequenceNr <= highest)
        {
            return InsertOutOfOrder(write, highest);
        }
        // The events are strictly ascending (AtomicWrite checks), so all follow the highest. A failed
        // append throws and fails the whole transaction, so the write needs no savepoint.
        foreach (ref readonly var e in events)
        {
            Append(in e, _nextOrdering++);
        }
        _highest[persistenceId] = write.HighestSequenceNr;
        return null;
    }

    /// <summary>The highest sequence number <paramref name="persistenceId"/> has stored or deleted, or a number above it.</summary>
    private long HighestOf(string persistenceId)
    {
        if (!_highest.TryGetValue(persistenceId, out var highest))
        {
            // Added only once read: an entry must never be below what is stored.
            _highestIndexed.Parameters[0].Value = persistenceId;
            highest = _highestIndexed.ExecuteScalar() is long stored ? stored : 0L;
            _highest.Add(persistenceId, highest);
        }
        return highest;
    }

    /// <summary>
    /// Stores a write that does not follow its id's highest sequence number: every event indexed
    /// at once, so the primary key of the index finds a sequence number already stored.
    /// </summary>
    private EventRejectedException? InsertOutOfOrder(AtomicWrite write, long highest)
    {
        IndexTail();
        _savepoint.ExecuteNonQuery();
        foreach (ref readonly var e in write.Events)
        {
            var ordering = _nextOrdering++;
            _insertIndexEntry.Parameters[0].Value = e.PersistenceId;
            _insertIndexEntry.Parameters[1].Value = e.SequenceNr;
            _insertIndexEntry.Parameters[2].Value = ordering;
            try
            {
                _insertIndexEntry.ExecuteNonQuery();
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == SqliteDatabase.SqliteConstraint)
            {
                _rollbackToSavepoint.ExecuteNonQuery();
                _release.ExecuteNonQuery();
                return new EventRejectedException(
                    e.PersistenceId,
                    e.SequenceNr,
                    $"Sequence number {e.SequenceNr} of '{e.PersistenceId}' is already stored in journal '{_path}'; its atomic write was not stored.",
                    ex);
            }
            Append(in e, ordering);
        }
        _setWatermark.Parameters[0].Value = _nextOrdering - 1;
        _setWatermark.ExecuteNonQuery();
        _release.ExecuteNonQuery();
        _indexedTo = _nextOrdering - 1;
        _highest[write.PersistenceId] = Math.Max(highest, write.HighestSequenceNr);
        return null;
    }

    private void Append(in PersistentRepr e, long ordering)
    {
        var statement = _append;
        try
        {
            CheckWriter(raw.sqlite3_bind_int64(statement, 1, ordering));
            CheckWriter(raw.sqlite3_bind_text(statement, 2, e.PersistenceId));
            CheckWriter(raw.sqlite3_bind_int64(statement, 3, e.SequenceNr));
            CheckWriter(raw.sqlite3_bind_int64(statement, 4, e.Timestamp));
            CheckWriter(raw.sqlite3_bind_text(statement, 5, e.Manifest));
            CheckWriter(raw.sqlite3_bind_text(statement, 6, e.WriterUuid));
            // Copied by SQLite (SQLITE_TRANSIENT): a slice needs no array of its own.
            CheckWriter(raw.sqlite3_bind_blob(statement, 7, e.Payload.Span));
            CheckWriter(raw.sqlite3_step(statement));
        }
        finally
        {
            raw.sqlite3_reset(statement);
        }
    }

    /// <summary>Throws a <see cref="SqliteException"/> for an error result of the writer connection.</summary>
    private void CheckWriter(int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_ROW or raw.SQLITE_DONE))
        {
            var db = _writer.Handle!;
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(db));
        }
    }

    /// <summary>Inside the open transaction: gives every event after the watermark its index entry and moves the watermark to the last one.</summary>
    private void IndexTail()
    {
        var to = _nextOrdering - 1;
        if (to <= _indexedTo)
        {
            return;
        }
        _indexTail.Parameters[0].Value = to;
        _indexTail.ExecuteNonQuery();
        _setWatermark.Parameters[0].Value = to;
        _setWatermark.ExecuteNonQuery();
        _indexedTo = to;
    }

    /// <summary>
    /// After a committed group: when enough events are unindexed, indexes them in a transaction of
    /// their own (synchronous=NORMAL, see the type's remarks). A failure is logged and leaves the
    /// events unindexed, still found by the readers; the next group commit tries again.
    /// </summary>
    private void IndexIfDue()
    {
        if (_nextOrdering - 1 - _indexedTo < _indexBatchEvents)
        {
            return;
        }
        var indexedBefore = _indexedTo;
        try
        {
            if (_relaxIndexingSync)
            {
                _syncRelaxed = true;
                _syncNormal.ExecuteNonQuery();
            }
            _begin.ExecuteNonQuery();
            IndexTail();
            _commit.ExecuteNonQuery();
            // No event is after the watermark now, so every id's highest can be read from the index again.
            _highest.Clear();
        }
        catch (Exception ex)
        {
            _indexedTo = indexedBefore;
            try
            {
                _rollback.ExecuteNonQuery();
            }
            catch (SqliteException)
            {
            }
            _logger.LogError(ex, "Indexing {Count} events of journal {Path} failed; they stay readable and are indexed later.", _nextOrdering - 1 - indexedBefore, _path);
        }
        finally
        {
            RestoreFullSync(throwOnFailure: false);
        }
    }

    /// <summary>Sets synchronous=FULL again after an indexing transaction; before a group commit, failing to do so fails the group.</summary>
    private void RestoreFullSync(bool throwOnFailure)
    {
        if (!_syncRelaxed)
        {
            return;
        }
        try
        {
            _syncFull.ExecuteNonQuery();
            _syncRelaxed = false;
        }
        catch (Exception ex) when (!throwOnFailure)
        {
            // Still relaxed: the next group commit tries again before it begins, and fails if it cannot.
            _logger.LogError(ex, "Setting synchronous=FULL again on journal {Path} failed.", _path);
        }
    }

    private void Delete(string persistenceId, long toSequenceNr)
    {
        // Everything indexed first, so the index alone knows every stored event of the id.
        IndexTail();
        _highestStored.Parameters[0].Value = persistenceId;
        if (_highestStored.ExecuteScalar() is not long highestStored)
        {
            return;
        }
        _deleteEvents.Parameters[0].Value = persistenceId;
        _deleteEvents.Parameters[1].Value = toSequenceNr;
        _deleteEvents.ExecuteNonQuery();
        _deleteIndexEntries.Parameters[0].Value = persistenceId;
        _deleteIndexEntries.Parameters[1].Value = toSequenceNr;
        _deleteIndexEntries.ExecuteNonQuery();
        _recordDeleted.Parameters[0].Value = persistenceId;
        _recordDeleted.Parameters[1].Value = Math.Min(toSequenceNr, highestStored);
        _recordDeleted.ExecuteNonQuery();
    }
}
