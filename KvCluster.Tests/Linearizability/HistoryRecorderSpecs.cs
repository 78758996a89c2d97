using KvCluster.Testing.Linearizability;
using static KvCluster.Testing.Linearizability.KvInput;

namespace KvCluster.Tests.Linearizability;

public sealed class HistoryRecorderSpecs
{
    [Fact]
    public void Recorder_OkFailInfo_AreRecordedWithTheirOutcomes()
    {
        var recorder = new HistoryRecorder<KvInput, KvOutput>();

        var put = recorder.Invoke(1, Put("x", "a"));
        var get = recorder.Invoke(2, Get("x"));
        put.Ok(KvOutput.Written(7));
        get.Info();
        recorder.Invoke(3, Put("x", "z")).Fail();
        var history = recorder.ToHistory();

        Assert.Equal([OperationOutcome.Ok, OperationOutcome.Info, OperationOutcome.Fail], history.Operations.Select(o => o.Outcome));
        Assert.Equal(KvOutput.Written(7), history.Operations[0].Output);
        Assert.Null(history.Operations[1].Output);
        Assert.Equal(Operation<KvInput, KvOutput>.Infinity, history.Operations[1].Return);
        Assert.True(history.Operations[0].Call < history.Operations[1].Call);
        Assert.True(history.Operations[1].Call < history.Operations[0].Return);
    }

    [Fact]
    public void Recorder_PendingOperation_IsRecordedAsIndeterminate()
    {
        var recorder = new HistoryRecorder<KvInput, KvOutput>();
        recorder.Invoke(1, Put("x", "a"));

        var op = recorder.ToHistory().Operations.Single();

        Assert.Equal(OperationOutcome.Info, op.Outcome);
        Assert.Equal(Operation<KvInput, KvOutput>.Infinity, op.Return);
    }

    [Fact]
    public void Recorder_SecondOutcome_Throws()
    {
        var recorder = new HistoryRecorder<KvInput, KvOutput>();
        var put = recorder.Invoke(1, Put("x", "a"));
        put.Ok(KvOutput.Written());

        var error = Assert.Throws<InvalidOperationException>(() => put.Info());

        Assert.Contains("exactly once", error.Message);
    }

    [Fact]
    public async Task Recorder_ConcurrentClients_GetUniqueStrictlyIncreasingTimestamps()
    {
        var recorder = new HistoryRecorder<KvInput, KvOutput>();

        var clients = Enumerable.Range(0, 4).Select(client => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                recorder.Invoke(client, Put($"k{client}", $"{client}-{i}")).Ok(KvOutput.Written());
            }
        }));
        await Task.WhenAll(clients);
        var history = recorder.ToHistory();

        var stamps = history.Operations.SelectMany(o => new[] { o.Call, o.Return }).ToList();
        Assert.Equal(4000, stamps.Distinct().Count());
        Assert.All(history.Operations, o => Assert.True(o.Call < o.Return));
        Assert.Equal(history.Operations.Count, history.Operations.Select(o => o.Id).Distinct().Count());
        Assert.True(LinearizabilityChecker.Check(KvModel.Instance, history).IsLinearizable);
    }

    [Fact]
    public void History_SaveAndLoad_RoundTripsOperationsAndVerdict()
    {
        var history = new KvHistoryBuilder()
            .Ok(1, 0, 1, Put("x", "a"), KvOutput.Written(3))
            .Info(2, 2, Cas("x", 3, "b"))
            .Fail(3, 2, 4, Delete("x"))
            .Ok(1, 5, 6, Get("x"), KvOutput.Found("b", 9))
            .Build();
        var path = Path.Combine(Path.GetTempPath(), $"history-{Guid.NewGuid():N}.json");
        try
        {
            history.Save(path);
            var loaded = History<KvInput, KvOutput>.Load(path);

            Assert.Equal(history.Operations, loaded.Operations);
            Assert.Contains("\"Cas\"", File.ReadAllText(path));
            Assert.Equal(
                LinearizabilityChecker.Check(KvModel.Instance, history).Verdict,
                LinearizabilityChecker.Check(KvModel.Instance, loaded).Verdict);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void History_LoadMalformedFile_ThrowsNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"history-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, "{ \"operations\": [ { \"id\": ");

            var error = Assert.Throws<FormatException>(() => History<KvInput, KvOutput>.Load(path));

            Assert.Contains(path, error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void History_FromJsonWithoutOperations_Throws()
    {
        var error = Assert.Throws<FormatException>(() => History<KvInput, KvOutput>.FromJson("{}"));

        Assert.Contains("operations", error.Message);
    }
}
