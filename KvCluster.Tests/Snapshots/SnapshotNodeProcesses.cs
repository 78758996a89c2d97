using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;
using KvCluster.Tests.Node;
using KvCluster.Tests.Persistence;

namespace KvCluster.Tests.Snapshots;

/// <summary>
/// AkkaKv node executables as real child processes for the snapshot cluster specs: a static Raft group on free loopback
/// ports, each node with its etcd client port; start, SIGTERM, SIGKILL, a joiner; etcd gRPC clients; bounded polling.
/// Each process's output is drained into a buffer (a full pipe would block the node) that a spec can search.
/// </summary>
internal sealed class SnapshotNodeProcesses : IAsyncDisposable
{
    /// <summary>How long any one wait of a spec may take.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private readonly TempDirectory _data = new();
    private readonly List<Node> _nodes = new();
    private readonly string[] _extraArgs;

    private SnapshotNodeProcesses(string[] extraArgs)
    {
        _extraArgs = extraArgs;
    }

    /// <summary>The number of nodes configured (started or not).</summary>
    public int Count => _nodes.Count;

    /// <summary>Configures <paramref name="size"/> nodes of one Raft group and starts them; <paramref name="extraArgs"/> go to every node.</summary>
    public static SnapshotNodeProcesses Start(int size, params string[] extraArgs)
    {
        var cluster = new SnapshotNodeProcesses(extraArgs);
        var ports = NodeTestSupport.FreePorts(size * 2);
        for (var i = 0; i < size; i++)
        {
            cluster._nodes.Add(new Node((ulong)(i + 1), ports[i], ports[size + i], Path.Combine(cluster._data.Path, $"n{i + 1}")));
        }

        for (var i = 0; i < size; i++)
        {
            cluster.StartNode(i);
        }

        return cluster;
    }

    /// <summary>The data directory of node <paramref name="index"/>.</summary>
    public string DataDir(int index) => _nodes[index].DataDir;

    /// <summary>The process of node <paramref name="index"/> (null when stopped).</summary>
    public Process? ProcessOf(int index) => _nodes[index].Process;

    /// <summary>Everything node <paramref name="index"/> printed so far (all its incarnations).</summary>
    public string Output(int index) => string.Join('\n', _nodes[index].Lines);

    /// <summary>host:port of node <paramref name="index"/>'s client port.</summary>
    public string ClientEndpoint(int index) => $"127.0.0.1:{_nodes[index].ClientPort}";

    /// <summary>Starts (or restarts on the same data) node <paramref name="index"/>.</summary>
    public void StartNode(int index, bool join = false)
    {
        var node = _nodes[index];
        var peers = string.Join(",", _nodes.Select(n => $"{n.Id}=127.0.0.1:{n.Port}"));
        string[] args =
        [
            "--node-id", node.Id.ToString(CultureInfo.InvariantCulture),
            "--port", node.Port.ToString(CultureInfo.InvariantCulture),
            "--client-port", node.ClientPort.ToString(CultureInfo.InvariantCulture),
            "--pbm-port", "0",
            "--data-dir", node.DataDir,
            "--peers", peers,
            "--tick-ms", "50",
            .. join ? ["--join", "true"] : Array.Empty<string>(),
            .. _extraArgs,
        ];
        var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(NodeDll());
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => node.Add(e.Data);
        process.ErrorDataReceived += (_, e) => node.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        node.Process = process;
    }

    /// <summary>Adds a node started with --join (the membership follower makes it a learner, then a voter); returns its index.</summary>
    public int StartJoiner()
    {
        var ports = NodeTestSupport.FreePorts(2);
        var index = _nodes.Count;
        _nodes.Add(new Node((ulong)(index + 1), ports[0], ports[1], Path.Combine(_data.Path, $"n{index + 1}")));
        StartNode(index, join: true);
        return index;
    }

    /// <summary>SIGTERM, then waits for the exit; returns the exit code.</summary>
    public async Task<int> StopNodeAsync(int index)
    {
        var process = _nodes[index].Process ?? throw new InvalidOperationException($"node {index + 1} is not running");
        using (var kill = Process.Start("kill", ["-15", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        return await ExitOfAsync(index);
    }

    /// <summary>SIGKILL, then waits for the exit.</summary>
    public async Task KillNodeAsync(int index)
    {
        var process = _nodes[index].Process ?? throw new InvalidOperationException($"node {index + 1} is not running");
        process.Kill();
        await ExitOfAsync(index);
    }

    /// <summary>Waits (bounded) for node <paramref name="index"/>'s process to exit and returns its exit code.</summary>
    public async Task<int> ExitOfAsync(int index)
    {
        var process = _nodes[index].Process ?? throw new InvalidOperationException($"node {index + 1} was never started");
        using var limit = new CancellationTokenSource(Wait);
        await process.WaitForExitAsync(limit.Token);
        _nodes[index].Process = null;
        var code = process.ExitCode;
        process.Dispose();
        return code;
    }

    /// <summary>A gRPC channel to node <paramref name="index"/>'s client port (cached).</summary>
    public GrpcChannel Channel(int index) =>
        _nodes[index].Channel ??= GrpcChannel.ForAddress($"http://{ClientEndpoint(index)}", new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });

    /// <summary>A deadline for one call.</summary>
    public static CallOptions Call(int seconds = 10) => new(deadline: DateTime.UtcNow.AddSeconds(seconds));

    /// <summary>Node <paramref name="index"/>'s etcd status, or null when it does not answer.</summary>
    public async Task<StatusResponse?> TryStatusAsync(int index)
    {
        try
        {
            return await new Maintenance.MaintenanceClient(Channel(index)).StatusAsync(new StatusRequest(), Call(5));
        }
        catch (RpcException)
        {
            return null;
        }
    }

    /// <summary>Waits until a running node reports itself leader; returns its index.</summary>
    public async Task<int> AwaitLeaderAsync(params int[] excluding)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            for (var i = 0; i < _nodes.Count; i++)
            {
                if (_nodes[i].Process is null || excluding.Contains(i))
                {
                    continue;
                }

                if (await TryStatusAsync(i) is { } status && status.Leader == _nodes[i].Id && status.Errors.Count == 0)
                {
                    return i;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"no leader among the running nodes within {Wait.TotalSeconds} s");
            await Task.Delay(100);
        }
    }

    /// <summary>Polls <paramref name="condition"/> on node <paramref name="index"/>'s status until it holds (bounded); returns that status.</summary>
    public async Task<StatusResponse> AwaitStatusAsync(int index, Func<StatusResponse, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            if (await TryStatusAsync(index) is { } status && condition(status))
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"node {index + 1}: {what} did not happen within {Wait.TotalSeconds} s");
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// Puts <paramref name="count"/> distinct keys (<paramref name="prefix"/>0..) of <paramref name="valueBytes"/> bytes with
    /// <paramref name="writers"/> concurrent callers, each put its own Raft entry, through node <paramref name="target"/>
    /// (its router forwards to the leader). A failed put is retried (bounded by <see cref="Wait"/>) until
    /// <paramref name="stop"/> is cancelled; every acknowledged key goes into <paramref name="acknowledged"/> when given.
    /// Returns the highest revision acknowledged.
    /// </summary>
    /// <param name="batch">Keys per request: above 1, each request is one txn of that many puts (one Raft entry, one revision).</param>
    public async Task<long> PutManyAsync(int target, string prefix, int count, int writers = 64, int valueBytes = 64, ConcurrentBag<string>? acknowledged = null, CancellationToken stop = default, int batch = 1)
    {
        var kv = new KV.KVClient(Channel(target));
        long revision = 0;
        var next = -1;
        var value = ByteString.CopyFrom(new byte[valueBytes]);
        var tasks = Enumerable.Range(0, writers).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) * batch < count && !stop.IsCancellationRequested)
            {
                var keys = Enumerable.Range(i * batch, Math.Min(batch, count - (i * batch))).Select(k => $"{prefix}{k}").ToList();
                var deadline = DateTime.UtcNow + Wait;
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        var options = new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: stop);
                        long written;
                        if (keys.Count == 1)
                        {
                            written = (await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(keys[0]), Value = value }, options)).Header.Revision;
                        }
                        else
                        {
                            var txn = new TxnRequest();
                            txn.Success.AddRange(keys.Select(k => new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(k), Value = value } }));
                            written = (await kv.TxnAsync(txn, options)).Header.Revision;
                        }

                        foreach (var key in keys)
                        {
                            acknowledged?.Add(key);
                        }

                        long seen;
                        while ((seen = Interlocked.Read(ref revision)) < written && Interlocked.CompareExchange(ref revision, written, seen) != seen)
                        {
                        }

                        break;
                    }
                    catch (RpcException) when (!stop.IsCancellationRequested && DateTime.UtcNow < deadline)
                    {
                        await Task.Delay(100, CancellationToken.None);
                    }
                    catch (RpcException) when (stop.IsCancellationRequested)
                    {
                        return;
                    }
                }
            }
        });
        await Task.WhenAll(tasks);
        return revision;
    }

    /// <summary>Node <paramref name="index"/>'s HashKV at <paramref name="revision"/>, or null when it cannot answer yet.</summary>
    public async Task<uint?> TryHashAsync(int index, long revision)
    {
        try
        {
            return (await new Maintenance.MaintenanceClient(Channel(index)).HashKVAsync(new HashKVRequest { Revision = revision }, Call(30))).Hash;
        }
        catch (RpcException e)
        {
            _nodes[index].LastError = $"{e.StatusCode}: {e.Status.Detail}";
            return null;
        }
    }

    /// <summary>
    /// Waits until node <paramref name="index"/>'s HashKV at <paramref name="revision"/> equals node
    /// <paramref name="reference"/>'s, both read in the same round (the hash covers the compaction point, which the
    /// leader's automatic compaction moves, so a value read once goes stale).
    /// </summary>
    public async Task AwaitSameHashAsync(int index, int reference, long revision)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var mine = await TryHashAsync(index, revision);
            var theirs = await TryHashAsync(reference, revision);
            if (mine is not null && mine == theirs)
            {
                return;
            }

            Assert.True(
                DateTime.UtcNow < deadline,
                $"node {index + 1}: HashKV at revision {revision} is {mine?.ToString(CultureInfo.InvariantCulture) ?? $"unavailable ({_nodes[index].LastError})"}, node {reference + 1}'s " +
                $"{theirs?.ToString(CultureInfo.InvariantCulture) ?? $"unavailable ({_nodes[reference].LastError})"}, after {Wait.TotalSeconds} s; node {index + 1}'s last lines:\n" +
                string.Join('\n', _nodes[index].Lines.TakeLast(15)));
            await Task.Delay(250);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // KV_TEST_LOGS_DIR=/some/dir keeps every node's output there (node1.log, ...) for a failure's post-mortem.
        if (Environment.GetEnvironmentVariable("KV_TEST_LOGS_DIR") is { Length: > 0 } dump)
        {
            Directory.CreateDirectory(dump);
            for (var i = 0; i < _nodes.Count; i++)
            {
                File.WriteAllText(Path.Combine(dump, $"node{i + 1}.log"), Output(i));
            }
        }

        foreach (var node in _nodes)
        {
            node.Channel?.Dispose();
            if (node.Process is { } process)
            {
                try
                {
                    process.Kill();
                    await process.WaitForExitAsync();
                }
                catch (InvalidOperationException)
                {
                    // Exited already.
                }

                process.Dispose();
            }
        }

        _data.Dispose();
    }

    /// <summary>The node from its own build output, else the copy beside the tests (as NodeProcessTests does).</summary>
    private static string NodeDll()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory);
        var root = baseDir.Parent?.Parent?.Parent?.Parent?.FullName;
        var own = root is null ? null : Path.Combine(root, "KvCluster.Node", "bin", baseDir.Parent!.Name, baseDir.Name, "KvCluster.Node.dll");
        return own is not null && File.Exists(own) ? own : Path.Combine(AppContext.BaseDirectory, "KvCluster.Node.dll");
    }

    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase)
            ? current
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
    }

    private sealed class Node(ulong id, int port, int clientPort, string dataDir)
    {
        private const int KeptLines = 4000;

        public ulong Id { get; } = id;

        public int Port { get; } = port;

        public int ClientPort { get; } = clientPort;

        public string DataDir { get; } = dataDir;

        public Process? Process { get; set; }

        public GrpcChannel? Channel { get; set; }

        public string? LastError { get; set; }

        public ConcurrentQueue<string> Lines { get; } = new();

        public void Add(string? line)
        {
            if (line is null)
            {
                return;
            }

            Lines.Enqueue(line);
            while (Lines.Count > KeptLines && Lines.TryDequeue(out _))
            {
            }
        }
    }
}
