using Akka.Actor;
using Akka.Event;
using Akka.Remote;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// etcd's <c>adjustTicks</c> for a node with peers: once its journal has recovered and it is connected to at least two
/// voters and a quorum with itself (every peer of a three-member cluster; connected: Akka.Remote reports an association,
/// a peer's Raft message arrived, or the node host reports the peer's system in the cluster with
/// <see cref="PeerListening"/>), a follower that has heard no leader fast-forwards its first election
/// timeout by <see cref="RaftConfig.ElectionTimeoutMinTicks"/> − 2 ticks, so a cluster restarted as a whole elects a
/// leader after 0.2–1.2 s (default ticks) instead of 1–2 s. Waiting for the associations is what makes this safe to do
/// at start: a pre-vote sent before a peer listens would fail to connect, and Akka.Remote then gates the address (drops
/// everything sent to it) for <c>retry-gate-closed-for</c> (5 s). The node still campaigns with PreVote, so a restarted
/// member whose peers have a leader disrupts nothing: their leader's heartbeats (every tick) reach it first, and they
/// refuse its pre-vote while they hear their leader.
/// <para>
/// The node that stood in its last term (its recovered vote is its own: it led that term, or campaigned for it) goes
/// first: its timeout is advanced to the next tick, while the others keep at least two ticks and their random spread. A
/// cluster restarted as a whole then elects its previous leader about one tick after the peers connect (0.1 s), rather
/// than after the first of three random timeouts (0.2–1.2 s), and the others' timeouts still back it up if it cannot
/// win. Raft's safety does not depend on timing; only which node campaigns first changes.
/// </para>
/// </summary>
public sealed partial class RaftActor
{
    /// <summary>Remote addresses with a live Akka.Remote association, tracked until the first timeout is advanced; null when off or done.</summary>
    private HashSet<Address>? _associated;

    /// <summary>Subscribes to Akka.Remote's association events when the first election may be advanced.</summary>
    private void WatchAssociationsForFirstElection()
    {
        if (!_settings.AdvanceFirstElectionOncePeersConnect)
        {
            return;
        }

        _associated = new HashSet<Address>();
        Context.System.EventStream.Subscribe(Self, typeof(AssociatedEvent));
        Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
    }

    /// <summary>Records an association change, then advances the first election if it is now due.</summary>
    private void OnAssociation(AssociationEvent association)
    {
        if (_associated is not { } associated)
        {
            return;
        }

        if (association is AssociatedEvent)
        {
            associated.Add(association.RemoteAddress);
        }
        else
        {
            associated.Remove(association.RemoteAddress);
        }

        MaybeAdvanceFirstElection();
    }

    /// <summary>The node host saw the system at <paramref name="address"/> in the cluster: it listens, as good as an association here.</summary>
    private void OnPeerListening(Address address)
    {
        if (_associated is not { } associated)
        {
            return;
        }

        associated.Add(address);
        MaybeAdvanceFirstElection();
    }

    /// <summary>A peer's Raft message proves its association too (one made before this actor subscribed is not reported).</summary>
    private void NotePeerReached(IActorRef sender)
    {
        if (_associated is { } associated && sender.Path.Address.HasGlobalScope)
        {
            associated.Add(sender.Path.Address);
        }
    }

    /// <summary>
    /// Advances the first election timeout once, when: the core exists, it is a follower that knows no leader and may
    /// campaign, and it is associated with at least two voters (every peer when it has fewer) and a quorum with itself. Stops watching associations after
    /// that, or as soon as the node hears a leader or becomes anything but a follower (the timeout has then done its work).
    /// </summary>
    private void MaybeAdvanceFirstElection()
    {
        if (_associated is not { } associated || _node is null)
        {
            return;
        }

        if (_node.Role != RaftRole.Follower || _node.Leader != 0 || _node.Term > _recoveredTerm || _node.IsSoleVoter)
        {
            StopWatchingAssociations();
            return;
        }

        var membership = _node.Membership;
        if (!membership.IsVoter(NodeId))
        {
            return;
        }

        var connected = 0;
        foreach (var voter in membership.Voters)
        {
            if (voter != NodeId && _peers.TryGetValue(voter, out var peer) && associated.Contains(peer.Path.Address))
            {
                connected++;
            }
        }

        // etcd waits for at least two active peers: all of them in a three-member cluster (a late starter is not left
        // to disturb a leader elected without it), a quorum with itself in a five-member one.
        var peers = membership.Voters.Count - 1;
        if (connected < Math.Max(membership.Voters.Count / 2, Math.Min(2, peers)))
        {
            return;
        }

        var reachable = connected + 1;

        var ticks = Math.Max(0, _settings.Raft.ElectionTimeoutMinTicks - 2);
        var stoodLast = _node.Vote == NodeId;
        if (stoodLast)
        {
            ticks = Math.Max(ticks, _node.RandomizedElectionTimeout - _node.ElectionElapsed - 1);
        }

        StopWatchingAssociations();
        Log.Info("Raft node {NodeId}: connected to {Reachable} of {Voters} voters (itself included) with no leader heard; its first election timeout is advanced by {Ticks} ticks{Why}.",
            NodeId, reachable, membership.Voters.Count, ticks, stoodLast ? $" (it stood in its last term, {_node.Term}: it campaigns first)" : string.Empty);
        for (var i = 0; i < ticks; i++)
        {
            _node.Tick();
        }
    }

    private void StopWatchingAssociations()
    {
        if (_associated is null)
        {
            return;
        }

        _associated = null;
        Context.System.EventStream.Unsubscribe(Self, typeof(AssociatedEvent));
        Context.System.EventStream.Unsubscribe(Self, typeof(DisassociatedEvent));
    }
}
