using System.Collections.Immutable;
using KvCluster.Actors.Cluster.Protocol;
using KvCluster.Actors.Remote.Transport;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Cluster;

/// <summary>The member behaviour: gossip, heartbeats, reachability and leader actions.</summary>
internal sealed partial class ClusterDaemon
{
    private readonly Dictionary<UniqueAddress, PhiAccrualFailureDetector> _detectors = [];
    private readonly Dictionary<UniqueAddress, long> _unreachableSinceMs = [];
    private Gossip _gossip = Gossip.Empty;

    private void Member()
    {
        ReceiveCommon();
        IgnoreJoinCommand();
        Receive<InitJoin>(initJoin => Guarded("InitJoin", () =>
        {
            var from = Gossip.FromProto(initJoin.From);
            if (RefusalReason(from) is { } reason)
            {
                RefuseJoin(from, reason);
                Sender.Tell(new InitJoinNack { Address = _self.Address.ToString(), Reason = reason }, Self);
                return;
            }

            Sender.Tell(new InitJoinAck { Address = _self.Address.ToString() }, Self);
        }));
        Receive<InitJoinAck>(_ => { });
        Receive<InitJoinNack>(_ => { });
        Receive<Welcome>(_ => { });
        Receive<Join>(join => Guarded("Join", () => OnJoin(join)));
        Receive<GossipEnvelope>(envelope => Guarded("GossipEnvelope", () => OnGossip(envelope)));
        Receive<ClusterHeartbeat>(heartbeat => Guarded("ClusterHeartbeat", () =>
        {
            if (_detectors.TryGetValue(Gossip.FromProto(heartbeat.From), out var detector))
            {
                detector.Heartbeat(NowMs);
            }
        }));
        Receive<HeartbeatTick>(_ => OnHeartbeatTick());
        Receive<GossipTick>(_ => OnGossipTick());
        Receive<LeaveCommand>(cmd => ChangeStatus(cmd.Address, MemberStatus.Leaving, from: [MemberStatus.Joining, MemberStatus.Up]));
        Receive<DownCommand>(cmd => ChangeStatus(cmd.Address, MemberStatus.Down, from: [MemberStatus.Joining, MemberStatus.Up, MemberStatus.Leaving, MemberStatus.Exiting]));
    }

    private void OnJoin(Join join)
    {
        var node = Gossip.FromProto(join.Node);
        if (RefusalReason(node) is { } reason)
        {
            RefuseJoin(node, reason);
            return;
        }

        var gossip = _gossip;
        if (gossip.Get(node) is { } existing)
        {
            if (existing.Status == MemberStatus.Removed)
            {
                Log.LogWarning("Refusing Join from {Node}: that incarnation was removed; restart it to rejoin.", node);
                return;
            }
        }
        else
        {
            foreach (var old in gossip.LiveMembers.Where(m => m.Address == node.Address && m.UniqueAddress != node).ToList())
            {
                // The node restarted on the same address: its old incarnation is dead.
                Log.LogInformation("{Node} rejoins as a new incarnation; marking {Old} Down.", node, old.UniqueAddress);
                gossip = gossip.WithMember(old.With(MemberStatus.Down));
            }

            gossip = gossip.WithMember(new Member(node, MemberStatus.Joining, [.. join.Roles], 0)).SeenOnlyBy(_self);
            Log.LogInformation("{Node} is joining with roles [{Roles}].", node, string.Join(",", join.Roles));
            Update(gossip);
        }

        Sender.Tell(new Welcome { From = Gossip.ToProto(_self), Gossip = _gossip.ToProto() }, Self);
    }

    private string? RefusalReason(UniqueAddress joiner) =>
        joiner.Address.System == _self.Address.System
            ? null
            : $"this cluster's actor system is named '{_self.Address.System}' but the joiner's is '{joiner.Address.System}'; every member must use the same system name";

    private void RefuseJoin(UniqueAddress joiner, string reason)
    {
        _cluster.CountRefusedJoin();
        Log.LogWarning("Refusing {Joiner}: {Reason}.", joiner, reason);
    }

    private void OnGossip(GossipEnvelope envelope)
    {
        var from = Gossip.FromProto(envelope.From);
        var remote = Gossip.FromProto(envelope.Gossip ?? throw new FormatException("GossipEnvelope lacks its gossip."));
        var local = _gossip;
        if (local.Get(from) is { Status: MemberStatus.Removed })
        {
            return;
        }

        if (remote.Get(_self) is null)
        {
            // Not gossip of this node's cluster (for example a separately formed cluster on the
            // same seeds): merging it would fuse two clusters.
            Log.LogWarning("Ignoring gossip from {From}: it does not hold this node as a member.", from);
            return;
        }

        Gossip next;
        var sendBack = false;
        if (remote.SameContent(local))
        {
            next = local.WithSeen(remote.Seen).WithSeen([_self]);
        }
        else
        {
            var merged = local.Merge(remote);
            if (merged.SameContent(remote))
            {
                next = merged.WithSeen(remote.Seen).WithSeen([_self]);
            }
            else if (merged.SameContent(local))
            {
                next = local.WithSeen([_self]);
                sendBack = true;
            }
            else
            {
                next = merged.SeenOnlyBy(_self);
                sendBack = true;
            }
        }

        if (next.Seen.SetEquals(local.Seen) && next.SameContent(local))
        {
            return;
        }

        Update(next);
        if (sendBack && _gossip.Get(_self) is not { Status: MemberStatus.Removed })
        {
            SendGossip(from.Address);
        }
    }

    private void ChangeStatus(RemoteAddress address, MemberStatus to, MemberStatus[] from)
    {
        var member = _gossip.LiveMembers.FirstOrDefault(m => m.Address == address);
        if (member is null)
        {
            Log.LogWarning("Cannot mark {Address} {Status}: it is not a member.", address, to);
            return;
        }

        if (!from.Contains(member.Status))
        {
            Log.LogDebug("{Member} is already {Status}; not marking it {To}.", member.UniqueAddress, member.Status, to);
            return;
        }

        Log.LogInformation("Marking {Member} {Status}.", member.UniqueAddress, to);
        Update(_gossip.WithMember(member.With(to)).SeenOnlyBy(_self));
    }

    private void OnHeartbeatTick()
    {
        var heartbeat = new ClusterHeartbeat { From = Gossip.ToProto(_self) };
        foreach (var node in _detectors.Keys)
        {
            SendTo(node.Address, heartbeat);
        }

        var now = NowMs;
        var unreachable = _detectors.Where(p => !p.Value.IsAvailable(now)).Select(p => p.Key).ToImmutableSortedSet();
        var mine = _gossip.Reachability.GetValueOrDefault(_self);
        var previous = mine?.Unreachable ?? [];
        if (!unreachable.SetEquals(previous))
        {
            foreach (var node in unreachable.Except(previous))
            {
                Log.LogWarning("{Node} is unreachable: its heartbeats stopped (φ above {Threshold}).", node, _settings.FailureDetectorThreshold);
            }

            Update(_gossip.WithReachability(new ObserverRecord(_self, (mine?.Version ?? 0) + 1, unreachable)).SeenOnlyBy(_self));
        }
    }

    private void OnGossipTick()
    {
        RunLeaderActions();
        if (_gossip.Get(_self) is null or { Status: MemberStatus.Removed })
        {
            return;
        }

        var peers = _gossip.LiveMembers
            .Where(m => m.UniqueAddress != _self && m.Status != MemberStatus.Down && _detectors.TryGetValue(m.UniqueAddress, out var d) && d.IsAvailable(NowMs))
            .ToList();
        if (peers.Count == 0)
        {
            return;
        }

        var unseen = peers.Where(m => !_gossip.Seen.Contains(m.UniqueAddress)).ToList();
        var pool = unseen.Count > 0 && _random.NextDouble() < 0.8 ? unseen : peers;
        SendGossip(pool[_random.Next(pool.Count)].Address);
    }

    private void SendGossip(RemoteAddress to) =>
        SendTo(to, new GossipEnvelope { From = Gossip.ToProto(_self), Gossip = _gossip.ToProto() });

    private void RunLeaderActions()
    {
        var gossip = _gossip;
        if (gossip.Leader()?.UniqueAddress != _self)
        {
            return;
        }

        var now = NowMs;
        if (_settings.AutoDownUnreachableAfter is { } autoDown)
        {
            foreach (var member in gossip.UnreachableMembers.Where(m => m.Status is not (MemberStatus.Down or MemberStatus.Exiting)).ToList())
            {
                if (_unreachableSinceMs.TryGetValue(member.UniqueAddress, out var since) && now - since >= autoDown.TotalMilliseconds)
                {
                    Log.LogWarning("Auto-downing {Member}: unreachable for more than {Timeout}.", member.UniqueAddress, autoDown);
                    gossip = gossip.WithMember(member.With(MemberStatus.Down)).SeenOnlyBy(_self);
                }
            }

            if (!ReferenceEquals(gossip, _gossip))
            {
                // Publish MemberDowned before any removal below.
                Update(gossip);
            }
        }

        if (gossip.HasConverged())
        {
            var nextUp = gossip.Members.Values.Select(m => m.UpNumber).DefaultIfEmpty(0).Max() + 1;
            var removed = new List<RemoteAddress>();
            foreach (var member in gossip.LiveMembers.ToList())
            {
                Member? changed = member.Status switch
                {
                    MemberStatus.Joining => member.With(MemberStatus.Up, nextUp++),
                    MemberStatus.Leaving => member.With(MemberStatus.Exiting),
                    MemberStatus.Exiting or MemberStatus.Down => member.With(MemberStatus.Removed),
                    _ => null,
                };
                if (changed is not null)
                {
                    Log.LogInformation("Leader moves {Member} from {From} to {To}.", member.UniqueAddress, member.Status, changed.Status);
                    gossip = gossip.WithMember(changed).SeenOnlyBy(_self);
                    if (changed.Status == MemberStatus.Removed && member.UniqueAddress != _self)
                    {
                        removed.Add(member.Address);
                    }
                }
            }

            if (!ReferenceEquals(gossip, _gossip))
            {
                Update(gossip);
                foreach (var address in removed)
                {
                    // Tell the removed node directly: nobody gossips to it any more.
                    SendGossip(address);
                }

                return;
            }
        }

        if (!ReferenceEquals(gossip, _gossip))
        {
            Update(gossip);
        }
    }

    /// <summary>Installs <paramref name="next"/>, publishes what changed, adjusts failure
    /// detection, and shuts membership down when this node is Removed or Down.</summary>
    private void Update(Gossip next)
    {
        var previous = _gossip;
        _gossip = next;
        SyncDetectors();
        var state = BuildState(next);
        _cluster.Publish(state);
        PublishDiff(previous, next);
        if (next.Get(_self) is { Status: MemberStatus.Removed or MemberStatus.Down } self)
        {
            Shutdown(self);
        }
    }

    private void SyncDetectors()
    {
        var now = NowMs;
        var monitored = _gossip.LiveMembers.Where(m => m.UniqueAddress != _self && m.Status != MemberStatus.Down).Select(m => m.UniqueAddress).ToHashSet();
        foreach (var node in _detectors.Keys.Where(n => !monitored.Contains(n)).ToList())
        {
            _detectors.Remove(node);
        }

        foreach (var node in monitored.Where(n => !_detectors.ContainsKey(n)))
        {
            var detector = new PhiAccrualFailureDetector(
                _settings.FailureDetectorThreshold,
                _settings.FailureDetectorMinStdDeviation.TotalMilliseconds,
                _settings.AcceptableHeartbeatPause.TotalMilliseconds,
                _settings.HeartbeatInterval.TotalMilliseconds);

            // A first heartbeat on admission, so a node that dies before it ever heartbeats is still detected.
            detector.Heartbeat(now);
            _detectors[node] = detector;
        }

        foreach (var member in _gossip.UnreachableMembers)
        {
            _unreachableSinceMs.TryAdd(member.UniqueAddress, now);
        }

        foreach (var node in _unreachableSinceMs.Keys.Where(n => !_gossip.IsUnreachable(n)).ToList())
        {
            _unreachableSinceMs.Remove(node);
        }
    }

    private static CurrentClusterState BuildState(Gossip gossip) => new(
        [.. gossip.LiveMembers],
        [.. gossip.UnreachableMembers],
        gossip.Leader()?.Address,
        [.. gossip.Seen.Select(s => s.Address)]);

    private void PublishDiff(Gossip previous, Gossip next)
    {
        foreach (var member in next.Members.Values)
        {
            var before = previous.Get(member.UniqueAddress);
            if (before?.Status == member.Status)
            {
                continue;
            }

            IClusterDomainEvent? e = member.Status switch
            {
                MemberStatus.Joining => new MemberJoined(member),
                MemberStatus.Up => new MemberUp(member),
                MemberStatus.Leaving => new MemberLeft(member),
                MemberStatus.Exiting => new MemberExited(member),
                MemberStatus.Down => new MemberDowned(member),
                MemberStatus.Removed when before is not null => new MemberRemoved(member, before.Status),
                _ => null,
            };
            if (e is not null)
            {
                Emit(e);
            }
        }

        var wasUnreachable = previous.UnreachableMembers.Select(m => m.UniqueAddress).ToHashSet();
        var isUnreachable = next.UnreachableMembers.ToList();
        foreach (var member in isUnreachable.Where(m => !wasUnreachable.Contains(m.UniqueAddress)))
        {
            Emit(new UnreachableMember(member));
        }

        var nowUnreachable = isUnreachable.Select(m => m.UniqueAddress).ToHashSet();
        foreach (var node in wasUnreachable.Where(n => !nowUnreachable.Contains(n)))
        {
            if (next.Get(node) is { Status: not (MemberStatus.Removed or MemberStatus.Down) } member)
            {
                Emit(new ReachableMember(member));
            }
        }

        var oldLeader = previous.Leader()?.Address;
        var newLeader = next.Leader()?.Address;
        if (oldLeader != newLeader)
        {
            Emit(new LeaderChanged(newLeader));
        }
    }

    private void Emit(IClusterDomainEvent e)
    {
        foreach (var (subscriber, types) in _subscribers)
        {
            if (types.Any(t => t.IsInstanceOfType(e)))
            {
                subscriber.Tell(e, Self);
            }
        }
    }

    private void Shutdown(Member self)
    {
        if (self.Status == MemberStatus.Down)
        {
            var removed = self.With(MemberStatus.Removed);
            Emit(new MemberRemoved(removed, MemberStatus.Down));
        }

        Log.LogInformation("This node is {Status}; cluster membership shuts down.", self.Status);
        Timers.Cancel(GossipTimer);
        Timers.Cancel(HeartbeatTimer);
        _detectors.Clear();
        Become(Removed);
        _cluster.MarkTerminated();
    }
}
