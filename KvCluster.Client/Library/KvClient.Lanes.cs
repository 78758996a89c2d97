using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Remote;
using KvCluster.Client.Protocol;

namespace KvCluster.Client;

public sealed partial class KvClient
{
    /// <summary>Most restarts of a lane's ClusterClient because it reached another node than its endpoint.</summary>
    private const int MaxRepins = 3;

    /// <summary>Least time between two background probes of one lane.</summary>
    private static readonly TimeSpan s_probeSpacing = TimeSpan.FromMilliseconds(200);

    /// <summary>How often lanes that are not ready are probed in the background.</summary>
    private static readonly TimeSpan s_sweepInterval = TimeSpan.FromSeconds(1);

    /// <summary>When the lanes were last swept (Stopwatch ticks).</summary>
    private long _lastSweep = Stopwatch.GetTimestamp();

    /// <summary>How often the live nodes are asked who leads while they still name a dead node.</summary>
    private static readonly TimeSpan s_leaderPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>How long after a connection failure an unknown leader is checked before a write goes out.</summary>
    private static readonly TimeSpan s_recentFailure = TimeSpan.FromSeconds(10);

    /// <summary>Asks every lane at once for the cluster's contacts; returns at the first answer.</summary>
    private async Task DiscoverAsync(TimeSpan budget, CancellationToken cancellationToken)
    {
        if (budget <= TimeSpan.Zero)
        {
            throw new KvUnavailableException($"No AkkaKv node answered within {_options.ConnectTimeout.TotalMilliseconds:0} ms: starting the client used it all.");
        }

        var (lane, expired) = await ProbeManyAsync(Volatile.Read(ref _lanes), budget, cancellationToken).ConfigureAwait(false);
        if (lane is null)
        {
            // The budget is named whether it ran out or every contact failed sooner: the user sees which timeout applied.
            var how = expired ? "ran out" : "was not needed in full";
            throw new KvUnavailableException($"No AkkaKv node answered within {_options.ConnectTimeout.TotalMilliseconds:0} ms (the budget {how}): {Failures()}. Is a node running there (dotnet run --project KvCluster.Node)?");
        }
    }

    /// <summary>
    /// Probes <paramref name="lanes"/> in parallel; returns the first lane that answers (the others go on in the
    /// background), or null when every probe failed or <paramref name="budget"/> passed (then Expired).
    /// </summary>
    private async Task<(ContactLane? Lane, bool Expired)> ProbeManyAsync(IReadOnlyList<ContactLane> lanes, TimeSpan budget, CancellationToken cancellationToken)
    {
        var pending = lanes.Select(lane => (Lane: lane, Probe: ProbeAsync(lane, budget))).ToList();
        using var expiry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        expiry.CancelAfter(budget);
        var expired = Task.Delay(Timeout.InfiniteTimeSpan, expiry.Token);
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending.Select(p => (Task)p.Probe).Append(expired)).ConfigureAwait(false);
            if (done == expired)
            {
                cancellationToken.ThrowIfCancellationRequested();
                return (null, true);
            }

            var index = pending.FindIndex(p => p.Probe == done);
            var (lane, probe) = pending[index];
            pending.RemoveAt(index);
            if (await probe.ConfigureAwait(false) is not null)
            {
                return (lane, false);
            }
        }

        return (null, false);
    }

    /// <summary>
    /// Asks the lane's node for the cluster's contacts (a read-only request: safe on any node, in any state) and
    /// learns from the answer. One probe per lane at a time: a caller arriving while one runs shares it.
    /// </summary>
    /// <returns>The contacts, or null when the lane failed (its <see cref="ContactLane.LastError"/> says why).</returns>
    private Task<Contacts?> ProbeAsync(ContactLane lane, TimeSpan timeout)
    {
        lock (lane.Gate)
        {
            if (lane.Probing is { IsCompleted: false } running)
            {
                return running;
            }

            lane.LastProbeStart = Stopwatch.GetTimestamp();
            var probe = RunProbeAsync(lane, timeout);
            lane.Probing = probe;
            return probe;
        }
    }

    private async Task<Contacts?> RunProbeAsync(ContactLane lane, TimeSpan timeout)
    {
        await Task.Yield();
        if (Volatile.Read(ref _disposed) != 0)
        {
            return null;
        }

        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var incarnation = lane.Ensure();
            var left = timeout - Stopwatch.GetElapsedTime(started);
            Contacts contacts;
            try
            {
                contacts = await incarnation.Client.Ask<Contacts>(new ClusterClient.Send(KvWireTypes.RouterPath, new GetContacts(), localAffinity: true), left, incarnation.Lost.Token).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                lane.Silent(incarnation, $"{lane} did not answer within {timeout.TotalMilliseconds:0} ms");
                return null;
            }
            catch (OperationCanceledException)
            {
                // The lane was lost (its LastError says why) or the client closed.
                return null;
            }

            var node = contacts.Endpoints.Count > 0 ? TryParse(contacts.Endpoints[0]) : null;
            if (node is { } reached && reached != lane.Endpoint && lane.IsPinned && lane.Repins < MaxRepins && Stopwatch.GetElapsedTime(started) < timeout / 2)
            {
                // Steered elsewhere (a reconnect of ClusterClient's own): start a ClusterClient steered to the endpoint.
                Learn(contacts);
                lane.Repin(incarnation);
                continue;
            }

            lane.Answered(incarnation, node);
            Learn(contacts);
            return contacts;
        }
    }

    /// <summary>Probes <paramref name="lane"/> in the background unless it was probed very recently.</summary>
    private void ProbeSoon(ContactLane lane)
    {
        if (Stopwatch.GetElapsedTime(lane.LastProbeStart) >= s_probeSpacing && Volatile.Read(ref _disposed) == 0)
        {
            _ = ProbeAsync(lane, _options.AttemptTimeout);
        }
    }

    /// <summary>
    /// Before a write or a linearizable read: when the leader is unknown right after a node's connection failed, or
    /// the believed leader is that dead node, asks the live nodes who leads (every <see cref="s_leaderPoll"/>) and holds
    /// the request while they all still name the dead node: a router would only forward it there, where it would be
    /// lost with an unknown outcome. Returns as soon as a live leader is named or the nodes that answer name none (an
    /// election is under way: a router waits it out), or when <paramref name="deadline"/> comes; a round in which no
    /// node answered in time changes nothing.
    /// </summary>
    /// <returns>The dead node still named as leader when the deadline came; null otherwise.</returns>
    private async ValueTask<KvEndpoint?> AwaitLiveLeaderAsync(DateTime deadline, CancellationToken cancellationToken)
    {
        KvEndpoint? named = null;
        while (true)
        {
            var lanes = Volatile.Read(ref _lanes);
            var leader = Volatile.Read(ref _leader)?.Endpoint;
            if (leader is { } known ? !IsDownEndpoint(lanes, known) : !Array.Exists(lanes, l => l.WentDownWithin(s_recentFailure)))
            {
                return null;
            }

            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                return named ?? leader;
            }

            var live = lanes.Where(l => l.State == LaneState.Ready && !l.IsDown).ToArray();
            if (live.Length == 0)
            {
                return null;
            }

            var budget = remaining < _options.AttemptTimeout ? remaining : _options.AttemptTimeout;
            var answers = await Task.WhenAll(live.Select(l => ProbeAsync(l, budget))).WaitAsync(cancellationToken).ConfigureAwait(false);
            var hints = answers.OfType<Contacts>().Select(c => string.IsNullOrEmpty(c.LeaderEndpoint) ? null : TryParse(c.LeaderEndpoint)).ToArray();
            if (Array.Find(hints, h => h is { } hint && !IsDownEndpoint(lanes, hint)) is { } alive)
            {
                NoteLeader(alive.ToString());
                return null;
            }

            // A round in which no live node answered within the budget says nothing about who leads (a slow node is
            // not an election): it falls through to holding and asking again, so a write is neither sent towards the
            // dead node nor, at the deadline, reported as a timeout with an unknown outcome instead of not-leader.
            if (hints.Length > 0 && hints.All(h => h is null))
            {
                // Nobody names a leader: an election is under way, and a router waits it out.
                Volatile.Write(ref _leader, null);
                return null;
            }

            named = Array.Find(hints, h => h is not null) ?? named;

            await Task.Delay(s_leaderPoll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True when the lane of <paramref name="endpoint"/> (or a lane that reached it) is down.</summary>
    private static bool IsDownEndpoint(ContactLane[] lanes, KvEndpoint endpoint) =>
        Array.Exists(lanes, l => (l.Endpoint == endpoint || l.Node == endpoint) && l.IsDown);

    /// <summary>
    /// At most every <see cref="s_sweepInterval"/>: probes in the background every lane that is not ready (a node that
    /// came back, one that was silent), so lanes recover without a request having to find none ready.
    /// </summary>
    private void SweepLanes(ContactLane[] lanes)
    {
        var last = Volatile.Read(ref _lastSweep);
        if (Stopwatch.GetElapsedTime(last) < s_sweepInterval || Interlocked.CompareExchange(ref _lastSweep, Stopwatch.GetTimestamp(), last) != last)
        {
            return;
        }

        foreach (var lane in lanes)
        {
            if (lane.State != LaneState.Ready)
            {
                ProbeSoon(lane);
            }
        }
    }

    /// <summary>What every lane last failed with, for an error message.</summary>
    private string Failures()
    {
        var failures = Volatile.Read(ref _lanes).Select(l => l.LastError ?? $"{l} did not answer").Distinct().ToArray();
        return string.Join("; ", failures);
    }

    /// <summary>Adds lanes for the endpoints a node told and remembers its leader hint.</summary>
    private void Learn(Contacts contacts)
    {
        foreach (var endpoint in contacts.Endpoints.Select(TryParse).OfType<KvEndpoint>())
        {
            AddLane(endpoint);
        }

        NoteLeader(contacts.LeaderEndpoint);
    }

    private ContactLane? AddLane(KvEndpoint endpoint)
    {
        lock (_lanesGate)
        {
            var lanes = _lanes;
            if (lanes.FirstOrDefault(l => l.Endpoint == endpoint) is { } existing)
            {
                return existing;
            }

            if (lanes.Length >= MaxLanes || Volatile.Read(ref _disposed) != 0)
            {
                return null;
            }

            var lane = new ContactLane(_system, _laneSettings, lanes.Length, endpoint, _options.SystemName, _options.Scheme);
            Volatile.Write(ref _lanes, [.. lanes, lane]);
            return lane;
        }
    }

    private void NoteLeader(string? hint)
    {
        var endpoint = string.IsNullOrEmpty(hint) ? null : TryParse(hint);
        var current = Volatile.Read(ref _leader);
        if (current?.Endpoint != endpoint)
        {
            Volatile.Write(ref _leader, endpoint is { } e ? new EndpointBox(e) : null);
            if (endpoint is { } leader)
            {
                AddLane(leader);
            }
        }
    }

    private static KvEndpoint? TryParse(string text)
    {
        try
        {
            return KvEndpoint.Parse(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// The lane for the next attempt, or null when none is ready. Writes and linearizable reads prefer the lane that
    /// reached the leader (they end there anyway); otherwise, and always for serializable reads, the ready lanes take
    /// turns. A lane whose node left requests unanswered too long is used only when no other is ready.
    /// </summary>
    private ContactLane? PickLane(bool preferLeader)
    {
        var lanes = Volatile.Read(ref _lanes);
        SweepLanes(lanes);
        var quietLimit = _options.AttemptTimeout;
        if (preferLeader && Volatile.Read(ref _leader) is { } leader)
        {
            ContactLane? leaderLane = null;
            foreach (var lane in lanes)
            {
                if (lane.State == LaneState.Ready && lane.Node == leader.Endpoint && !lane.IsQuiet(quietLimit))
                {
                    return lane;
                }

                if (lane.Endpoint == leader.Endpoint)
                {
                    leaderLane = lane;
                }
            }

            if (leaderLane is not null && leaderLane.State != LaneState.Ready)
            {
                ProbeSoon(leaderLane);
            }
        }

        return PickAnyLane(lanes, preferLeader);
    }

    /// <summary>
    /// The leader's lane when its probe (under way) answers within <paramref name="wait"/>, else null. Lets a request
    /// issued right after connecting go straight to the leader instead of through a follower's router.
    /// </summary>
    private async ValueTask<ContactLane?> AwaitLeaderLaneAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _leader) is not { } leader)
        {
            return null;
        }

        var lane = Array.Find(Volatile.Read(ref _lanes), l => l.Endpoint == leader.Endpoint);
        Task<Contacts?>? probing;
        if (lane is null)
        {
            return null;
        }

        lock (lane.Gate)
        {
            probing = lane.Probing is { IsCompleted: false } p ? p : null;
        }

        if (probing is null)
        {
            return null;
        }

        try
        {
            await probing.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }

        return lane.State == LaneState.Ready && lane.Node == leader.Endpoint ? lane : null;
    }

    private ContactLane? PickAnyLane(ContactLane[] lanes, bool preferLeader)
    {
        var quietLimit = _options.AttemptTimeout;

        var start = (uint)(preferLeader ? Volatile.Read(ref _cursor) : Interlocked.Increment(ref _spread));
        ContactLane? quiet = null;
        for (var i = 0; i < lanes.Length; i++)
        {
            var lane = lanes[(int)((start + (uint)i) % (uint)lanes.Length)];
            if (lane.State != LaneState.Ready)
            {
                continue;
            }

            if (!lane.IsQuiet(quietLimit))
            {
                return lane;
            }

            quiet ??= lane;
        }

        return quiet;
    }

    /// <summary>The lane failed an attempt: forget its node as leader and move the rotation on.</summary>
    private void Demote(ContactLane lane)
    {
        if (Volatile.Read(ref _leader) is { } leader && (leader.Endpoint == lane.Node || leader.Endpoint == lane.Endpoint))
        {
            Interlocked.CompareExchange(ref _leader, null, leader);
        }

        Interlocked.Increment(ref _cursor);
    }

    /// <summary>A remoting connection failed or closed (from <see cref="ConnectionWatcher"/>).</summary>
    private void OnConnectionFailed(Address address, string reason)
    {
        if (address.Host is not { } host || address.Port is not { } port || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        var endpoint = new KvEndpoint(host, port);
        foreach (var lane in Volatile.Read(ref _lanes))
        {
            if (lane.ConnectionFailed(endpoint, $"{endpoint}: {reason}"))
            {
                Demote(lane);
            }
        }
    }

    /// <summary>Watches the client system's remoting connections and reports each failure or close.</summary>
    private sealed class ConnectionWatcher : ReceiveActor
    {
        public ConnectionWatcher(Action<Address, string> onFailure)
        {
            Receive<DisassociatedEvent>(e => onFailure(e.RemoteAddress, "the connection closed"));
            Receive<AssociationErrorEvent>(e => onFailure(e.RemoteAddress, $"cannot connect ({e.Cause?.GetBaseException().Message ?? "no reason given"})"));
            Receive<QuarantinedEvent>(e => onFailure(e.Address, "the node quarantined this client"));
        }

        protected override void PreStart()
        {
            Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
            Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
            Context.System.EventStream.Subscribe(Self, typeof(QuarantinedEvent));
        }

        protected override void PostStop()
        {
            Context.System.EventStream.Unsubscribe(Self);
        }
    }
}
