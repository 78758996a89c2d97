using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using KvCluster.Client.Cli;
using KvCluster.Client.Etcd;
using KvCluster.Pbm;
using KvCluster.Tests.Client;
using KvCluster.Tests.Etcd;
using KvCluster.Tests.Node;
using KvCluster.Tests.Persistence;

namespace KvCluster.Tests.Snapshots;

/// <summary>
/// A real node's snapshot surface (issue 17, issue 15's Maintenance.Snapshot): <c>kv snapshot save|status</c>, Debian's
/// <c>etcdctl snapshot save</c> against AkkaKv, the snapshot figures in <c>kv endpoint status</c> and pbm <c>raft status</c>.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SnapshotCommandTests : IAsyncLifetime
{
    private KvTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await KvTestCluster.StartAsync(1, pbm: true, clientPort: true, tune: o => o with { SnapshotCount = 50, SnapshotCatchupEntries = 10 });
        await _cluster.AwaitLeaderAsync();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private string Endpoint => $"127.0.0.1:{_cluster.Options[0].ClientPort}";

    [Fact]
    public async Task KvSnapshotSave_ThenStatus_ShowsTheRevisionAndKeysWritten()
    {
        using var dir = new TempDirectory();
        var revision = await PutAsync(20);
        var file = dir.File("node.snap");

        var saved = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "save", file);
        var status = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "status", file, "-w", "json");
        var table = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "status", file, "-w", "table");

        Assert.True(saved.Code == ExitCodes.Success, saved.Error);
        Assert.StartsWith($"Snapshot saved at {file}", saved.Out);
        Assert.False(File.Exists(file + ".part"));
        using var json = JsonDocument.Parse(status.Out);
        Assert.Equal(revision, json.RootElement.GetProperty("revision").GetInt64());
        Assert.Equal(20, json.RootElement.GetProperty("totalKey").GetInt64());
        Assert.Equal(new FileInfo(file).Length, json.RootElement.GetProperty("totalSize").GetInt64());
        Assert.True(json.RootElement.GetProperty("checksumOk").GetBoolean());
        Assert.Contains("HASH", table.Out);
        Assert.Contains("CHECKSUM OK", table.Out);
    }

    [Fact]
    public async Task EtcdctlSnapshotSave_WritesAFileKvSnapshotStatusReads()
    {
        using var dir = new TempDirectory();
        var revision = await PutAsync(5);
        var file = dir.File("etcdctl.snap");

        var (code, _, error) = await EtcdctlAsync("--endpoints", Endpoint, "snapshot", "save", file);
        var status = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "status", file, "-w", "json");

        Assert.True(code == 0, $"etcdctl snapshot save exited {code}: {error}");
        Assert.True(status.Code == ExitCodes.Success, status.Error);
        using var json = JsonDocument.Parse(status.Out);
        Assert.Equal(revision, json.RootElement.GetProperty("revision").GetInt64());
        Assert.Equal(5, json.RootElement.GetProperty("totalKey").GetInt64());
    }

    [Fact]
    public async Task KvSnapshotStatus_CorruptedFile_IsRefusedNamingTheFileAndTheProblem()
    {
        using var dir = new TempDirectory();
        await PutAsync(5);
        var file = dir.File("bad.snap");
        var saved = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "save", file);
        Assert.Equal(ExitCodes.Success, saved.Code);
        var bytes = await File.ReadAllBytesAsync(file);
        bytes[bytes.Length / 2] ^= 0x5A;
        await File.WriteAllBytesAsync(file, bytes);

        var status = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "status", file);

        Assert.Equal(ExitCodes.Rejected, status.Code);
        Assert.Contains(file, status.Error);
        Assert.Contains("corrupted", status.Error);
    }

    [Fact]
    public async Task KvSnapshotSave_TwoEndpoints_IsRefusedAndWritesNothing()
    {
        using var dir = new TempDirectory();
        var file = dir.File("two.snap");

        var saved = await EtcdCliIntegrationTests.RunAt($"{Endpoint},{Endpoint}", null, "snapshot", "save", file);

        Assert.Equal(ExitCodes.Usage, saved.Code);
        Assert.Contains("one endpoint", saved.Error);
        Assert.False(File.Exists(file));
    }

    [Fact]
    public async Task EndpointStatus_ShowsTheSnapshotColumnsAndFields()
    {
        await PutAsync(3);

        var table = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "endpoint", "status", "-w", "table");
        var json = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "endpoint", "status", "-w", "json");
        var pbm = await _cluster.Nodes[0]!.Commands!.ExecuteAsync("raft status");

        Assert.Contains("SNAPSHOT INDEX", table.Out);
        Assert.Contains("FIRST LOG INDEX", table.Out);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.True(doc.RootElement[0].GetProperty("Status").GetProperty("akkakvFirstLogIndex").GetInt64() >= 1);
        Assert.Equal(CommandStatus.Ok, pbm.Status);
        Assert.Contains("first index: ", pbm.Body);
        Assert.Contains("snapshot:    ", pbm.Body);
    }

    [Fact]
    public async Task EndpointStatus_AfterMoreEntriesThanTheSnapshotCount_ReportsASnapshotAndACompactedLog()
    {
        await PutAsync(200);
        var maintenance = new Maintenance.MaintenanceClient(_cluster.Channel());
        StatusResponse status;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        do
        {
            status = await maintenance.StatusAsync(new StatusRequest(), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)));
        }
        while ((status.AkkakvSnapshotIndex == 0 || status.AkkakvFirstLogIndex <= 1) && DateTime.UtcNow < deadline && await Delay());

        var pbm = await _cluster.Nodes[0]!.Commands!.ExecuteAsync("raft status");

        Assert.True(status.AkkakvSnapshotIndex >= 50, $"snapshot index {status.AkkakvSnapshotIndex}");
        Assert.True(status.AkkakvSnapshotBytes > 0);
        Assert.True(status.AkkakvSnapshotTakenAtUnixMs > 0);
        Assert.True(status.AkkakvFirstLogIndex > 1, $"first log index {status.AkkakvFirstLogIndex}");
        Assert.Contains($"snapshot:    index {status.AkkakvSnapshotIndex}", pbm.Body);
    }

    [Fact]
    public async Task SaveThenRestoreThenStart_TheNewOneNodeClusterServesTheKeysRevisionsAndHistory()
    {
        using var dir = new TempDirectory();
        await PutAsync(30);
        var revision = await PutAsync(10);
        var source = new Maintenance.MaintenanceClient(_cluster.Channel());
        var sourceHash = await source.HashKVAsync(new HashKVRequest { Revision = revision }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)));
        var file = dir.File("backup.snap");
        var data = Path.Combine(dir.Path, "restored");

        var saved = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "save", file);
        var restored = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "restore", file, "--data-dir", data, "--node-id", "7");
        var ports = NodeTestSupport.FreePorts(2);
        var options = new KvCluster.Node.Hosting.NodeOptions { Id = 7, Port = ports[0], ClientPort = ports[1], PbmPort = 0, DataDir = data, TickMs = 20, ShutdownTimeoutMs = 2000 };
        await using var node = await KvCluster.Node.Hosting.KvNode.StartAsync(options, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, NodeTestSupport.Hooks);
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{ports[1]}");
        var kv = new KV.KVClient(channel);
        var range = await ReadWhenServedAsync(kv, new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("s"), RangeEnd = Google.Protobuf.ByteString.CopyFromUtf8("t") });
        var hash = await new Maintenance.MaintenanceClient(channel).HashKVAsync(new HashKVRequest { Revision = revision }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)));
        var past = await kv.RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("s0"), Revision = revision - 5 }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)));
        var put = await kv.PutAsync(new PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("after"), Value = Google.Protobuf.ByteString.CopyFromUtf8("restore") }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)));

        Assert.True(saved.Code == ExitCodes.Success, saved.Error);
        Assert.True(restored.Code == ExitCodes.Success, restored.Error);
        Assert.Contains("--node-id 7", restored.Out);
        Assert.Equal(30, range.Count);
        Assert.Equal("v3", range.Kvs.Single(k => k.Key.ToStringUtf8() == "s3").Value.ToStringUtf8());
        Assert.Equal(sourceHash.Hash, hash.Hash);
        Assert.Single(past.Kvs);
        Assert.Equal(revision + 1, put.Header.Revision);
        Assert.True(File.Exists(Path.Combine(data, "restore.akvs.installed")));
        Assert.False(File.Exists(Path.Combine(data, "restore.akvs")));
    }

    [Fact]
    public async Task Restore_IntoADirectoryThatIsNotEmpty_IsRefusedNamingIt()
    {
        using var dir = new TempDirectory();
        await PutAsync(2);
        var file = dir.File("backup.snap");
        await File.WriteAllTextAsync(dir.File("something"), "x");
        await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "save", file);

        var restored = await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "restore", file, "--data-dir", dir.Path);

        Assert.Equal(ExitCodes.Rejected, restored.Code);
        Assert.Contains($"{dir.Path} is not empty", restored.Error);
    }

    [Fact]
    public async Task StartOnADirectoryWithAJournalAndARestoreImage_IsRefusedAndChangesNothing()
    {
        using var dir = new TempDirectory();
        await PutAsync(2);
        var file = dir.File("backup.snap");
        await EtcdCliIntegrationTests.RunAt(Endpoint, null, "snapshot", "save", file);
        var data = _cluster.Options[0].DataDir;
        await _cluster.StopNodeAsync(0);
        File.Copy(file, Path.Combine(data, "restore.akvs"));

        var error = await Assert.ThrowsAsync<KvCluster.Node.Hosting.NodeDataException>(() => _cluster.StartNodeAsync(0));

        Assert.Contains("restore image", error.Message);
        Assert.Contains("already holds", error.Message);
        Assert.True(File.Exists(Path.Combine(data, "restore.akvs")));
    }

    private static async Task<RangeResponse> ReadWhenServedAsync(KV.KVClient kv, RangeRequest request)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                return await kv.RangeAsync(request, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)));
            }
            catch (RpcException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(200);
        return true;
    }

    /// <summary>Puts keys s0..s{count-1} through the gRPC API and returns the store revision after the last.</summary>
    private async Task<long> PutAsync(int count)
    {
        var kv = new KV.KVClient(_cluster.Channel());
        long revision = 0;
        for (var i = 0; i < count; i++)
        {
            var put = await kv.PutAsync(new PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8($"s{i}"), Value = Google.Protobuf.ByteString.CopyFromUtf8($"v{i}") }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)));
            revision = put.Header.Revision;
        }

        return revision;
    }

    private static async Task<(int Code, string Out, string Error)> EtcdctlAsync(params string[] args)
    {
        var info = new ProcessStartInfo("etcdctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["ETCDCTL_API"] = "3";
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("etcdctl did not start (apt-get install etcd-client)");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await output, await error);
    }
}
