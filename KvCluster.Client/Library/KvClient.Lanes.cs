using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Remote;
using KvCluster.Client.Protocol;

namespace KvCluster.Client;

public sealed partial class KvClient
{
    /// <summary>Least time between two background probes of one lane.</summary>
    private static readonly TimeSpan s_probeSpacing = TimeSpan.FromMilliseconds(200);

    /// <summary>Asks every lane at once for the cluster's contacts; returns at the first answer.</summary>
    private async Task DiscoverAsync(TimeSpan budget, CancellationToken cancellationToken)
    {
        if (budget <= TimeSpan.Zero)
        {
            throw new KvUnavailableException($"No AkkaKv node answered within {_options.ConnectTimeout.TotalMilliseconds:0} ms: starting the client used it all.");
        }

        if (await ProbeManyAsync(Volatile.Read(ref _lanes), budget, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new KvUnavailableException($"No AkkaKv node answered within {_options.ConnectTimeout.TotalMilliseconds:0} ms: {Failures()}. Is a node running there (dotnet run --project KvCluster.Node)?");
        }
    }

    /// <summary>
    /// Probes <paramref name="lanes"/> in parallel; returns the first lane that answers (the others go on in the
    /// background), or null when every probe failed or <paramref name="budget"/> passed.
    /// </summary>
    private async Task<ContactLane?> ProbeManyAsync(IReadOnlyList<ContactLane> lanes, TimeSpan budget, CancellationToken cancellationToken)
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
                return null;
            }

            var index = pending.FindIndex(p => p.Probe == done);
            var (lane, probe) = pending[index];
            pending.RemoveAt(index);
            if (await probe.ConfigureAwait(false) is not null)
            {
                return lane;
            }
        }

        return null;
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

        var incarnation = lane.Ensure();
        try
        {
            var contacts = await incarnation.Client.Ask<Contacts>(new ClusterClient.Send(KvWireTypes.RouterPath, new GetContacts(), localAffinity: true), timeout, incarnation.Lost.Token).ConfigureAwait(false);
            lane.Answered(incarnation, contacts.Endpoints.Count > 0 ? TryParse(contacts.Endpoints[0]) : null);
            Learn(contacts);
            return contacts;
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
    }

    /// <summary>Probes <paramref name="lane"/> in the background unless it was probed very recently.</summary>
    private void ProbeSoon(ContactLane lane)
    {
        if (Stopwatch.GetElapsedTime(lane.LastProbeStart) >= s_probeSpacing && Volatile.Read(ref _disposed) == 0)
        {
            _ = ProbeAsync(lane, _options.AttemptTimeout);
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

            var lane = new ContactLane(_system, _laneSettings, lanes.Length, endpoint, _options.SystemName);
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
