using Akka.Actor;
using Akka.Event;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Router;

/// <summary>
/// <c>/user/kv-router</c>: every client request of a node passes here. Scenarios:
/// <list type="number">
/// <item>Admission, in the actor: a stopping node answers UNAVAILABLE; a full node (<see cref="KvRouterSettings.MaxInFlight"/>)
/// answers BUSY; a command over a limit or malformed answers BAD_REQUEST. Nothing of these reaches the log.</item>
/// <item>A serializable read is a <see cref="LocalQuery"/> to the local Raft node. A linearizable read is a
/// <see cref="ReadIndex"/> to the local Raft node, which confirms it with the leader (also on a follower).</item>
/// <item>A write goes to the local Raft node when this node leads or no leader is known, and to the leader's router
/// otherwise (at most two hops, so stale hints cannot loop). <see cref="NotLeader"/> with a hint re-routes;
/// without one (an election) the request waits <see cref="KvRouterSettings.LeaderWaitInterval"/> and asks again.</item>
/// <item>Every request has a deadline (its <c>timeout_ms</c>, else <see cref="KvRouterSettings.DefaultTimeout"/>):
/// past it the answer is TIMEOUT, indeterminate for writes.</item>
/// <item>A lease keep-alive or time-to-live forwarded to a leader that stops leading in this node's view (it crashed:
/// a dead node never answers) is sent again to the next leader instead of waiting out its deadline; renewing a lease
/// twice is harmless. A forwarded write still waits for its answer (the old leader may have committed it).</item>
/// <item><see cref="StopAccepting"/> (graceful shutdown): refuse new requests, answer <see cref="Drained"/> once the
/// requests in flight are answered.</item>
/// <item><see cref="GetContacts"/>: answers <see cref="Contacts"/> (every member's endpoint, this node first; the leader's
/// endpoint when known; this node's Raft id). The membership follower of the Raft leader learns a joining node's id
/// this way.</item>
/// </list>
/// Clients reach it through Akka's ClusterClient (it is registered with the ClusterClientReceptionist) or, for other
/// routers, directly. Each admitted request runs as a task outside the mailbox (it only awaits Asks and scheduler
/// delays), answers its client, and its <see cref="RequestDone"/> is piped back, so the actor's handlers never block.
/// </summary>
public sealed partial class KvRouter : ReceiveActor, IWithTimers
{
    /// <summary>Timer key of the periodic leader refresh.</summary>
    private const string RefreshTimer = "leader-refresh";

    /// <summary>Forwarding hops a request may take between routers (a request sent with this many is never forwarded).</summary>
    internal const int MaxHops = 2;

    /// <summary>Validated settings.</summary>
    private readonly KvRouterSettings _settings;

    /// <summary>This node's Raft id.</summary>
    private readonly ulong _selfId;

    /// <summary>The local RaftActor.</summary>
    private readonly IActorRef _raft;

    /// <summary>The group's members by id, this node included (copy-on-write: request tasks read it).</summary>
    private volatile IReadOnlyDictionary<ulong, KvPeer> _peers;

    /// <summary>Checks commands against the limits before they are proposed.</summary>
    private readonly KvRequestValidator _validator;

    /// <summary>The system scheduler, for waits during elections (virtual in tests).</summary>
    private readonly IScheduler _scheduler;

    /// <summary>The logger of this actor, captured for the request tasks (Akka's adapter is thread-safe).</summary>
    private readonly ILoggingAdapter _log;

    /// <summary>The member believed to lead, or 0; written by request tasks and the refresh (atomically).</summary>
    private long _leader;

    /// <summary>Completed, and replaced, whenever <see cref="_leader"/> changes: forwards waiting on the old leader see it.</summary>
    private TaskCompletionSource _leaderMoved = NewLeaderSignal();

    /// <summary>Requests admitted and not yet answered (actor-owned).</summary>
    private int _inFlight;

    /// <summary>Who waits for the drain to end, once <see cref="StopAccepting"/> came.</summary>
    private IActorRef? _drainWaiter;

    /// <summary>The node's lessor (lease keep-alives and time-to-live), once <see cref="UseLessor"/> came; read by request tasks.</summary>
    private volatile IActorRef? _lessor;

    /// <summary>Creates the router; use <see cref="Props"/> (it validates the settings) rather than calling this.</summary>
    public KvRouter(KvRouterSettings settings, ulong selfId, IActorRef raft, IReadOnlyDictionary<ulong, KvPeer> peers, KvRequestValidator validator)
    {
        _settings = settings;
        _selfId = selfId;
        _raft = raft;
        _peers = peers;
        _validator = validator;
        _scheduler = Context.System.Scheduler;
        _log = Context.GetLogger();
        Receive<KvRequest>(Admit);
        Receive<GetContacts>(_ => AnswerContacts());
        Receive<RequestDone>(_ => OnDone());
        Receive<RefreshLeader>(_ => _raft.Tell(GetRaftStatus.Instance, Self));
        Receive<RaftStatus>(status => NoteLeader(status.Leader));
        Receive<StopAccepting>(_ => BeginDrain());
        Receive<AddPeer>(add => _peers = new Dictionary<ulong, KvPeer>(_peers) { [add.Peer.Id] = add.Peer });
        Receive<UseLessor>(use => _lessor = use.Lessor);
    }

    /// <summary>Props of a router.</summary>
    /// <param name="settings">Router settings (validated here).</param>
    /// <param name="selfId">This node's Raft id; must be a key of <paramref name="peers"/>.</param>
    /// <param name="raft">The local RaftActor.</param>
    /// <param name="peers">Every member by id, this node included, with its endpoint and router ref.</param>
    /// <param name="validator">The key/value limits.</param>
    /// <exception cref="ArgumentException">A setting is invalid, or <paramref name="selfId"/> is not a member.</exception>
    public static Props Props(KvRouterSettings settings, ulong selfId, IActorRef raft, IReadOnlyDictionary<ulong, KvPeer> peers, KvRequestValidator validator)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(raft);
        ArgumentNullException.ThrowIfNull(peers);
        ArgumentNullException.ThrowIfNull(validator);
        settings.Validate();
        if (!peers.ContainsKey(selfId))
        {
            throw new ArgumentException($"The peer list does not hold this node ({selfId}).", nameof(peers));
        }

        return Akka.Actor.Props.Create(() => new KvRouter(settings, selfId, raft, peers, validator));
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(RefreshTimer, RefreshLeader.Instance, TimeSpan.Zero, _settings.LeaderRefreshInterval);
    }

    private void Admit(KvRequest request)
    {
        if (_drainWaiter is not null)
        {
            Sender.Tell(Answering(request, Error(ResponseCode.Unavailable, "the node is shutting down; use another endpoint")), Self);
            return;
        }

        if (_inFlight >= _settings.MaxInFlight)
        {
            Sender.Tell(Answering(request, Error(ResponseCode.Busy, $"the node holds its maximum of {_settings.MaxInFlight} requests in flight; retry shortly")), Self);
            return;
        }

        if (request.Command is null || request.Command.OpCase == KvCommand.OpOneofCase.None)
        {
            Sender.Tell(Answering(request, Error(ResponseCode.BadRequest, "the request holds no command (put, get, delete, delete_range, range or an etcd request)")), Self);
            return;
        }

        if (_validator.Validate(request.Command) is { } invalid)
        {
            // The result carries the status too (INVALID_ARGUMENT, or COMPACTED...), as the state machine would answer.
            var refused = Error(ResponseCode.BadRequest, invalid.Message);
            refused.Result = invalid.ToResult();
            Sender.Tell(Answering(request, refused), Self);
            return;
        }

        var timeout = request.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(Math.Min(request.TimeoutMs, _settings.MaxTimeout.TotalMilliseconds)) : _settings.DefaultTimeout;
        _inFlight++;
        var replyTo = Sender;
        var self = Self;
        ServeAsync(request, _scheduler.Now + timeout, replyTo, self).PipeTo(self);
    }

    /// <summary><paramref name="response"/>, marked as the answer to <paramref name="request"/> (the client correlates by id).</summary>
    private static KvResponse Answering(KvRequest request, KvResponse response)
    {
        response.RequestId = request.RequestId;
        return response;
    }

    private void OnDone()
    {
        _inFlight--;
        if (_drainWaiter is not null && _inFlight == 0)
        {
            Drain();
        }
    }

    private void BeginDrain()
    {
        _drainWaiter = Sender;
        _log.Info("Router: refusing new requests; {Count} in flight to finish.", _inFlight);
        if (_inFlight == 0)
        {
            Drain();
        }
    }

    /// <summary>Nothing is in flight any more: the leader view is no longer needed (the Raft node stops next).</summary>
    private void Drain()
    {
        Timers.Cancel(RefreshTimer);
        _drainWaiter!.Tell(Drained.Instance, Self);
    }

    private void NoteLeader(ulong leader)
    {
        if ((leader == 0 || _peers.ContainsKey(leader)) && Interlocked.Exchange(ref _leader, (long)leader) != (long)leader)
        {
            SignalLeaderMoved();
        }
    }

    /// <summary>Wakes the forwards waiting on the leader believed so far (called after <see cref="_leader"/> changed).</summary>
    private void SignalLeaderMoved() => Interlocked.Exchange(ref _leaderMoved, NewLeaderSignal()).TrySetResult();

    private static TaskCompletionSource NewLeaderSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void AnswerContacts()
    {
        var peers = _peers;
        var contacts = new Contacts { NodeId = _selfId };
        contacts.Endpoints.Add(peers[_selfId].Endpoint.ToString());
        contacts.Endpoints.Add(peers.Values.Where(p => p.Id != _selfId).OrderBy(p => p.Id).Select(p => p.Endpoint.ToString()));
        if (LeaderEndpoint() is { } leader)
        {
            contacts.LeaderEndpoint = leader;
        }

        Sender.Tell(contacts, Self);
    }

    /// <summary>Refreshes the leader view (timer message; local only).</summary>
    private sealed record RefreshLeader : INoSerializationVerificationNeeded
    {
        public static RefreshLeader Instance { get; } = new();
    }

    /// <summary>A request task answered its client (piped to the router itself; local only).</summary>
    private sealed record RequestDone : INoSerializationVerificationNeeded
    {
        public static RequestDone Instance { get; } = new();
    }
}

/// <summary>
/// Tells a <see cref="KvRouter"/> about a member added at run time (<c>raft add-member</c>), so it can forward to it.
/// Local only (it carries a ref).
/// </summary>
/// <param name="Peer">The member.</param>
public sealed record AddPeer(KvPeer Peer) : INoSerializationVerificationNeeded;

/// <summary>Tells a <see cref="KvRouter"/> which actor is the node's lessor (local only: it carries a ref).</summary>
/// <param name="Lessor">The node's <see cref="Kv.LeaseActor"/>.</param>
public sealed record UseLessor(IActorRef Lessor) : INoSerializationVerificationNeeded;

/// <summary>
/// Tells a <see cref="KvRouter"/> to refuse new requests; it answers <see cref="Drained"/> when none is in flight.
/// Local only (the node's own shutdown).
/// </summary>
public sealed record StopAccepting : INoSerializationVerificationNeeded
{
    /// <summary>The one instance.</summary>
    public static StopAccepting Instance { get; } = new();
}

/// <summary>The router has no request in flight and refuses new ones (local only).</summary>
public sealed record Drained : INoSerializationVerificationNeeded
{
    /// <summary>The one instance.</summary>
    public static Drained Instance { get; } = new();
}
