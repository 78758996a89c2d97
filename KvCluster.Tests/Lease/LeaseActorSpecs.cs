using Akka.Actor;
using Akka.TestKit;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Tests.RaftActor;

namespace KvCluster.Tests.Lease;

/// <summary>
/// The node's lessor actor on virtual time, with probes for the RaftActor and the router: it acts only while its node
/// leads, extends every lease on promotion before expiring any, proposes the revoke of an expired lease (never
/// forwarded), renews on keep-alives, and answers NotLeader when its node does not lead.
/// </summary>
public sealed class LeaseActorSpecs : RaftActorTestKit
{
    private static readonly LeaseSettings s_settings = new()
    {
        MinTtlSeconds = 1,
        PromotionExtension = TimeSpan.FromSeconds(2),
        CheckInterval = TimeSpan.FromMilliseconds(100),
        RevokeRetry = TimeSpan.FromSeconds(1),
    };

    private readonly TestProbe _raft;
    private readonly TestProbe _router;
    private RaftRole _role = RaftRole.Follower;
    private long _term = 1;
    private ulong _leader = 2;
    private readonly List<(long Id, long Ttl)> _table = [];

    public LeaseActorSpecs()
    {
        _raft = CreateTestProbe();
        _router = CreateTestProbe();
        _raft.SetAutoPilot(new DelegateAutoPilot((sender, message) =>
        {
            switch (message)
            {
                case GetRaftStatus:
                    sender.Tell(new RaftStatus(1, _role, _term, 0, _leader, 10, 10, 10, new Dictionary<ulong, long>(), false));
                    break;
                case LocalQuery:
                    var table = new LeaseTable { AppliedIndex = 10 };
                    table.Leases.AddRange(_table.Select(l => new LeaseTableEntry { Id = l.Id, Ttl = l.Ttl }));
                    sender.Tell(new LocalQueryReply(10, new KvResult { Status = KvStatus.Ok, LeaseTable = table }.ToByteArray()));
                    break;
            }

            return AutoPilot.KeepRunning;
        }));
    }

    [Fact]
    public void NotLeading_KeepAlivesAreAnsweredNotLeaderWithTheLeader_AndNothingExpires()
    {
        var lessor = Start();
        lessor.Tell(new LeaseChange(LeaseChangeKind.Granted, 7, 1, 5));
        Ticks(TimeSpan.FromSeconds(5));

        var answer = AwaitAnswer(lessor, 7, a => a is NotLeader { LeaderHint: 2 });

        Assert.IsType<NotLeader>(answer);
        _router.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Promotion_ExtendsEveryLeaseByTheExtension_ThenTheExpiredLeaseIsRevokedWithoutForwarding()
    {
        // A lease granted under the previous leader, long before this node leads.
        _table.Add((7, 5));
        var lessor = Start();
        Ticks(TimeSpan.FromSeconds(30));
        _role = RaftRole.Leader;
        _term = 2;
        _leader = 1;
        Ticks(TimeSpan.FromMilliseconds(300));
        AwaitAnswer(lessor, 999, a => a is LessorReply); // it saw it leads, read the table and was promoted

        // TTL (5 s) + extension (2 s) from the promotion, less a margin for the checks: nothing is revoked.
        Ticks(TimeSpan.FromSeconds(6.5));
        _router.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Ticks(TimeSpan.FromSeconds(1));

        var revoke = _router.ExpectMsg<KvRequest>();
        Assert.Equal(7L, revoke.Command.LeaseRevoke.ID);
        Assert.True(revoke.Hops >= 2, "the lessor's revoke must never be forwarded to another node");
    }

    [Fact]
    public void KeepAlives_OnTheLeader_RenewTheLease_AndAnUnknownLeaseGetsTtlZero()
    {
        _role = RaftRole.Leader;
        _leader = 1;
        var lessor = Start();
        Ticks(TimeSpan.FromMilliseconds(300));
        AwaitAnswer(lessor, 999, a => a is LessorReply);
        lessor.Tell(new LeaseChange(LeaseChangeKind.Granted, 7, 2, 11));

        for (var i = 0; i < 5; i++)
        {
            Ticks(TimeSpan.FromSeconds(1.5));
            lessor.Tell(KeepAlive(7), TestActor);
            Assert.Equal(2L, ExpectMsg<LessorReply>().Result.EtcdLeaseKeepAlive.TTL);
        }

        _router.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        lessor.Tell(KeepAlive(8), TestActor);
        Assert.Equal(0L, ExpectMsg<LessorReply>().Result.EtcdLeaseKeepAlive.TTL);

        // No more keep-alives: revoked after its TTL.
        Ticks(TimeSpan.FromSeconds(2.2));
        Assert.Equal(7L, _router.ExpectMsg<KvRequest>().Command.LeaseRevoke.ID);
    }

    /// <summary>Starts the lessor and waits until it runs (its timer is set in PreStart, before any message).</summary>
    private IActorRef Start()
    {
        var lessor = Sys.ActorOf(LeaseActor.Props(s_settings, 1, _raft.Ref, _router.Ref));
        lessor.Tell(new Identify(1), TestActor);
        ExpectMsg<ActorIdentity>();
        return lessor;
    }

    private static LessorRequest KeepAlive(long id) => new(new KvCommand { LeaseKeepAlive = new LeaseKeepAliveRequest { ID = id } });

    /// <summary>Advances virtual time in check-interval steps (each step fires the lessor's check).</summary>
    private void Ticks(TimeSpan total)
    {
        for (var elapsed = TimeSpan.Zero; elapsed < total; elapsed += s_settings.CheckInterval)
        {
            Advance(s_settings.CheckInterval);
        }
    }

    /// <summary>
    /// Sends keep-alives of lease <paramref name="id"/> until an answer matches, moving virtual time one check interval
    /// per attempt (the lessor learns its role at its checks, through asks).
    /// </summary>
    private object AwaitAnswer(IActorRef lessor, long id, Func<object, bool> match)
    {
        object? answer = null;
        AwaitAssert(() =>
        {
            Advance(s_settings.CheckInterval);
            lessor.Tell(KeepAlive(id), TestActor);
            answer = ExpectMsg<object>();
            Assert.True(match(answer), $"answer so far: {answer}");
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
        return answer!;
    }
}
