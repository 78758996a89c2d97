using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using KvCluster.Node.Router;

namespace KvCluster.Tests.Lease;

/// <summary>How the router serves the lease commands, and the node's lease settings derived from the Raft timing.</summary>
public sealed class LeaseRoutingSpecs
{
    [Fact]
    public void GrantAndRevoke_GoThroughTheLog()
    {
        Assert.Equal(KvRequestPath.Write, Classify(new KvCommand { LeaseGrant = new LeaseGrantRequest { ID = 1, TTL = 5 } }));
        Assert.Equal(KvRequestPath.Write, Classify(new KvCommand { LeaseRevoke = new LeaseRevokeRequest { ID = 1 } }));
    }

    [Fact]
    public void KeepAliveAndTimeToLive_GoToTheLeadersLessor_EvenWhenSerializable()
    {
        Assert.Equal(KvRequestPath.Lessor, Classify(new KvCommand { LeaseKeepAlive = new LeaseKeepAliveRequest { ID = 1 } }));
        Assert.Equal(KvRequestPath.Lessor, Classify(new KvCommand { LeaseTimeToLive = new LeaseTimeToLiveRequest { ID = 1 } }, ReadConsistency.Serializable));
    }

    [Fact]
    public void TheLeaseList_IsARead_AndTheTableALocalRead()
    {
        Assert.Equal(KvRequestPath.LinearizableRead, Classify(new KvCommand { LeaseLeases = new LeaseLeasesRequest() }));
        Assert.Equal(KvRequestPath.LocalRead, Classify(new KvCommand { LeaseLeases = new LeaseLeasesRequest() }, ReadConsistency.Serializable));
        Assert.Equal(KvRequestPath.LocalRead, Classify(new KvCommand { LeaseTable = new LeaseTableRequest() }));
    }

    [Theory]
    [InlineData(100, 10, 20, 2, 2000)]
    [InlineData(20, 10, 20, 1, 400)]
    [InlineData(100, 40, 50, 6, 5000)]
    public void Settings_FollowEtcdsMinimumTtl_AndExtendByAFullElectionTimeout(int tickMs, int min, int max, long minTtl, int extensionMs)
    {
        var settings = LeaseSettings.ForRaft(TimeSpan.FromMilliseconds(tickMs), min, max);

        Assert.Equal(minTtl, settings.MinTtlSeconds);
        Assert.Equal(TimeSpan.FromMilliseconds(extensionMs), settings.PromotionExtension);
    }

    private static KvRequestPath Classify(KvCommand command, ReadConsistency consistency = ReadConsistency.Linearizable) =>
        KvRequestClassifier.Classify(new KvRequest { Command = command, Consistency = consistency });
}
