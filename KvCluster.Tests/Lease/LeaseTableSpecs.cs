using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using KvCluster.Tests.Kv;
using static KvCluster.Tests.Kv.EtcdCommands;
using static KvCluster.Tests.Kv.KvCommands;
using PutRequest = KvCluster.Client.Etcd.PutRequest;

namespace KvCluster.Tests.Lease;

/// <summary>The replicated lease table of the state machine: grant, revoke, attach on put, detach on delete, snapshots.</summary>
public sealed class LeaseTableSpecs
{
    private readonly EtcdStore _store = new();

    [Fact]
    public void Grant_AddsTheLease_AndMovesNoRevision()
    {
        var result = _store.Apply(Grant(7, 10));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(7L, result.EtcdLeaseGrant.ID);
        Assert.Equal(10L, result.EtcdLeaseGrant.TTL);
        Assert.Equal(1L, _store.Revision);
        Assert.True(_store.Store.HasLease(7));
    }

    [Fact]
    public void Grant_OfAnExistingId_IsLeaseExists_AndATtlAboveTheMaximumIsRefused()
    {
        _store.Apply(Grant(7, 10));

        var again = _store.Apply(Grant(7, 20));
        var huge = _store.Apply(Grant(8, KvStateMachine.MaxLeaseTtl + 1));

        Assert.Equal(EtcdErrors.LeaseExists, again.Error);
        Assert.Equal(EtcdErrors.LeaseTtlTooLarge, huge.Error);
        Assert.False(_store.Store.HasLease(8));
        Assert.Equal(10L, TimeToLive(7).GrantedTTL);
    }

    [Fact]
    public void Grant_WithIdZero_IsRefusedBeforeAndAtApply()
    {
        var command = Grant(0, 10);

        Assert.NotNull(new KvRequestValidator(KvLimits.Default).Validate(command));
        Assert.Equal(KvStatus.InvalidArgument, _store.Apply(command).Status);
        Assert.Equal(0, _store.Store.LeaseCount);
    }

    [Fact]
    public void PutWithLease_AttachesTheKey_AndTimeToLiveListsIt()
    {
        _store.Apply(Grant(7, 10));

        var put = _store.Apply(LeasedPut("a", "1", 7));
        _store.Apply(LeasedPut("b", "2", 7));

        Assert.Equal(KvStatus.Ok, put.Status);
        Assert.Equal(7L, _store.Get("a")!.Lease);
        Assert.Equal(["a", "b"], TimeToLive(7, keys: true).Keys.Select(Text));
    }

    [Fact]
    public void PutWithAMissingLease_IsLeaseNotFound_AlsoInATxn_AndChangesNothing()
    {
        var put = _store.Apply(LeasedPut("a", "1", 99));
        var txn = _store.Txn(Txn(success: [OpPut("b", "1"), new RequestOp { RequestPut = new PutRequest { Key = B("c"), Value = B("1"), Lease = 99 } }]));

        Assert.Equal(EtcdErrors.LeaseNotFound, put.Error);
        Assert.Equal(EtcdErrors.LeaseNotFound, txn.Error);
        Assert.Equal(1L, _store.Revision);
        Assert.Null(_store.Get("b"));
    }

    [Fact]
    public void Revoke_DeletesEveryAttachedKey_InOneRevision()
    {
        _store.Apply(Grant(7, 10));
        _store.Apply(LeasedPut("a", "1", 7));
        _store.Apply(LeasedPut("b", "2", 7));
        _store.Put("c", "3");
        var before = _store.Revision;

        var revoke = _store.Apply(Revoke(7));

        Assert.Equal(KvStatus.Ok, revoke.Status);
        Assert.Equal(before + 1, _store.Revision);
        Assert.Equal(before + 1, revoke.EtcdLeaseRevoke.Header.Revision);
        Assert.Null(_store.Get("a"));
        Assert.Null(_store.Get("b"));
        Assert.NotNull(_store.Get("c"));
        Assert.False(_store.Store.HasLease(7));

        // Both deletes carry the same revision: the keys exist at the revision before and are gone at the one after.
        Assert.NotNull(_store.Get("a", before));
        Assert.NotNull(_store.Get("b", before));
    }

    [Fact]
    public void Revoke_OfALeaseWithNoKey_MovesNoRevision_AndOfAMissingLeaseIsNotFound()
    {
        _store.Apply(Grant(7, 10));

        var empty = _store.Apply(Revoke(7));
        var missing = _store.Apply(Revoke(7));

        Assert.Equal(KvStatus.Ok, empty.Status);
        Assert.Equal(1L, _store.Revision);
        Assert.Equal(EtcdErrors.LeaseNotFound, missing.Error);
    }

    [Fact]
    public void Put_MovesAKeyBetweenLeases_IgnoreLeaseKeepsIt_AndAPlainPutDetachesIt()
    {
        _store.Apply(Grant(1, 10));
        _store.Apply(Grant(2, 10));
        _store.Apply(LeasedPut("k", "v1", 1));

        _store.Apply(LeasedPut("k", "v2", 2));
        Assert.Empty(TimeToLive(1, keys: true).Keys);
        Assert.Single(TimeToLive(2, keys: true).Keys);

        _store.Apply(new KvCommand { EtcdPut = new PutRequest { Key = B("k"), Value = B("v3"), IgnoreLease = true } });
        Assert.Equal(2L, _store.Get("k")!.Lease);

        _store.Put("k", "v4");
        Assert.Equal(0L, _store.Get("k")!.Lease);
        Assert.Empty(TimeToLive(2, keys: true).Keys);

        // Neither revoke touches the key any more.
        var revision = _store.Revision;
        _store.Apply(Revoke(1));
        _store.Apply(Revoke(2));
        Assert.Equal(revision, _store.Revision);
        Assert.Equal("v4", Text(_store.Get("k")!.Value));
    }

    [Fact]
    public void Delete_DetachesTheKey_SoARevokeAfterARecreateLeavesIt()
    {
        _store.Apply(Grant(7, 10));
        _store.Apply(LeasedPut("k", "1", 7));

        _store.Delete("k");
        Assert.Empty(TimeToLive(7, keys: true).Keys);
        _store.Put("k", "2");
        _store.Apply(Revoke(7));

        Assert.Equal("2", Text(_store.Get("k")!.Value));
    }

    [Fact]
    public void TxnPutWithLease_Attaches_AndTheLeaseCompareSeesIt()
    {
        _store.Apply(Grant(7, 10));

        _store.Txn(Txn(success: [new RequestOp { RequestPut = new PutRequest { Key = B("t"), Value = B("1"), Lease = 7 } }]));

        Assert.True(_store.Txn(Txn([LeaseIs("t", Compare.Types.CompareResult.Equal, 7)])).EtcdTxn.Succeeded);
        Assert.Single(TimeToLive(7, keys: true).Keys);
    }

    [Fact]
    public void TimeToLive_OfAMissingLease_IsTtlMinusOne_AndLeasesListsEveryIdAscending()
    {
        _store.Apply(Grant(9, 10));
        _store.Apply(Grant(3, 10));

        Assert.Equal(-1L, TimeToLive(5).TTL);
        var list = _store.Store.Query(new KvCommand { LeaseLeases = new LeaseLeasesRequest() })!;
        Assert.Equal([3L, 9L], list.EtcdLeaseLeases.Leases.Select(l => l.ID));
    }

    [Fact]
    public void Snapshot_RestoresLeasesAndAttachments_SoARevokeAfterRestoreDeletesTheKeys()
    {
        _store.Apply(Grant(7, 30));
        _store.Apply(Grant(8, 40));
        _store.Apply(LeasedPut("a", "1", 7));
        _store.Apply(LeasedPut("b", "2", 8));
        var restored = new KvStateMachine();

        restored.Restore(_store.Store.Snapshot());

        Assert.Equal(_store.Store.Snapshot(), restored.Snapshot());
        Assert.Equal(2, restored.LeaseCount);
        Assert.Equal([B("a")], restored.LeaseKeys(7));
        var revision = restored.Revision;
        restored.Apply(restored.AppliedIndex + 1, Revoke(7));
        Assert.Equal(revision + 1, restored.Revision);
        Assert.Equal(KvStatus.Ok, restored.Query(AsCommand(ERange("b")))!.Status);
        Assert.Equal(0L, restored.EtcdRange(ERange("a")).EtcdRange.Count);
    }

    [Fact]
    public void Replay_OfTheSameLog_ReachesTheSameLeasesAndBytes()
    {
        KvCommand[] log = [Grant(7, 10), LeasedPut("a", "1", 7), Grant(8, 5), LeasedPut("b", "1", 8), Revoke(7), LeasedPut("b", "2", 8)];
        var first = new EtcdStore();
        var second = new EtcdStore();

        foreach (var command in log)
        {
            first.Apply(command);
        }

        foreach (var command in log)
        {
            second.Apply(command);
        }

        Assert.Equal(first.Store.Snapshot(), second.Store.Snapshot());
        Assert.False(second.Store.HasLease(7));
        Assert.Equal([B("b")], second.Store.LeaseKeys(8));
    }

    [Fact]
    public void Observer_IsToldGrantsRevokesAndRestores_WithTheirIndexes()
    {
        var seen = new List<LeaseChange>();
        _store.Store.LeaseObserver = seen.Add;

        _store.Apply(Grant(7, 10));
        _store.Apply(Revoke(7));
        _store.Store.Restore(_store.Store.Snapshot());

        Assert.Equal(
            [new LeaseChange(LeaseChangeKind.Granted, 7, 10, 1), new LeaseChange(LeaseChangeKind.Revoked, 7, 0, 2), new LeaseChange(LeaseChangeKind.Reset, 0, 0, 2)],
            seen);
    }

    [Fact]
    public void Snapshot_HasALeaseSectionOnlyWhileALeaseExists()
    {
        _store.Put("a", "1");
        var without = KvCluster.Client.Snapshots.KvSnapshotEnvelope.Read(_store.Store.Snapshot());
        _store.Apply(Grant(7, 10));
        var with = KvCluster.Client.Snapshots.KvSnapshotEnvelope.Read(_store.Store.Snapshot());

        Assert.DoesNotContain(without.Sections, s => s.Type == (ulong)KvCluster.Client.Snapshots.KvSnapshotSection.Leases);
        Assert.Contains(with.Sections, s => s.Type == (ulong)KvCluster.Client.Snapshots.KvSnapshotSection.Leases);
        var restored = new KvStateMachine();
        restored.Restore(_store.Store.Snapshot());
        Assert.True(restored.HasLease(7));
    }

    private LeaseTimeToLiveResponse TimeToLive(long id, bool keys = false) =>
        _store.Store.Query(new KvCommand { LeaseTimeToLive = new LeaseTimeToLiveRequest { ID = id, Keys = keys } })!.EtcdLeaseTimeToLive;

    internal static KvCommand Grant(long id, long ttl) => new() { LeaseGrant = new LeaseGrantRequest { ID = id, TTL = ttl } };

    internal static KvCommand Revoke(long id) => new() { LeaseRevoke = new LeaseRevokeRequest { ID = id } };

    internal static KvCommand LeasedPut(string key, string value, long lease) =>
        new() { EtcdPut = new PutRequest { Key = B(key), Value = B(value), Lease = lease } };
}
