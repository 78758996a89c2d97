using Akka.Actor;
using Akka.Event;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Node.Kv;

/// <summary>
/// Automatic compaction on the leader, as etcd's compactor: every <see cref="AutoCompactionSettings.CheckInterval"/>
/// it asks the Raft node whether it leads; if so it reads the store's revision (a serializable query through the
/// router), asks <see cref="AutoCompactor"/> where to compact, and proposes an etcd compaction through the router, so
/// every replica compacts at the same point of the log. A node that stops leading forgets its samples. A compaction
/// refused as already compacted (a client compacted further) only moves the known point.
/// </summary>
public sealed class AutoCompactionActor : ReceiveActor, IWithTimers
{
    private const string TickTimer = "tick";

    private static readonly TimeSpan s_askTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The key of the revision probe: a count-only read of one key costs O(1) and its header carries the revision.</summary>
    private static readonly ByteString s_probeKey = ByteString.CopyFrom(0);

    private readonly AutoCompactionSettings _settings;
    private readonly IActorRef _raft;
    private readonly IActorRef _router;
    private readonly AutoCompactor _compactor;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _knownPoint = KvStateMachine.NotCompacted;
    private bool _checking;

    /// <summary>Creates the actor; see <see cref="Props"/>.</summary>
    public AutoCompactionActor(AutoCompactionSettings settings, IActorRef raft, IActorRef router)
    {
        _settings = settings;
        _raft = raft;
        _router = router;
        _compactor = new AutoCompactor(settings);
        Receive<Tick>(_ => Check());
        Receive<Checked>(OnChecked);
        Receive<Status.Failure>(f =>
        {
            _checking = false;
            _log.Debug("Auto-compaction: a check failed ({Reason}); the next one runs in {Interval}.", f.Cause.Message, _settings.CheckInterval);
        });
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The actor's props; with <see cref="AutoCompactionMode.Off"/> it does nothing.</summary>
    public static Props Props(AutoCompactionSettings settings, IActorRef raft, IActorRef router)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        return Akka.Actor.Props.Create(() => new AutoCompactionActor(settings, raft, router)).WithDeploy(Deploy.Local);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_settings.Mode != AutoCompactionMode.Off)
        {
            Timers.StartPeriodicTimer(TickTimer, Tick.Instance, _settings.CheckInterval);
        }
    }

    private void Check()
    {
        if (_checking)
        {
            return;
        }

        _checking = true;
        CheckAsync(_knownPoint).PipeTo(Self);
    }

    private void OnChecked(Checked result)
    {
        _checking = false;
        if (!result.Leading)
        {
            _compactor.Reset();
            return;
        }

        if (result.KnownPoint > _knownPoint)
        {
            _knownPoint = result.KnownPoint;
        }
    }

    /// <summary>One check; runs outside the actor and reports back as <see cref="Checked"/>.</summary>
    private async Task<Checked> CheckAsync(long knownPoint)
    {
        var status = await _raft.Ask<RaftStatus>(GetRaftStatus.Instance, s_askTimeout).ConfigureAwait(false);
        if (status.Role != RaftRole.Leader)
        {
            return new Checked(false, knownPoint);
        }

        var probe = await _router.Ask<KvResponse>(
            new KvRequest
            {
                Command = new KvCommand { EtcdRange = new KvCluster.Client.Etcd.RangeRequest { Key = s_probeKey, CountOnly = true, Serializable = true } },
                Consistency = ReadConsistency.Serializable,
                TimeoutMs = (long)s_askTimeout.TotalMilliseconds,
            },
            s_askTimeout).ConfigureAwait(false);
        if (probe.Code != ResponseCode.Ok || probe.Result is null)
        {
            return new Checked(true, knownPoint);
        }

        // The compactor's clock is the check's time: it only compares ages between its own samples.
        if (_compactor.Next(DateTimeOffset.UtcNow, probe.Result.Revision, knownPoint) is not { } target)
        {
            return new Checked(true, knownPoint);
        }

        var compacted = await _router.Ask<KvResponse>(
            new KvRequest
            {
                Command = new KvCommand { EtcdCompact = new CompactionRequest { Revision = target } },
                TimeoutMs = (long)s_askTimeout.TotalMilliseconds,
            },
            s_askTimeout).ConfigureAwait(false);
        var outcome = compacted.Result?.Status;
        if (compacted.Code == ResponseCode.Ok && outcome is KvStatus.Ok or KvStatus.Compacted)
        {
            _log.Debug("Auto-compaction: compacted at revision {Revision} (store revision {Current}).", target, probe.Result.Revision);
            return new Checked(true, target);
        }

        _log.Info("Auto-compaction at revision {Revision} was not applied: {Code} {Error}", target, compacted.Code, compacted.Error);
        return new Checked(true, knownPoint);
    }

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private sealed record Checked(bool Leading, long KnownPoint) : INoSerializationVerificationNeeded;
}
