using Akka.Configuration;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// A journal write that fails stops the RaftActor before it sends anything that promised durability. This class runs
/// with <c>serialize-messages = off</c>: Akka.Persistence's own journal protocol message that carries the write's
/// exception (<c>AsyncWriteJournal.Desequenced</c> holding a <c>WriteMessageFailure</c>) cannot round-trip through
/// Akka's default serializer, so with verification on Akka drops it and the failure would never be reported. That
/// message never leaves the process; every Raft message is still verified by the other specs.
/// </summary>
public sealed class RaftActorJournalFailureSpecs : RaftActorTestKit
{
    private readonly JournalGate _gate;

    public RaftActorJournalFailureSpecs()
        : this($"gate-{Guid.NewGuid():N}")
    {
    }

    private RaftActorJournalFailureSpecs(string gateId)
        : base(ConfigurationFactory.ParseString("akka.actor.serialize-messages = off").WithFallback(GatedJournal.Hocon(gateId)))
    {
        _gate = GatedJournal.Gates.GetOrAdd(gateId, _ => new JournalGate());
    }

    [Fact]
    public void Vote_JournalWriteFails_ActorStopsWithoutSendingVote()
    {
        var (node, peer) = RaftActorPersistenceSpecs.StartVoter(this);
        Watch(node);
        _gate.FailWith = new IOException("disk full (injected)");

        peer.Send(node, new RequestVote(1, 2, Term: 1, LastLogIndex: 0, LastLogTerm: 0, PreVote: false, LeadershipTransfer: false));

        ExpectTerminated(node);
        Assert.False(peer.HasMessages);
    }
}
