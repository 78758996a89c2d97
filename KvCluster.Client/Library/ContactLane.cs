using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Tools.Client;

namespace KvCluster.Client;

/// <summary>What a <see cref="ContactLane"/> is known to be able to do.</summary>
internal enum LaneState
{
    /// <summary>Never probed.</summary>
    Unknown,

    /// <summary>Its last probe or request was answered: requests may go there.</summary>
    Ready,

    /// <summary>It left a probe or a read unanswered: probe it again before using it.</summary>
    Silent,

    /// <summary>Its connection failed or closed: start a new ClusterClient before using it.</summary>
    Lost,
}

/// <summary>
/// One way into the cluster: an Akka <see cref="ClusterClient"/> whose initial contact is one endpoint's
/// receptionist. ClusterClient may connect to any receptionist its contact lists (usually the contact itself, whose
/// association is already up); <see cref="Node"/> is the node the lane was last seen to reach (the first endpoint of
/// its <c>Contacts</c> answer). When its connection fails the lane's ClusterClient is stopped, everything waiting on
/// it is told at once (<see cref="Incarnation.Lost"/>), and the next probe starts a new one. Thread-safe.
/// </summary>
internal sealed class ContactLane
{
    private readonly object _gate = new();
    private readonly ActorSystem _system;
    private readonly ClusterClientSettings _settings;
    private readonly int _index;
    private Incarnation? _current;
    private int _generation;
    private int _inFlight;
    private long _lastProgress;
    private long _downSince;

    public ContactLane(ActorSystem system, ClusterClientSettings settings, int index, KvEndpoint endpoint, string systemName, string scheme = "akka.tcp")
    {
        _system = system;
        _index = index;
        Endpoint = endpoint;
        ReceptionistPath = ActorPath.Parse($"{scheme}://{systemName}@{FormatHost(endpoint.Host)}:{endpoint.Port}{KvWireTypes.ReceptionistPath}");
        var pin = ContactPin.TryStart(system, ReceptionistPath, $"kv-pin-{index}");
        IsPinned = pin is not null;
        _settings = settings.WithInitialContacts(ImmutableHashSet.Create(pin?.Path ?? ReceptionistPath));
    }

    /// <summary>True when the lane's ClusterClient is steered to <see cref="Endpoint"/> (see <see cref="ContactPin"/>).</summary>
    public bool IsPinned { get; }

    /// <summary>How many times the lane restarted its ClusterClient because it reached another node.</summary>
    public int Repins { get; private set; }

    /// <summary>The contact point.</summary>
    public KvEndpoint Endpoint { get; }

    /// <summary>The contact's receptionist.</summary>
    public ActorPath ReceptionistPath { get; }

    /// <summary>The state (see <see cref="LaneState"/>).</summary>
    public LaneState State { get; private set; }

    /// <summary>The node the lane reached (from its last answered probe), or null.</summary>
    public KvEndpoint? Node { get; private set; }

    /// <summary>Why the lane last failed, for error messages; null when it has not.</summary>
    public string? LastError { get; private set; }

    /// <summary>
    /// True from a connection failure until the lane's node answers again (restarting the lane's ClusterClient does
    /// not clear it): the node is presumed dead.
    /// </summary>
    public bool IsDown => Volatile.Read(ref _downSince) != 0;

    /// <summary>True when the lane went down within <paramref name="window"/> and has not answered since.</summary>
    public bool WentDownWithin(TimeSpan window) => Volatile.Read(ref _downSince) is var since and not 0 && Stopwatch.GetElapsedTime(since) < window;

    /// <summary>The probe under way, or null.</summary>
    public Task<Protocol.Contacts?>? Probing { get; set; }

    /// <summary>When the last probe started (Stopwatch ticks).</summary>
    public long LastProbeStart { get; set; }

    /// <summary>The gate of <see cref="Probing"/>.</summary>
    public object Gate => _gate;

    /// <summary>The current ClusterClient and its lost signal, or null when none runs.</summary>
    public Incarnation? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>
    /// True when requests are in flight and none was answered for <paramref name="quietLimit"/>: a node that stopped
    /// answering (paused, cut off) before its connection failed.
    /// </summary>
    public bool IsQuiet(TimeSpan quietLimit) =>
        Volatile.Read(ref _inFlight) > 0 && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastProgress)) > quietLimit;

    /// <summary>The running ClusterClient, started when none runs (first use, or after a loss).</summary>
    public Incarnation Ensure()
    {
        lock (_gate)
        {
            if (_current is { } current && State != LaneState.Lost)
            {
                return current;
            }

            if (_current is { } old)
            {
                _system.Stop(old.Client);
            }

            var generation = ++_generation;
            var client = _system.ActorOf(ClusterClient.Props(_settings), $"kv-lane-{_index}-{generation}");
            _current = new Incarnation(client, new CancellationTokenSource(), generation);
            State = LaneState.Unknown;
            return _current;
        }
    }

    /// <summary>A probe through <paramref name="incarnation"/> was answered by <paramref name="node"/>.</summary>
    public void Answered(Incarnation incarnation, KvEndpoint? node)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_current, incarnation) || incarnation.Lost.IsCancellationRequested)
            {
                return;
            }

            State = LaneState.Ready;
            Node = node ?? Node ?? Endpoint;
            LastError = null;
            Volatile.Write(ref _downSince, 0);
            Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>
    /// The lane reached another node than its endpoint (its ClusterClient was steered elsewhere, for example after a
    /// reconnect): stop that ClusterClient so the next <see cref="Ensure"/> starts one steered to the endpoint again.
    /// Requests in flight through it go on; nothing is marked down.
    /// </summary>
    public void Repin(Incarnation incarnation)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_current, incarnation))
            {
                return;
            }

            Repins++;
            State = LaneState.Lost;
            _current = null;
        }

        // Give requests sent through it a moment to be answered before the ClusterClient stops.
        _system.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(5), incarnation.Client, PoisonPill.Instance, ActorRefs.NoSender);
    }

    /// <summary>Something sent through <paramref name="incarnation"/> went unanswered: probe before the next use.</summary>
    public void Silent(Incarnation incarnation, string reason)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_current, incarnation) && State is LaneState.Ready or LaneState.Unknown)
            {
                State = LaneState.Silent;
                LastError = reason;
            }
        }
    }

    /// <summary>
    /// The connection to <paramref name="address"/> failed or closed. When the lane depends on it (its node once
    /// ready, its contact before), the lane is lost: its ClusterClient stops and everything waiting on it is told.
    /// </summary>
    /// <returns>True when this lane was affected.</returns>
    public bool ConnectionFailed(KvEndpoint address, string reason)
    {
        CancellationTokenSource? lost = null;
        lock (_gate)
        {
            var target = State is LaneState.Ready or LaneState.Silent ? Node ?? Endpoint : Endpoint;
            if (target != address || State == LaneState.Lost || _current is null)
            {
                return false;
            }

            State = LaneState.Lost;
            LastError = reason;
            Volatile.Write(ref _downSince, Stopwatch.GetTimestamp());
            lost = _current.Lost;
            _system.Stop(_current.Client);
        }

        lost.Cancel();
        return true;
    }

    /// <summary>Stops the ClusterClient and releases whoever waits on it (the client is closing).</summary>
    public void Close()
    {
        CancellationTokenSource? lost;
        lock (_gate)
        {
            lost = _current?.Lost;
            State = LaneState.Lost;
            LastError = "the client is closed";
        }

        lost?.Cancel();
    }

    /// <summary>A request goes out through this lane.</summary>
    public void RequestStarted()
    {
        if (Interlocked.Increment(ref _inFlight) == 1)
        {
            Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>A request through this lane ended; <paramref name="answered"/> when the node answered it.</summary>
    public void RequestEnded(bool answered)
    {
        if (answered)
        {
            Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
        }

        Interlocked.Decrement(ref _inFlight);
    }

    /// <inheritdoc />
    public override string ToString() => Node is { } node && node != Endpoint ? $"{Endpoint} (via {node})" : Endpoint.ToString();

    private static string FormatHost(string host) => host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;

    /// <summary>One ClusterClient of the lane and the signal that its connection was lost.</summary>
    internal sealed record Incarnation(IActorRef Client, CancellationTokenSource Lost, int Generation);
}
