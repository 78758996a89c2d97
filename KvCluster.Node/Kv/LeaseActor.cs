using Akka.Actor;
using Akka.Event;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Router;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Node.Kv;

/// <summary>
/// <c>/user/lease</c>: the node's lessor (<see cref="Lessor"/>), active while the node leads. Scenarios:
/// <list type="number">
/// <item>Every <see cref="LeaseSettings.CheckInterval"/> it asks the local RaftActor for its status. On becoming leader
/// (or a new term as leader) it reads the lease table from the applied state (a local query), then promotes its lessor:
/// every lease gets its TTL plus one election timeout from now. On losing leadership it demotes it.</item>
/// <item>The state machine tells it every grant and revoke as applied (<see cref="LeaseChange"/>, through
/// <see cref="LeaseFeed"/>); a restored snapshot makes it read the table again.</item>
/// <item>While primary, each check proposes a revoke for every expired lease through the router, never forwarded
/// (a deposed leader's proposal fails instead of reaching the new leader); a failed revoke is proposed again.</item>
/// <item>The router brings it keep-alives and time-to-live requests (<see cref="LessorRequest"/>), forwarded from
/// followers to the leader's router; not primary, it answers <see cref="NotLeader"/> so the router retries or forwards.
/// A time-to-live reads the lease's keys from the applied state and the remaining TTL from the lessor.</item>
/// </list>
/// </summary>
public sealed class LeaseActor : ReceiveActor, IWithTimers
{
    private const string TickTimer = "tick";

    private static readonly byte[] s_tableQuery = new KvCommand { LeaseTable = new LeaseTableRequest() }.ToByteArray();

    private readonly LeaseSettings _settings;
    private readonly IActorRef _raft;
    private readonly IActorRef _router;
    private readonly ulong _selfId;
    private readonly Lessor _lessor;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _statusInFlight;
    private bool _syncing;
    private long _primaryTerm;
    private ulong _leaderHint;

    /// <summary>Creates the actor; see <see cref="Props"/>.</summary>
    public LeaseActor(LeaseSettings settings, ulong selfId, IActorRef raft, IActorRef router)
    {
        _settings = settings;
        _selfId = selfId;
        _raft = raft;
        _router = router;
        _lessor = new Lessor(settings.PromotionExtension, settings.RevokeRetry);
        Receive<Tick>(_ => OnTick());
        Receive<StatusSeen>(OnStatus);
        Receive<TableRead>(OnTable);
        Receive<LeaseChange>(OnChange);
        Receive<LessorRequest>(OnRequest);
        Receive<RevokeOutcome>(OnRevokeOutcome);
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The actor's props (settings validated here).</summary>
    /// <param name="settings">The lessor's settings.</param>
    /// <param name="selfId">This node's Raft id.</param>
    /// <param name="raft">The local RaftActor (status, local queries).</param>
    /// <param name="router">The local router (revoke proposals).</param>
    public static Props Props(LeaseSettings settings, ulong selfId, IActorRef raft, IActorRef router)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        return Akka.Actor.Props.Create(() => new LeaseActor(settings, selfId, raft, router)).WithDeploy(Deploy.Local);
    }

    /// <inheritdoc />
    protected override void PreStart() => Timers.StartPeriodicTimer(TickTimer, Tick.Instance, _settings.CheckInterval);

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private void OnTick()
    {
        if (!_statusInFlight)
        {
            _statusInFlight = true;
            _raft.Ask<RaftStatus>(GetRaftStatus.Instance, _settings.CheckInterval * 20)
                .ContinueWith(t => new StatusSeen(t.IsCompletedSuccessfully ? t.Result : null), TaskScheduler.Default)
                .PipeTo(Self);
        }

        foreach (var id in _lessor.TakeExpired(Now))
        {
            ProposeRevoke(id);
        }
    }

    private void OnStatus(StatusSeen seen)
    {
        _statusInFlight = false;
        if (seen.Status is not { } status)
        {
            return;
        }

        _leaderHint = status.Leader;
        var leading = status.Role == RaftRole.Leader && !status.Recovering;
        if (!leading)
        {
            if (_lessor.IsPrimary)
            {
                _lessor.Demote();
                _log.Info("Lessor: node {NodeId} no longer leads (term {Term}); it stops renewing and expiring leases.", _selfId, status.Term);
            }

            return;
        }

        if ((!_lessor.IsPrimary || _primaryTerm != status.Term) && !_syncing)
        {
            ReadTable(status.Term);
        }
    }

    private void ReadTable(long term)
    {
        _syncing = true;
        _lessor.BeginSync();
        _raft.Ask<object>(new LocalQuery(s_tableQuery), _settings.CheckInterval * 20)
            .ContinueWith(t => new TableRead(term, t.IsCompletedSuccessfully && t.Result is LocalQueryReply reply ? KvResult.Parser.ParseFrom(reply.Result.Span).LeaseTable : null), TaskScheduler.Default)
            .PipeTo(Self);
    }

    private void OnTable(TableRead read)
    {
        _syncing = false;
        if (read.Table is null)
        {
            _log.Debug("Lessor: the lease table could not be read; trying again at the next check.");
            return;
        }

        var now = Now;
        _lessor.Sync(read.Table.Leases.Select(l => (l.Id, l.Ttl)), read.Table.AppliedIndex, now);
        if (read.Term == 0)
        {
            // A restored snapshot while primary: the view is refreshed, the expiries of known leases stay.
            return;
        }

        _lessor.Promote(now);
        _primaryTerm = read.Term;
        _log.Info("Lessor: node {NodeId} leads in term {Term}; {Count} leases extended by {Extension} beyond their TTL.",
            _selfId, read.Term, _lessor.Count, _settings.PromotionExtension);
    }

    private void OnChange(LeaseChange change)
    {
        switch (change.Kind)
        {
            case LeaseChangeKind.Granted:
                _lessor.Granted(change.Id, change.Ttl, change.Index, Now);
                break;
            case LeaseChangeKind.Revoked:
                _lessor.Revoked(change.Id, change.Index);
                break;
            case LeaseChangeKind.Reset:
                if (!_syncing)
                {
                    ReadTable(0);
                }

                break;
        }
    }

    private void OnRequest(LessorRequest request)
    {
        if (!_lessor.IsPrimary)
        {
            var hint = _leaderHint == _selfId ? 0 : _leaderHint;
            Sender.Tell(new NotLeader(hint, $"node {_selfId}'s lessor is not the leader's (yet)"), Self);
            return;
        }

        var command = request.Command;
        switch (command.OpCase)
        {
            case KvCommand.OpOneofCase.LeaseKeepAlive:
                var id = command.LeaseKeepAlive.ID;
                var ttl = _lessor.Renew(id, Now);
                Sender.Tell(new LessorReply(new KvResult
                {
                    Status = KvStatus.Ok,
                    EtcdLeaseKeepAlive = new LeaseKeepAliveResponse { Header = new ResponseHeader(), ID = id, TTL = ttl ?? 0 },
                }), Self);
                break;
            case KvCommand.OpOneofCase.LeaseTimeToLive:
                var remaining = _lessor.Remaining(command.LeaseTimeToLive.ID, Now);
                _raft.Ask<object>(new LocalQuery(command.ToByteArray()), _settings.CheckInterval * 20)
                    .ContinueWith(t => TimeToLive(t, remaining), TaskScheduler.Default)
                    .PipeTo(Sender, Self);
                break;
            default:
                Sender.Tell(new LessorReply(new KvValidationError(KvStatus.InvalidCommand, $"The lessor serves keep-alives and time-to-live, not {command.OpCase}.").ToResult()), Self);
                break;
        }
    }

    /// <summary>The applied state's answer (granted TTL, keys) with the lessor's remaining TTL; runs off the actor.</summary>
    private static object TimeToLive(Task<object> query, TimeSpan? remaining)
    {
        if (!query.IsCompletedSuccessfully || query.Result is not LocalQueryReply reply)
        {
            return new NotLeader(0, "the leader's applied state did not answer the time-to-live query in time");
        }

        var result = KvResult.Parser.ParseFrom(reply.Result.Span);
        if (result.EtcdLeaseTimeToLive is { TTL: >= 0 } response && remaining is { } left)
        {
            // etcd truncates the remaining time to whole seconds.
            response.TTL = (long)left.TotalSeconds;
        }

        return new LessorReply(result);
    }

    private void ProposeRevoke(long id)
    {
        _log.Info("Lessor: lease {Lease:x16} expired; proposing its revoke.", id);
        var request = new KvRequest
        {
            Command = new KvCommand { LeaseRevoke = new LeaseRevokeRequest { ID = id } },
            TimeoutMs = (long)(_settings.RevokeRetry.TotalMilliseconds * 4),
            // Never forwarded: a deposed leader's revoke fails here instead of reaching the new leader.
            Hops = KvRouter.MaxHops,
        };
        _router.Ask<KvResponse>(request, _settings.RevokeRetry * 5)
            .ContinueWith(t => new RevokeOutcome(id, t.IsCompletedSuccessfully && t.Result.Code == ResponseCode.Ok
                ? t.Result.Result?.Status == KvStatus.Ok ? null : t.Result.Result?.Error
                : t.IsCompletedSuccessfully ? $"{t.Result.Code}: {t.Result.Error}" : t.Exception?.GetBaseException().Message ?? "cancelled"), TaskScheduler.Default)
            .PipeTo(Self);
    }

    private void OnRevokeOutcome(RevokeOutcome outcome)
    {
        if (outcome.Error is null)
        {
            return;
        }

        if (outcome.Error == EtcdErrors.LeaseNotFound)
        {
            // Revoked meanwhile (by a client, or an earlier proposal): the revoke event removes it.
            return;
        }

        _log.Info("Lessor: the revoke of expired lease {Lease:x16} did not apply ({Reason}); it is proposed again in {Retry}.", outcome.Id, outcome.Error, _settings.RevokeRetry);
    }

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private sealed record StatusSeen(RaftStatus? Status) : INoSerializationVerificationNeeded;

    private sealed record TableRead(long Term, LeaseTable? Table) : INoSerializationVerificationNeeded;

    private sealed record RevokeOutcome(long Id, string? Error) : INoSerializationVerificationNeeded;
}

/// <summary>A keep-alive or time-to-live for the leader's lessor, from the router (local only).</summary>
/// <param name="Command">The command (lease_keep_alive or lease_time_to_live).</param>
public sealed record LessorRequest(KvCommand Command) : INoSerializationVerificationNeeded;

/// <summary>The lessor's answer to a <see cref="LessorRequest"/> (local only).</summary>
/// <param name="Result">The result, as the state machine's results.</param>
public sealed record LessorReply(KvResult Result) : INoSerializationVerificationNeeded;
