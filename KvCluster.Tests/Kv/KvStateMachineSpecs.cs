using Google.Protobuf;
using KvCluster.Node.Kv;
using KvCluster.Client.Protocol;
using static KvCluster.Tests.Kv.KvCommands;

namespace KvCluster.Tests.Kv;

public sealed class KvStateMachineSpecs
{
    private readonly KvStateMachine _store = new();

    [Fact]
    public void Put_NewKey_CreatesItAtTheNextRevisionWhateverTheLogIndex()
    {
        var result = _store.Apply(3, Put("a", "1"));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Null(result.Put.Previous);
        Assert.Equal(2L, result.Put.Current.ModIndex);
        Assert.Equal(2L, result.Put.Current.CreateIndex);
        Assert.Equal(1L, result.Put.Current.Version);
        Assert.Equal(2L, result.Revision);
        Assert.Equal(2L, _store.Revision);
        Assert.Equal("1", Text(_store.Get("a"u8).Get.Kv.Value));
    }

    [Fact]
    public void Put_ExistingKeyWithoutPrevKv_ReturnsNoPrevious()
    {
        _store.Apply(1, Put("a", "1"));

        var result = _store.Apply(2, Put("a", "2"));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Null(result.Put.Previous);
        Assert.Equal(2L, result.Put.Current.Version);
    }

    [Fact]
    public void Put_ExistingKey_ReturnsPreviousAndBumpsVersion()
    {
        _store.Apply(1, Put("a", "1"));
        var withPrevious = Put("a", "2");
        withPrevious.Put.PrevKv = true;

        var result = _store.Apply(2, withPrevious);

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal("1", Text(result.Put.Previous.Value));
        Assert.Equal(2L, result.Put.Previous.ModIndex);
        Assert.Equal(3L, result.Put.Current.ModIndex);
        Assert.Equal(2L, result.Put.Current.CreateIndex);
        Assert.Equal(2L, result.Put.Current.Version);
        var kv = _store.Get("a"u8).Get.Kv;
        Assert.Equal("2", Text(kv.Value));
        Assert.Equal(3L, kv.ModIndex);
    }

    [Fact]
    public void Get_MissingKey_IsNotFound()
    {
        _store.Apply(1, Put("a", "1"));

        var result = _store.Apply(2, Get("b"));

        Assert.Equal(KvStatus.NotFound, result.Status);
        Assert.Equal(2L, result.Revision);
        Assert.Equal(2L, _store.AppliedIndex);
    }

    [Fact]
    public void Get_ThroughLog_ReturnsValueWithoutChangingRevision()
    {
        _store.Apply(1, Put("a", "1"));

        var result = _store.Apply(2, Get("a"));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal("1", Text(result.Get.Kv.Value));
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void PutCas_ExpectedVersionMatches_Succeeds()
    {
        _store.Apply(5, Put("a", "1"));

        var result = _store.Apply(6, Put("a", "2", expected: 2));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(3L, _store.Get("a"u8).Get.Kv.ModIndex);
    }

    [Fact]
    public void PutCas_ExpectedVersionStale_FailsWithActualVersionAndChangesNothing()
    {
        _store.Apply(5, Put("a", "1"));
        _store.Apply(6, Put("a", "2"));

        var result = _store.Apply(7, Put("a", "3", expected: 2));

        Assert.Equal(KvStatus.VersionMismatch, result.Status);
        Assert.Equal(3L, result.ActualVersion);
        Assert.Equal("2", Text(_store.Get("a"u8).Get.Kv.Value));
        Assert.Equal(3L, _store.Revision);
        Assert.Equal(3L, result.Revision);
        Assert.Equal(7L, _store.AppliedIndex);
    }

    [Fact]
    public void PutCas_ExpectedZeroOnMissingKey_Creates()
    {
        var result = _store.Apply(1, Put("lock", "me", expected: 0));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal("me", Text(_store.Get("lock"u8).Get.Kv.Value));
    }

    [Fact]
    public void PutCas_ExpectedZeroOnExistingKey_FailsWithActualVersion()
    {
        _store.Apply(1, Put("lock", "first", expected: 0));

        var result = _store.Apply(2, Put("lock", "second", expected: 0));

        Assert.Equal(KvStatus.VersionMismatch, result.Status);
        Assert.Equal(2L, result.ActualVersion);
        Assert.Equal(2L, _store.Revision);
        Assert.Equal("first", Text(_store.Get("lock"u8).Get.Kv.Value));
    }

    [Fact]
    public void PutCas_ExpectedVersionOnMissingKey_FailsWithActualZero()
    {
        var result = _store.Apply(1, Put("a", "1", expected: 9));

        Assert.Equal(KvStatus.VersionMismatch, result.Status);
        Assert.Equal(0L, result.ActualVersion);
        Assert.Equal(0, _store.Count);
        Assert.Equal(KvStateMachine.InitialRevision, _store.Revision);
    }

    [Fact]
    public void Delete_ExistingKey_RemovesAndReturnsPrevious()
    {
        _store.Apply(1, Put("a", "1"));

        var result = _store.Apply(2, Delete("a"));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal("1", Text(result.Delete.Previous.Value));
        Assert.Equal(KvStatus.NotFound, _store.Get("a"u8).Status);
        Assert.Equal(3L, _store.Revision);
        Assert.Equal(0, _store.Count);
    }

    [Fact]
    public void Delete_MissingKey_IsNotFoundAndKeepsRevision()
    {
        _store.Apply(1, Put("a", "1"));

        var result = _store.Apply(2, Delete("b"));

        Assert.Equal(KvStatus.NotFound, result.Status);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void DeleteCas_VersionMismatch_KeepsKey()
    {
        _store.Apply(1, Put("a", "1"));
        _store.Apply(2, Put("a", "2"));

        var result = _store.Apply(3, Delete("a", expected: 2));

        Assert.Equal(KvStatus.VersionMismatch, result.Status);
        Assert.Equal(3L, result.ActualVersion);
        Assert.Equal(3L, _store.Revision);
        Assert.Equal(KvStatus.Ok, _store.Get("a"u8).Status);
    }

    [Fact]
    public void DeleteCas_VersionMatches_Removes()
    {
        _store.Apply(1, Put("a", "1"));

        var result = _store.Apply(2, Delete("a", expected: 2));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(0, _store.Count);
    }

    [Fact]
    public void Put_AfterDelete_RecreatesWithFreshCreateIndexAndVersion()
    {
        _store.Apply(1, Put("a", "1"));
        _store.Apply(2, Put("a", "2"));
        _store.Apply(3, Delete("a"));

        var result = _store.Apply(4, Put("a", "3"));

        Assert.Null(result.Put.Previous);
        Assert.Equal(5L, result.Put.Current.CreateIndex);
        Assert.Equal(5L, result.Put.Current.ModIndex);
        Assert.Equal(1L, result.Put.Current.Version);
    }

    [Fact]
    public void DeleteRange_Prefix_RemovesOnlyKeysWithThatPrefix()
    {
        long i = 0;
        foreach (var key in new[] { "app", "app/a", "app/b", "apq", "ap", "b" })
        {
            _store.Apply(++i, Put(key, "v"));
        }

        var result = _store.Apply(++i, DeleteRange("app"));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(3L, result.DeleteRange.Deleted);
        Assert.Equal(["ap", "apq", "b"], Keys(_store.Range(Prefix(""))));
        Assert.Equal(8L, _store.Revision);
        Assert.Equal(8L, result.Revision);
    }

    [Fact]
    public void DeleteRange_NoMatch_KeepsRevision()
    {
        _store.Apply(1, Put("a", "1"));

        var result = _store.Apply(2, DeleteRange("z"));

        Assert.Equal(0L, result.DeleteRange.Deleted);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void Apply_DuplicateIndex_IsRefusedAndChangesNothing()
    {
        _store.Apply(1, Put("a", "1"));
        var before = _store.Snapshot();

        var duplicate = _store.Apply(1, Put("a", "2"));
        var older = _store.Apply(0, Put("b", "2"));
        var negative = _store.Apply(-3, Put("b", "2"));

        Assert.Equal(KvStatus.StaleIndex, duplicate.Status);
        Assert.Contains("already applied", duplicate.Error);
        Assert.Equal(KvStatus.StaleIndex, older.Status);
        Assert.Contains("not a log index", negative.Error);
        Assert.Equal(before, _store.Snapshot());
    }

    [Fact]
    public void Apply_DuplicateIndexAsBytes_IsRefused()
    {
        var command = Put("a", "1").ToByteArray();
        _store.Apply(7, command);

        var again = KvResult.Parser.ParseFrom(_store.Apply(7, command));

        Assert.Equal(KvStatus.StaleIndex, again.Status);
        Assert.Equal(1L, _store.Get("a"u8).Get.Kv.Version);
    }

    [Fact]
    public void Apply_IndexGap_IsAccepted()
    {
        _store.Apply(1, Put("a", "1"));

        var result = _store.Apply(10, Put("a", "2"));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(10L, _store.AppliedIndex);
    }

    [Fact]
    public void Apply_EmptyBytes_IsNoOpThatAdvancesAppliedIndex()
    {
        _store.Apply(1, Put("a", "1"));

        var result = KvResult.Parser.ParseFrom(_store.Apply(2, ReadOnlySpan<byte>.Empty));

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(2L, _store.AppliedIndex);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void Apply_GarbageBytes_IsInvalidCommandWithReason()
    {
        var result = KvResult.Parser.ParseFrom(_store.Apply(1, new byte[] { 0xFF, 0xFF, 0xFF }));

        Assert.Equal(KvStatus.InvalidCommand, result.Status);
        Assert.Contains("not a KV command", result.Error);
        Assert.Equal(1L, _store.AppliedIndex);
    }

    [Fact]
    public void Apply_CommandWithoutOperation_IsInvalidCommand()
    {
        var result = _store.Apply(1, new KvCommand());

        Assert.Equal(KvStatus.InvalidCommand, result.Status);
        Assert.Contains("no operation", result.Error);
    }

    [Fact]
    public void Apply_CallerReusesCommandBuffer_StoredKeyAndValueUnchanged()
    {
        var buffer = Put("a", "1").ToByteArray();
        _store.Apply(1, buffer);

        Array.Fill(buffer, (byte)'z');

        Assert.Equal("1", Text(_store.Get("a"u8).Get.Kv.Value));
        Assert.Equal(1, _store.Count);
    }

    [Fact]
    public void Apply_BytesRoundTrip_MatchesTypedResult()
    {
        var bytes = _store.Apply(1, Put("a", "1").ToByteArray());

        var result = KvResult.Parser.ParseFrom(bytes);

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(2L, result.Put.Current.ModIndex);
    }
}
