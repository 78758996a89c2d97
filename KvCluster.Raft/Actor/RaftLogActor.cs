using KvCluster.Actors;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Raft.Core;
using Microsoft.Extensions.Logging;

namespace KvCluster.Raft.Actor;

/// <summary>
/// The RaftActor's child that owns its journal stream (persistence id per node). Scenarios:
/// <list type="number">
/// <item>Start: replay every event of the stream (truncations, appends, hard states) in sequence order, read the
/// highest sequence number, and send <see cref="RaftLogRecovered"/> to the parent, which only then creates the core.</item>
/// <item>Write: on <see cref="PersistReady"/>, write its events as ONE atomic write (truncate, append, hard state) and,
/// once the journal reports it durable, reply <see cref="ReadyPersisted"/>.</item>
/// <item>Failure: a faulted or rejected write (or a failed replay) is reported to the parent, and this actor stops:
/// nothing is known about what was written, so no later write may be ordered after it (Akka's Eventsourced rule).</item>
/// </list>
/// Journal calls run asynchronously; their outcome is piped back as a message, so no handler ever blocks. It persists
/// through <see cref="IJournal"/> directly rather than through <c>PersistentActor</c>, which was not yet committed when
/// this was written; the event model (one protobuf event per kind, PersistAll-style atomic batch) is the same.
/// </summary>
internal sealed class RaftLogActor : ReceiveActor
{
    /// <summary>The journal (not owned).</summary>
    private readonly IJournal _journal;

    /// <summary>This node's stream.</summary>
    private readonly string _persistenceId;

    /// <summary>Identifies this incarnation in the events it writes.</summary>
    private readonly string _writerUuid = Guid.NewGuid().ToString("N");

    /// <summary>Sequence number of the next event written.</summary>
    private long _nextSequenceNr;

    /// <summary>Creates the actor; recovery starts in <see cref="PreStart"/>.</summary>
    public RaftLogActor(IJournal journal, string persistenceId)
    {
        _journal = journal;
        _persistenceId = persistenceId;
        Receive<Recovered>(OnRecovered);
        Receive<RaftLogRecoveryFailed>(failed =>
        {
            Log.LogError(failed.Cause, "Replaying journal stream {PersistenceId} failed; the Raft node cannot start.", _persistenceId);
            Context.Parent.Tell(failed, Self);
            Context.Stop(Self);
        });
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        var journal = _journal;
        var persistenceId = _persistenceId;
        RecoverAsync(journal, persistenceId).PipeTo(Self, Self, success: r => r, failure: ex => new RaftLogRecoveryFailed(ex));
    }

    private static async Task<Recovered> RecoverAsync(IJournal journal, string persistenceId)
    {
        var hardState = HardState.Empty;
        var log = new List<Entry>();
        long count = 0;
        await journal.ReplayMessagesAsync(persistenceId, 1, long.MaxValue, long.MaxValue, repr =>
        {
            RaftJournalCodec.Replay(repr, ref hardState, log);
            count++;
        }).ConfigureAwait(false);
        var highest = await journal.ReadHighestSequenceNrAsync(persistenceId).ConfigureAwait(false);
        if (hardState.Commit > log.Count)
        {
            throw new InvalidDataException($"Journal stream '{persistenceId}' records commit index {hardState.Commit} beyond its last entry {log.Count}.");
        }

        return new Recovered(new RaftLogRecovered(hardState, log, count), highest);
    }

    private void OnRecovered(Recovered recovered)
    {
        _nextSequenceNr = recovered.HighestSequenceNr + 1;
        Context.Parent.Tell(recovered.State, Self);
        Become(Writing);
    }

    private bool Writing(object message)
    {
        switch (message)
        {
            case PersistReady request:
                Write(request);
                return true;
            case WriteOutcome { Error: null }:
                Context.Parent.Tell(ReadyPersisted.Instance, Self);
                return true;
            case WriteOutcome { Error: { } error }:
                Log.LogError(error, "Journal write to {PersistenceId} failed; stopping the Raft node (nothing is known about what was written).", _persistenceId);
                Context.Parent.Tell(new ReadyPersistFailed(error), Self);
                Context.Stop(Self);
                return true;
            default:
                return false;
        }
    }

    private void Write(PersistReady request)
    {
        var events = RaftJournalCodec.Encode(_persistenceId, _nextSequenceNr, _writerUuid, request.TruncateFrom, request.Entries, request.HardState);
        _nextSequenceNr += events.Count;
        var write = new AtomicWrite(events);
        Task<IReadOnlyList<Exception?>> task;
        try
        {
            task = _journal.WriteMessagesAsync(new[] { write });
        }
        catch (Exception ex)
        {
            task = Task.FromException<IReadOnlyList<Exception?>>(ex);
        }

        task.PipeTo(Self, Self, success: results => new WriteOutcome(results[0]), failure: ex => new WriteOutcome(ex));
    }

    /// <summary>Recovery result piped to self.</summary>
    private sealed record Recovered(RaftLogRecovered State, long HighestSequenceNr);

    /// <summary>A write's outcome piped to self: null error when durable.</summary>
    private sealed record WriteOutcome(Exception? Error);
}
