using KvCluster.Node.Kv;

namespace KvCluster.Tests.Lease;

/// <summary>The leader's lessor: expiry, renewal, promotion extension, and its mirror of the lease table.</summary>
public sealed class LessorSpecs
{
    private static readonly DateTimeOffset s_t0 = new(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan s_extension = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_retry = TimeSpan.FromSeconds(1);

    private readonly Lessor _lessor = new(s_extension, s_retry);

    [Fact]
    public void APrimaryLease_ExpiresAtItsTtl_AndItsRevokeIsProposedOncePerRetryInterval()
    {
        _lessor.Promote(s_t0);
        _lessor.Granted(7, 5, index: 1, s_t0);

        Assert.Empty(_lessor.TakeExpired(s_t0.AddSeconds(4.9)));
        Assert.Equal([7L], _lessor.TakeExpired(s_t0.AddSeconds(5)));
        Assert.Empty(_lessor.TakeExpired(s_t0.AddSeconds(5.5)));
        Assert.Equal([7L], _lessor.TakeExpired(s_t0.AddSeconds(6)));

        _lessor.Revoked(7, index: 2);
        Assert.Empty(_lessor.TakeExpired(s_t0.AddSeconds(60)));
    }

    [Fact]
    public void Renew_MovesTheExpiry_AndAnswersTheTtl()
    {
        _lessor.Promote(s_t0);
        _lessor.Granted(7, 5, index: 1, s_t0);

        Assert.Equal(5L, _lessor.Renew(7, s_t0.AddSeconds(4)));

        Assert.Empty(_lessor.TakeExpired(s_t0.AddSeconds(8.9)));
        Assert.Equal(TimeSpan.FromSeconds(1), _lessor.Remaining(7, s_t0.AddSeconds(8)));
        Assert.Equal([7L], _lessor.TakeExpired(s_t0.AddSeconds(9)));
    }

    [Fact]
    public void Renew_OfAnUnknownOrExpiredLease_IsNull()
    {
        _lessor.Promote(s_t0);
        _lessor.Granted(7, 5, index: 1, s_t0);

        Assert.Null(_lessor.Renew(8, s_t0));
        Assert.Null(_lessor.Renew(7, s_t0.AddSeconds(5)));
        Assert.Equal(TimeSpan.Zero, _lessor.Remaining(7, s_t0.AddSeconds(6)));
        Assert.Null(_lessor.Remaining(8, s_t0));
    }

    [Fact]
    public void ANonPrimaryLessor_NeverExpires_AndRefusesToRenew()
    {
        _lessor.Granted(7, 5, index: 1, s_t0);

        Assert.Empty(_lessor.TakeExpired(s_t0.AddHours(1)));
        Assert.Throws<InvalidOperationException>(() => _lessor.Renew(7, s_t0));
    }

    [Fact]
    public void Promotion_GivesEveryLeaseItsTtlPlusTheExtension_FromThePromotion()
    {
        // Granted under the old leader long ago: a follower's lessor keeps no clock for it.
        _lessor.Granted(7, 5, index: 1, s_t0);
        var promoted = s_t0.AddMinutes(10);

        _lessor.Promote(promoted);

        Assert.Empty(_lessor.TakeExpired(promoted + TimeSpan.FromSeconds(5) + s_extension - TimeSpan.FromMilliseconds(1)));
        Assert.Equal([7L], _lessor.TakeExpired(promoted + TimeSpan.FromSeconds(5) + s_extension));
    }

    [Fact]
    public void Demotion_StopsExpiry_AndAnotherPromotionExtendsAgain()
    {
        _lessor.Promote(s_t0);
        _lessor.Granted(7, 5, index: 1, s_t0);

        _lessor.Demote();
        Assert.Empty(_lessor.TakeExpired(s_t0.AddSeconds(30)));
        _lessor.Promote(s_t0.AddSeconds(30));

        Assert.Empty(_lessor.TakeExpired(s_t0.AddSeconds(36)));
        Assert.Equal([7L], _lessor.TakeExpired(s_t0.AddSeconds(37)));
    }

    [Fact]
    public void Sync_DropsLeasesTheTableLacks_UnlessGrantedAfterTheRead()
    {
        _lessor.Granted(1, 5, index: 3, s_t0);
        _lessor.Granted(2, 5, index: 9, s_t0);

        _lessor.Sync([(5, 10)], index: 6, s_t0);

        Assert.Null(_lessor.Remaining(1, s_t0));
        Assert.NotNull(_lessor.Remaining(2, s_t0));
        Assert.NotNull(_lessor.Remaining(5, s_t0));
        Assert.Equal(2, _lessor.Count);
    }

    [Fact]
    public void Sync_DoesNotBringBackALeaseRevokedAfterTheRead()
    {
        _lessor.Granted(1, 5, index: 3, s_t0);
        _lessor.BeginSync();
        _lessor.Revoked(1, index: 8);

        _lessor.Sync([(1, 5)], index: 6, s_t0);

        Assert.Equal(0, _lessor.Count);
    }
}
