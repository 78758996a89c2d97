namespace KvCluster.Raft.Core;

/// <summary>
/// One Raft node as a deterministic state machine (in the style of etcd's <c>raft</c> + <c>RawNode</c>). It performs
/// no I/O and reads no clock: the driver (the RaftActor, a test, a simulation) feeds it ticks
/// (<see cref="Tick"/>), peer messages (<see cref="Step"/>) and client requests (<see cref="Propose(ReadOnlyMemory{byte})"/>,
/// <see cref="ReadIndex"/>), then repeatedly takes the resulting effects with <see cref="GetReady"/>, carries them out
/// in the order <see cref="Ready"/> documents, and acknowledges them with <see cref="Advance"/>.
/// <para>
/// Each role is a step function swapped on role change (<c>BecomeFollower</c> sets the follower step, and so on).
/// Given the same storage contents, random source and inputs, a node produces the same outputs.
/// </para>
/// <para>Not thread-safe: one driver calls every member, one call at a time.</para>
/// </summary>
public sealed partial class RaftNode
{
    /// <summary>Validated settings.</summary>
    private readonly RaftConfig _config;

    /// <summary>The election-timeout randomness.</summary>
    private readonly IRaftRandom _random;

    /// <summary>The voters of <see cref="Membership"/> and the majority rules over them.</summary>
    private VoterSet _voters = new(Array.Empty<ulong>());

    /// <summary>The log: storage plus unstable tail, commit and applied.</summary>
    private readonly RaftLog _log;

    /// <summary>Messages released with the next Ready before the persist.</summary>
    private readonly List<RaftMessage> _messages = new();

    /// <summary>Messages released with the next Ready after the persist.</summary>
    private readonly List<RaftMessage> _messagesAfterPersist = new();

    /// <summary>Reads confirmed by the leader, waiting for the applied index to reach them.</summary>
    private readonly List<ReadState> _readStates = new();

    /// <summary>The hard state as of the last Ready handed out.</summary>
    private HardState _lastHardState;

    /// <summary>The Ready handed out and not yet advanced, if any.</summary>
    private Ready? _outstanding;

    /// <summary>Creates a node from what <paramref name="storage"/> holds (a fresh node or a restart after a crash).</summary>
    /// <param name="config">Settings; validated here.</param>
    /// <param name="storage">The durable log and hard state; the driver keeps writing it as Readies ask.</param>
    /// <param name="random">Source of election-timeout randomness; seed it to replay runs.</param>
    /// <param name="appliedIndex">Index up to which the driver's state machine already applied entries (0 when it starts empty).</param>
    /// <exception cref="ArgumentException">A setting is invalid; the parameter name is the setting.</exception>
    /// <exception cref="InvalidOperationException">The storage is inconsistent (commit beyond its last entry).</exception>
    /// <exception cref="InvalidDataException">A configuration-change entry in storage cannot be decoded.</exception>
    public RaftNode(RaftConfig config, IRaftStorage storage, IRaftRandom random, long appliedIndex = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(random);
        config.Validate();
        _config = config;
        _random = random;
        _bootstrap = new Membership(config.Voters, Array.Empty<ulong>());
        var hs = storage.InitialHardState;
        _log = new RaftLog(storage, hs.Commit, appliedIndex);
        RecoverMembership();
        _lastHardState = hs;
        Term = hs.Term;
        Vote = hs.Vote;
        BecomeFollower(hs.Term, 0);
    }

    /// <summary>This node's id.</summary>
    public ulong Id => _config.NodeId;

    /// <summary>The current role.</summary>
    public RaftRole Role { get; private set; }

    /// <summary>The current term (Raft Figure 2, currentTerm).</summary>
    public long Term { get; private set; }

    /// <summary>The node voted for in <see cref="Term"/>, or 0 (Raft Figure 2, votedFor).</summary>
    public ulong Vote { get; private set; }

    /// <summary>The leader of <see cref="Term"/> as far as this node knows, or 0.</summary>
    public ulong Leader { get; private set; }

    /// <summary>Highest index known committed (Raft Figure 2, commitIndex).</summary>
    public long CommitIndex => _log.Committed;

    /// <summary>Highest index acknowledged as applied through <see cref="Advance"/> (Raft Figure 2, lastApplied).</summary>
    public long AppliedIndex => _log.Applied;

    /// <summary>Index of the last entry in the log, persisted or not.</summary>
    public long LastIndex => _log.LastIndex;

    /// <summary>
    /// Whether <see cref="GetReady"/> would return work. False while a Ready is outstanding (not yet advanced).
    /// </summary>
    public bool HasReady
    {
        get
        {
            if (_outstanding is not null)
            {
                return false;
            }

            return _messages.Count > 0 || _messagesAfterPersist.Count > 0 || _log.Unstable.Entries.Count > 0
                || _log.Unstable.Snapshot is not null
                || CurrentHardState != _lastHardState || _log.Committed > _log.Applied
                || _broadcastPending || ReadRoundDue
                || _readStates.Exists(r => r.Index <= _log.Applied);
        }
    }

    /// <summary>The current hard state (term, vote, commit).</summary>
    private HardState CurrentHardState => new(Term, Vote, _log.Committed);

    /// <summary>
    /// Takes the pending effects as one batch. Call only when <see cref="HasReady"/> is true or to poll; at most one
    /// Ready may be outstanding: carry it out and call <see cref="Advance"/> before taking the next. Ticks, steps and
    /// requests may still arrive between the two calls.
    /// </summary>
    /// <returns>The batch; possibly empty when nothing was pending.</returns>
    /// <exception cref="InvalidOperationException">A previous Ready was not advanced.</exception>
    public Ready GetReady()
    {
        if (_outstanding is not null)
        {
            throw new InvalidOperationException("GetReady called before Advance of the previous Ready; carry it out and call Advance first.");
        }

        FlushLeaderBroadcasts();

        var snapshot = _log.Unstable.Snapshot;
        var entries = _log.Unstable.Entries.ToArray();
        long? truncateFrom = snapshot is null && entries.Length > 0 && entries[0].Index <= _log.Storage.LastIndex ? entries[0].Index : null;
        var hs = CurrentHardState;
        HardState? hardState = hs != _lastHardState ? hs : null;
        var committed = _log.NextCommittedEntries(_config.MaxCommittedEntriesPerReady);
        var appliedAfter = committed.Count > 0 ? committed[^1].Index : _log.Applied;
        var reads = new List<ReadState>();
        _readStates.RemoveAll(r =>
        {
            if (r.Index <= appliedAfter)
            {
                reads.Add(r);
                return true;
            }

            return false;
        });

        var ready = new Ready(
            Role, Leader, hardState, truncateFrom, entries,
            _messages.ToArray(), _messagesAfterPersist.ToArray(), committed, reads,
            termOrVoteChanged: hs.Term != _lastHardState.Term || hs.Vote != _lastHardState.Vote,
            snapshot: snapshot);
        _messages.Clear();
        _messagesAfterPersist.Clear();
        _lastHardState = hs;
        _outstanding = ready;
        return ready;
    }

    /// <summary>
    /// Acknowledges that <paramref name="ready"/> was carried out: its entries and hard state are durable, its messages
    /// sent, its committed entries applied and its reads served. A leader counts its own entries toward commit only
    /// from here, because only now are they durable on its disk.
    /// </summary>
    /// <param name="ready">The batch returned by the last <see cref="GetReady"/>.</param>
    /// <exception cref="InvalidOperationException"><paramref name="ready"/> is not the outstanding batch.</exception>
    public void Advance(Ready ready)
    {
        if (!ReferenceEquals(ready, _outstanding))
        {
            throw new InvalidOperationException("Advance must be called with the Ready returned by the last GetReady, once.");
        }

        _outstanding = null;
        if (ready.Snapshot is { } snapshot)
        {
            _log.SnapshotApplied(snapshot.Index);
        }

        if (ready.Entries.Count > 0)
        {
            var last = ready.Entries[^1];
            _log.Unstable.StableTo(last.Index, last.Term);
            if (Role == RaftRole.Leader && _log.MatchTerm(last.Index, last.Term) && _progress[Id].MaybeUpdate(last.Index))
            {
                MaybeCommitAndNotify();
            }
        }

        if (ready.CommittedEntries.Count > 0)
        {
            _log.AppliedTo(ready.CommittedEntries[^1].Index);
        }

        MaybeStepDownAfterRemoval();
    }

    /// <summary>Advances logical time by one tick: election timeouts for followers and candidates, heartbeats and
    /// CheckQuorum for leaders.</summary>
    public void Tick()
    {
        if (Role == RaftRole.Leader)
        {
            TickLeader();
        }
        else
        {
            TickElection();
        }
    }

    /// <summary>Whether this node is the only voter of its configuration (a one-node store), so its own vote elects it.</summary>
    public bool IsSoleVoter => _voters.Ids.Count == 1 && _voters.Contains(Id);

    /// <summary>
    /// Proposes one command. On the leader it is appended to the log (and sent with the next Ready, batched with other
    /// proposals made before it); elsewhere the result is NotLeader with a leader hint.
    /// </summary>
    /// <param name="data">The command bytes; the caller must not mutate them afterwards.</param>
    /// <returns>Accepted with the entry's (index, term), NotLeader, or Dropped (leadership transfer, uncommitted bound).</returns>
    public ProposeResult Propose(ReadOnlyMemory<byte> data) => Propose(new[] { data });

    /// <summary>Proposes several commands as consecutive entries, all or none.</summary>
    /// <param name="commands">The command bytes, in order; at least one.</param>
    /// <returns>Accepted with the (index, term) of the last entry, NotLeader, or Dropped.</returns>
    /// <exception cref="ArgumentException"><paramref name="commands"/> is empty.</exception>
    public ProposeResult Propose(IReadOnlyList<ReadOnlyMemory<byte>> commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        if (commands.Count == 0)
        {
            throw new ArgumentException("At least one command is required.", nameof(commands));
        }

        if (Role != RaftRole.Leader)
        {
            return ProposeResult.NotLeader(Leader);
        }

        if (_leadTransferee != 0)
        {
            return ProposeResult.Dropped($"leadership is being transferred to node {_leadTransferee}; retry at the new leader");
        }

        long bytes = 0;
        foreach (var c in commands)
        {
            bytes += c.Length + 16;
        }

        if (_uncommittedBytes > 0 && _uncommittedBytes + bytes > _config.MaxUncommittedBytes)
        {
            return ProposeResult.Dropped(
                $"the leader holds {_uncommittedBytes} uncommitted bytes (MaxUncommittedBytes {_config.MaxUncommittedBytes}); retry when the quorum catches up");
        }

        var entries = new List<Entry>(commands.Count);
        var index = _log.LastIndex;
        foreach (var c in commands)
        {
            entries.Add(new Entry(Term, ++index, EntryType.Normal, c));
        }

        AppendAsLeader(entries);
        return ProposeResult.Accepted(index, Term);
    }

    /// <summary>
    /// Starts a linearizable read (thesis §6.4). When it is confirmed, a <see cref="ReadState"/> with
    /// <paramref name="context"/> appears in a Ready whose committed entries bring the state machine up to its index.
    /// A follower forwards the read to the leader. A read is silently lost when leadership changes or messages are
    /// lost; the driver times it out and retries.
    /// </summary>
    /// <param name="context">The driver's identifier for the read, unique on this node among reads in progress.</param>
    /// <returns>Accepted, or NotLeader when no leader is known.</returns>
    public ProposeResult ReadIndex(ulong context)
    {
        if (Role == RaftRole.Leader)
        {
            HandleReadRequest(Id, context);
            return ProposeResult.Accepted(0, Term);
        }

        if (Role == RaftRole.Follower && Leader != 0)
        {
            Send(new ReadIndexRequest(Id, Leader, Term, context));
            return ProposeResult.Accepted(0, Term);
        }

        return ProposeResult.NotLeader(Leader);
    }

    /// <summary>Starts an election now (a pre-vote first when enabled), as if the election timeout had elapsed.
    /// Ignored on a leader.</summary>
    public void Campaign()
    {
        if (Role != RaftRole.Leader)
        {
            Hup(transfer: false);
        }
    }

    /// <summary>
    /// Asks the leader to hand leadership to <paramref name="target"/> (thesis §3.10): proposals are dropped meanwhile;
    /// once the target's log is up to date it receives <see cref="TimeoutNow"/> and campaigns at once. The transfer is
    /// abandoned after an election timeout.
    /// </summary>
    /// <param name="target">A voter other than this node.</param>
    /// <returns>Accepted, NotLeader on a non-leader, or Dropped when the target is not a voter.</returns>
    public ProposeResult TransferLeadership(ulong target)
    {
        if (Role != RaftRole.Leader)
        {
            return ProposeResult.NotLeader(Leader);
        }

        if (target == Id)
        {
            return ProposeResult.Accepted(0, Term);
        }

        if (!_voters.Contains(target))
        {
            return ProposeResult.Dropped($"node {target} is not a voter; leadership can only go to one of {string.Join(", ", _voters.Ids)} (learners first need promoting)");
        }

        StartLeaderTransfer(target);
        return ProposeResult.Accepted(0, Term);
    }

    /// <summary>Entries of the current log from <paramref name="lo"/> (or its first index, when higher) to the end
    /// (tests and simulation checkers).</summary>
    internal List<Entry> LogEntries(long lo) => _log.Entries(Math.Max(lo, _log.FirstIndex), long.MaxValue, int.MaxValue);

    /// <summary>Index of the first entry the log still holds (1 until it was compacted or a snapshot was installed).</summary>
    public long FirstIndex => _log.FirstIndex;

    /// <summary>The snapshot behind the log: one being installed, else the storage's latest (tests).</summary>
    internal SnapshotMetadata LogSnapshot => _log.Snapshot;

    /// <summary>
    /// The metadata of a snapshot of the state machine as of <paramref name="index"/> (Raft §7): the entry's term and
    /// the configuration in force there. The driver calls it when it captures its state machine, then makes the image
    /// durable with this metadata and records it in its storage; the core sends it to followers that need compacted
    /// entries.
    /// </summary>
    /// <param name="index">An applied index the log still holds (first index - 1 up to <see cref="AppliedIndex"/>).</param>
    /// <returns>The metadata.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The index is not applied or was compacted.</exception>
    public SnapshotMetadata CreateSnapshotMetadata(long index)
    {
        if (index > _log.Applied || index < _log.FirstIndex - 1 || index < 1)
        {
            throw new ArgumentOutOfRangeException(
                nameof(index), index, $"A snapshot must be at an applied index the log holds: 1..{_log.Applied}, at least {_log.FirstIndex - 1}.");
        }

        var (config, configIndex) = _membershipIndex <= index ? (_membership, _membershipIndex) : ScanMembership(index).Current;
        return new SnapshotMetadata(index, _log.Term(index), config, configIndex);
    }

    /// <summary>
    /// The driver reports how sending a snapshot to <paramref name="to"/> ended (etcd's <c>ReportSnapshot</c>): on
    /// success (the follower holds the whole image) the leader waits for the next heartbeat answer and probes after the
    /// snapshot; on failure it probes again, which sends a new snapshot when the follower still needs one. Ignored when
    /// this node no longer leads or no snapshot is in flight to that follower.
    /// </summary>
    /// <param name="to">The follower.</param>
    /// <param name="success">Whether the image arrived whole.</param>
    public void ReportSnapshot(ulong to, bool success)
    {
        if (Role != RaftRole.Leader || !_progress.TryGetValue(to, out var pr) || pr.State != ProgressState.Snapshot)
        {
            return;
        }

        var next = success ? pr.PendingSnapshot + 1 : pr.Match + 1;
        pr.BecomeProbe(next);
        pr.ProbeSent = true; // wait for a heartbeat answer before probing (etcd pauses the same way)
    }

    /// <summary>The randomized election timeout currently in force (tests; the RaftActor's first-election advance).</summary>
    internal int RandomizedElectionTimeout => _randomizedElectionTimeout;

    /// <summary>Ticks elapsed towards it (the RaftActor's first-election advance).</summary>
    internal int ElectionElapsed => _electionElapsed;

    /// <summary>The leader's progress for a follower (tests).</summary>
    internal Progress? ProgressOf(ulong id) => _progress.TryGetValue(id, out var p) ? p : null;

    /// <summary>
    /// Takes the <see cref="HeartbeatResult"/>s queued since the last <see cref="GetReady"/>, for a driver whose last
    /// Ready is still being made durable (a follower writing a received snapshot can take seconds). A heartbeat's answer
    /// promises nothing about the log (it echoes the term and the read round: "I follow you now"), so it may leave
    /// before any write, like every message of <see cref="Ready.Messages"/>; sent at once, it keeps the leader's
    /// CheckQuorum and ReadIndex rounds going instead of waiting for the write. Everything else stays queued.
    /// </summary>
    /// <returns>The answers, in the order they were queued; empty when there are none.</returns>
    public IReadOnlyList<RaftMessage> TakeHeartbeatResults()
    {
        if (!_messages.Exists(m => m is HeartbeatResult))
        {
            return Array.Empty<RaftMessage>();
        }

        var taken = _messages.FindAll(m => m is HeartbeatResult);
        _messages.RemoveAll(m => m is HeartbeatResult);
        return taken;
    }

    /// <summary>Queues a message: votes and append results after the persist, everything else before.</summary>
    private void Send(RaftMessage message)
    {
        if (message is RequestVote or RequestVoteResult or AppendEntriesResult)
        {
            _messagesAfterPersist.Add(message);
        }
        else
        {
            _messages.Add(message);
        }
    }
}
