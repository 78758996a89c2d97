using Akka.Actor;
using Akka.Event;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>The FSM data of a <see cref="RaftActor"/>: what the core reported after the last event.</summary>
/// <param name="Term">The core's current term.</param>
/// <param name="Leader">The leader the core knows of, or 0.</param>
public sealed record RaftActorData(long Term, ulong Leader);

/// <summary>
/// The actor shell around one Raft core (<see cref="RaftNode"/>): an FSM whose states are the core's roles
/// (Follower, PreCandidate, Candidate, Leader), re-synchronised with the core after every event and logged on each
/// transition. Scenarios:
/// <list type="number">
/// <item>Start: a <see cref="RaftLogActor"/> child replays the node's journal stream; only then is the core created
/// from the recovered hard state and log, and the periodic tick timer (system scheduler, so virtual in tests)
/// started. Until then peer messages are dropped and client requests answered <see cref="ProposeDropped"/>.</item>
/// <item>Every tick, peer message (<see cref="RaftMessage"/>) and client request steps the core, then every pending
/// <see cref="Ready"/> is carried out in etcd's order: send the messages that need no local durability; PERSIST
/// (truncation, entries, hard state: one atomic journal write through the child); only after the journal confirmed it,
/// send votes and append acknowledgements; APPLY committed entries to the <see cref="IStateMachine"/>, answering
/// proposers; serve confirmed reads; Advance. While a write is in flight the core keeps stepping; its next Ready
/// batches everything that accumulated (group commit).</item>
/// <item>A failed or rejected journal write, a failed replay or the loss of the log child stops this actor (FSM Stop with
/// a Failure reason) without sending anything that promised durability; pending requests are answered
/// <see cref="ProposeDropped"/>.</item>
/// </list>
/// Peers are reached through a map node id → <see cref="IActorRef"/> (<see cref="SetPeers"/>); refs may be local or
/// remote (Akka.Remote carries the core's messages through <see cref="Serialization.RaftWireSerializer"/>); a member of
/// the configuration without a ref is simply unreachable. Timers (the tick) go through the FSM's named timers on the
/// system scheduler, so a TestScheduler drives them in virtual time. Requests: <see cref="Propose"/>,
/// <see cref="ReadIndex"/>, <see cref="GetRaftStatus"/>, and membership: <see cref="AddMember"/> (learner, catch-up
/// rounds, then voter: thesis §4.2.1), <see cref="RemoveMember"/> (thesis §4.2.2), <see cref="GetMembers"/>.
/// </summary>
public sealed partial class RaftActor : FSM<RaftRole, RaftActorData>
{
    /// <summary>Name of the periodic tick timer.</summary>
    private const string TickTimer = "raft-tick";

    /// <summary>Validated settings.</summary>
    private readonly RaftActorSettings _settings;

    /// <summary>Peers by node id (never this node).</summary>
    private readonly Dictionary<ulong, IActorRef> _peers = new();

    /// <summary>The state machine of this incarnation.</summary>
    private readonly IStateMachine _stateMachine;

    /// <summary>The child that owns the journal stream.</summary>
    private IActorRef _logActor = ActorRefs.Nobody;

    /// <summary>The core; null until the journal was replayed.</summary>
    private RaftNode? _node;

    /// <summary>The durable log index the core reads; null until recovered.</summary>
    private JournaledRaftStorage? _storage;

    /// <summary>The Ready whose durable part is being written, or null.</summary>
    private Ready? _persisting;

    /// <summary>The hard state written with <see cref="_persisting"/> (its own, or a deferred commit-only one).</summary>
    private HardState? _persistingHardState;

    /// <summary>The latest commit-only hard state not written yet: it goes with the next Ready that must sync, or
    /// alone after a tick without one (<see cref="FlushDeferredHardState"/>).</summary>
    private HardState? _deferredHardState;

    /// <summary>True while a deferred hard state is being written alone (no Ready outstanding).</summary>
    private bool _flushingHardState;

    /// <summary>Whether a Ready that must sync was written since the last tick.</summary>
    private bool _syncedSinceTick;

    /// <summary>Who asked for <see cref="SyncHardState"/> and waits for <see cref="HardStateSynced"/>.</summary>
    private List<IActorRef>? _hardStateWaiters;

    /// <summary>Akka's logger of this actor (semantic templates).</summary>
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <summary>Peer messages dropped because the peer map had no ref for their destination.</summary>
    private long _unroutable;

    /// <summary>The tick of the last <see cref="PeerUnroutable"/> published (at most one per 10 ticks).</summary>
    private long _unroutablePublishedTick = -10;

    /// <summary>Set from recovery until the committed entries after the snapshot are applied again (for the log line).</summary>
    private (long At, long AppliedBefore)? _replayingSince;

    /// <summary>How many peer messages are held while the journal recovers (<see cref="StepPeerMessage"/>).</summary>
    private const int MaxHeldWhileRecovering = 64;

    /// <summary>Peer messages that arrived while the journal recovered, with their senders; null once recovered.</summary>
    private Queue<(RaftMessage Message, IActorRef Sender)>? _heldWhileRecovering;

    /// <summary>The core's term right after recovery (<see cref="MaybeAdvanceFirstElection"/>: a later term means an election already ran).</summary>
    private long _recoveredTerm;

    /// <summary>True while a <see cref="SettleRequests"/> is in this actor's mailbox (requests wait for it to batch).</summary>
    private bool _settleQueued;

    /// <summary>Creates the actor; use <see cref="Props"/> (it validates the settings) rather than calling this.</summary>
    /// <param name="settings">Validated settings.</param>
    /// <param name="peers">Initial peer map, or null.</param>
    public RaftActor(RaftActorSettings settings, IReadOnlyDictionary<ulong, IActorRef>? peers)
    {
        _settings = settings;
        _stateMachine = settings.StateMachineFactory() ?? throw new InvalidOperationException("RaftActorSettings.StateMachineFactory returned null.");
        ReplacePeers(peers);
        StartWith(RaftRole.Follower, new RaftActorData(0, 0));
        foreach (var role in Enum.GetValues<RaftRole>())
        {
            When(role, Handle);
        }

        OnTransition((from, to) => Log.Info(
            "Raft node {NodeId}: {From} -> {To} (term {Term}, leader {Leader}).",
            NodeId, from, to, NextStateData.Term, NextStateData.Leader));
        OnTermination(stop => FailAllPending($"the Raft node {NodeId} stopped ({stop.Reason})"));
        Initialize();
    }

    /// <summary>Akka's logger of this actor.</summary>
    private ILoggingAdapter Log => _log;

    /// <summary>This node's id.</summary>
    private ulong NodeId => _settings.Raft.NodeId;

    /// <summary>
    /// Validates <paramref name="settings"/> and returns Props for a RaftActor. Call from the node host; the actor's
    /// name is up to the caller (for instance <c>raft</c>).
    /// </summary>
    /// <param name="settings">The node's settings.</param>
    /// <param name="peers">Initial peer map (node id → ref); may be replaced later with <see cref="SetPeers"/>.</param>
    /// <returns>Props whose every incarnation recovers from the journal.</returns>
    /// <exception cref="ArgumentException">A setting is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public static Props Props(RaftActorSettings settings, IReadOnlyDictionary<ulong, IActorRef>? peers = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        return Akka.Actor.Props.Create(() => new RaftActor(settings, peers));
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        _logActor = Context.ActorOf(
            Akka.Actor.Props.Create(() => new RaftLogActor(_settings.EffectivePersistenceId, _settings.JournalPluginId, _settings.SnapshotPluginId)),
            "log");
        Context.Watch(_logActor);
        WatchAssociationsForFirstElection();
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => Akka.Actor.SupervisorStrategy.StoppingStrategy;

    /// <summary>The one state function of every role: the core decides, the FSM state mirrors it.</summary>
    private State<RaftRole, RaftActorData> Handle(Event<RaftActorData> e)
    {
        switch (e.FsmEvent)
        {
            case Tick:
                _ticks++;
                _node?.Tick();
                MaybeAdvanceFirstElection();
                TickMembershipOp();
                TickSnapshotTransfers();
                if (!_syncedSinceTick)
                {
                    FlushDeferredHardState();
                }

                _syncedSinceTick = false;
                break;
            case SnapshotBeforeStop:
                OnSnapshotBeforeStop(Sender);
                break;
            case SyncHardState:
                (_hardStateWaiters ??= new()).Add(Sender);
                FlushDeferredHardState();
                AnswerHardStateWaiters();
                break;
            case RaftMessage message:
                StepPeerMessage(message, Sender);
                break;
            case Akka.Remote.AssociationEvent association:
                OnAssociation(association);
                break;
            case PeerListening listening:
                OnPeerListening(listening.Address);
                break;
            case Propose propose:
                HandlePropose(propose);
                return SettleSoon();
            case ReadIndex read:
                HandleRead(read);
                return SettleSoon();
            case SettleRequests:
                _settleQueued = false;
                break;
            case LocalQuery query:
                HandleLocalQuery(query);
                break;
            case GetRaftStatus:
                return Settle().Replying(BuildStatus());
            case GetRaftDiagnostics:
                return Settle().Replying(BuildDiagnostics());
            case AddMember add:
                HandleAddMember(add);
                break;
            case RemoveMember remove:
                HandleRemoveMember(remove);
                break;
            case GetMembers:
                return Settle().Replying(BuildMembers());
            case TransferLeadership transfer:
                HandleTransferLeadership(transfer);
                break;
            case SetPeers set:
                ReplacePeers(set.Peers);
                break;
            case ReadyPersisted:
                OnPersisted();
                break;
            case RaftLogRecovered recovered:
                if (OnRecovered(recovered) is { } unrecoverable)
                {
                    return Fail(unrecoverable, "snapshot recovery failed");
                }

                StepHeldPeerMessages();
                MaybeAdvanceFirstElection(); // after the held messages: a leader's among them makes it unnecessary
                break;
            case SnapshotSerialized serialized:
                OnSnapshotSerialized(serialized);
                break;
            case SnapshotSerializeFailed failed:
                _snapshotting = false;
                Log.Error(failed.Cause, "Raft node {NodeId}: serializing snapshot {Index} failed; the next trigger tries again.", NodeId, failed.Metadata.Index);
                AnswerStopSnapshotWaiters(saved: false);
                break;
            case RaftSnapshotSaved saved:
                OnSnapshotSaved(saved);
                break;
            case RaftSnapshotSaveFailed failed:
                _snapshotting = false;
                Log.Warning("Raft node {NodeId}: snapshot {Index} was not saved ({Cause}); the next trigger tries again.", NodeId, failed.Request.Metadata.Index, failed.Cause.Message);
                AnswerStopSnapshotWaiters(saved: false);
                break;
            case LatestRaftSnapshotLoaded loaded:
                OnLatestSnapshotLoaded(loaded);
                break;
            case SnapshotReceived received:
                OnSnapshotReceived(received);
                break;
            case SnapshotReceiveFailed failed:
                OnSnapshotReceiveFailed(failed);
                break;
            case ReadyPersistFailed failed:
                Log.Error(failed.Cause, "Raft node {NodeId}: journal write failed; stopping without sending votes or acknowledgements.", NodeId);
                return Fail(failed.Cause, "journal write failed");
            case RaftLogRecoveryFailed failed:
                return Fail(failed.Cause, "journal replay failed");
            case Terminated terminated when terminated.ActorRef.Equals(_logActor):
                Log.Error("Raft node {NodeId}: its journal child stopped; stopping.", NodeId);
                return Stop(new FSMBase.Failure("the journal child stopped"));
            default:
                return null!; // unhandled: the FSM logs it
        }

        return Settle();
    }

    /// <summary>Stops this actor for good: publishes <see cref="RaftNodeFailed"/> (the node host maps a
    /// <see cref="RaftUnrecoverableStateException"/> to its exit code) and stops with the cause.</summary>
    private State<RaftRole, RaftActorData> Fail(Exception cause, string what)
    {
        Context.System.EventStream.Publish(new RaftNodeFailed(NodeId, cause));
        return Stop(new FSMBase.Failure($"{what}: {cause.Message}"));
    }

    /// <summary>Creates the core from what the log child recovered; returns the failure when the snapshot's image is refused.</summary>
    private Exception? OnRecovered(RaftLogRecovered recovered)
    {
        if (_node is not null)
        {
            return null;
        }

        var restoreStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        var snapshot = recovered.Snapshot;
        _storage = new JournaledRaftStorage(recovered.HardState, recovered.Log, snapshot?.Decoded.Metadata ?? SnapshotMetadata.None);
        _journalCompactedTo = recovered.Log.Offset;
        if (snapshot is not null)
        {
            if (RestoreRecoveredSnapshot(snapshot) is { } refused)
            {
                Log.Error(refused, "Raft node {NodeId} cannot start.", NodeId);
                return refused;
            }

            _storage.Compact(snapshot.Decoded.Metadata.Index - _settings.CompactionMarginEntries);
        }

        IRaftRandom random;
        if (_settings.RandomFactory is { } factory)
        {
            random = factory();
        }
        else
        {
            var seed = Random.Shared.Next();
            Log.Info("Raft node {NodeId}: election-timeout seed {Seed}.", NodeId, seed);
            random = new SeededRaftRandom(seed);
        }

        _node = new RaftNode(_settings.Raft, _storage, random, _lastApplied);
        Log.Info(
            "Raft node {NodeId} recovered {Events} journal events: {HardState}, snapshot {Snapshot} (state machine restored in {RestoreMs} ms), log {Log}.",
            NodeId, recovered.EventCount, recovered.HardState, _snapshot.Index,
            (int)System.Diagnostics.Stopwatch.GetElapsedTime(restoreStarted).TotalMilliseconds, $"{_storage.FirstIndex}..{_storage.LastIndex}");
        _recoveredTerm = _node.Term;
        CampaignIfSoleVoter();
        if (_node.CommitIndex > _lastApplied)
        {
            _replayingSince = (System.Diagnostics.Stopwatch.GetTimestamp(), _lastApplied);
        }

        SetTimer(TickTimer, Tick.Instance, _settings.TickInterval, repeat: true);
        return null;
    }

    /// <summary>
    /// A sole voter (a one-node store) campaigns as soon as its journal has recovered (etcd's <c>adjustTicks</c> for a
    /// single-node cluster): its own vote elects it, so waiting out a timeout only delays it. A node with peers waits its
    /// whole first timeout: advancing it at recovery (etcd advances it only once peer connections report) made it
    /// message peers that were not listening yet, which Akka.Remote then gates for 5 s.
    /// </summary>
    private void CampaignIfSoleVoter()
    {
        if (_settings.SoleVoterCampaignsAtStart && _node!.IsSoleVoter)
        {
            _node.Campaign();
        }
    }

    /// <summary>Steps the peer messages held while the journal was recovering, in arrival order.</summary>
    private void StepHeldPeerMessages()
    {
        if (_heldWhileRecovering is not { } held)
        {
            return;
        }

        _heldWhileRecovering = null;
        foreach (var (message, sender) in held)
        {
            StepPeerMessage(message, sender);
        }
    }

    private void StepPeerMessage(RaftMessage message, IActorRef sender)
    {
        NotePeerReached(sender);
        if (_node is null)
        {
            // Still recovering: the latest few are held and stepped once the core exists, so a peer's pre-vote or vote
            // request sent while this node replayed its journal is answered in that round instead of the next election
            // timeout (older ones are dropped: Raft tolerates a lost message).
            _peerMessagesWhileRecovering++;
            var held = _heldWhileRecovering ??= new Queue<(RaftMessage, IActorRef)>();
            if (held.Count == MaxHeldWhileRecovering)
            {
                held.Dequeue();
            }

            held.Enqueue((message, sender));
            return;
        }

        if (message.To != NodeId)
        {
            Log.Warning("Raft node {NodeId} dropped a {Type} addressed to node {To} (a routing error at the sender).", NodeId, message.GetType().Name, message.To);
            return;
        }

        if (message is AppendEntries append && _incoming is { Verifying: true } checking && append.From == checking.From && append.PrevLogIndex >= checking.Index)
        {
            // The leader heard that the whole snapshot arrived and continues after it, but the snapshot is still being
            // verified: a rejection now would make it send the whole snapshot again. Its next heartbeat's answer brings
            // the append back once the snapshot is installed (RaftActor.Transfer.cs).
            _appendsHeldForSnapshot++;
            return;
        }

        if (message is AppendEntriesResult { Success: true } ack && _node.Role == RaftRole.Leader && ack.Term == _node.Term)
        {
            _match[ack.From] = Math.Max(_match.GetValueOrDefault(ack.From), ack.Index);
        }

        // A member added at run time (raft add-member) may be unknown to this node's peer map: its messages carry
        // the way back, so answer through the sender rather than dropping the reply.
        if (message.From != NodeId && !_peers.ContainsKey(message.From) && sender.Path.Address.HasGlobalScope)
        {
            _peers[message.From] = sender;
            Log.Info("Raft node {NodeId} learned peer {Peer} at {Ref} from its messages.", NodeId, message.From, sender.Path);
        }

        _peerMessagesIn++;
        _lastIn = message;
        switch (message)
        {
            case SnapshotChunk chunk:
                OnChunk(chunk);
                break;
            case SnapshotChunkAck chunkAck:
                OnChunkAck(chunkAck);
                break;
            default:
                _node.Step(message);
                break;
        }
    }

    /// <summary>Carries out pending Readies, then mirrors the core's role in the FSM state.</summary>
    private State<RaftRole, RaftActorData> Settle()
    {
        CheckCatchUp();
        Drive();
        if (_node is null)
        {
            return Stay();
        }

        var data = new RaftActorData(_node.Term, _node.Leader);
        if (data != StateData)
        {
            OnLeadershipChanged(StateData, data);
        }

        if (_readBatch is not null)
        {
            // After the leadership check, so a batch handed to the core in the new term is not dropped with the old one.
            FlushReadBatch();
            Drive();
        }

        return _node.Role == StateName ? Stay().Using(data) : GoTo(_node.Role).Using(data);
    }

    /// <summary>
    /// Defers the Ready of a client request until the requests already in the mailbox are in the core too: one
    /// <see cref="SettleRequests"/> goes behind them, so proposals that arrive together share one Ready (one journal
    /// write, one AppendEntries per follower) and reads one heartbeat round. Requests change neither term nor role.
    /// </summary>
    private State<RaftRole, RaftActorData> SettleSoon()
    {
        ContinueSoon();
        return Stay();
    }

    /// <summary>Queues one <see cref="SettleRequests"/> behind the messages already in the mailbox, unless one is queued.</summary>
    private void ContinueSoon()
    {
        if (!_settleQueued)
        {
            _settleQueued = true;
            Self.Tell(SettleRequests.Instance, Self);
        }
    }

    private void ReplacePeers(IReadOnlyDictionary<ulong, IActorRef>? peers)
    {
        _peers.Clear();
        if (peers is null)
        {
            return;
        }

        foreach (var (id, peer) in peers)
        {
            if (id != _settings.Raft.NodeId && peer is not null)
            {
                _peers[id] = peer;
            }
        }
    }

    /// <summary>Carries out the Readies of the requests before it (<see cref="SettleSoon"/>; local only).</summary>
    private sealed record SettleRequests : INoSerializationVerificationNeeded
    {
        public static SettleRequests Instance { get; } = new();
    }

    /// <summary>The tick timer's message (local only).</summary>
    private sealed record Tick : INoSerializationVerificationNeeded
    {
        public static Tick Instance { get; } = new();
    }
}
