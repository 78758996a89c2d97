using KvCluster.Tests.Persistence;
using System.Diagnostics;
using System.Text;
using KvCluster.Client;
using KvCluster.Client.Protocol;

namespace KvCluster.Tests.Node;

/// <summary>
/// The node executable as a real child process: SIGTERM stops it in order (also during start-up), SIGKILL loses no
/// acknowledged write, a second process on the same data directory is refused with exit 3 naming the holder's pid.
/// </summary>
[Trait("Category", "Integration")]
public sealed class NodeProcessTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Sigterm_StopsInOrderWithExitZero_AndARestartHasEveryWrite()
    {
        using var data = new TempDirectory();
        var port = NodeTestSupport.FreePort();
        using (var node = StartNode(port, data.Path))
        {
            await using var client = await ConnectAsync(port);
            for (var i = 0; i < 10; i++)
            {
                await client.PutAsync(Bytes($"k{i}"), Bytes($"v{i}"));
            }

            Assert.Equal(0, Signal(node.Id, 15));
            Assert.True(node.WaitForExit((int)s_wait.TotalMilliseconds), "the node did not exit within 30 s of SIGTERM");
            Assert.Equal(0, node.ExitCode);
            Assert.Contains("stopped; the journal is closed", await node.StandardOutput.ReadToEndAsync());
        }

        using var restarted = StartNode(port, data.Path);
        try
        {
            await using var again = await ConnectAsync(port);
            var range = await again.RangeAsync(new RangeRequest { Prefix = Google.Protobuf.ByteString.CopyFromUtf8("k") });
            Assert.Equal(10, range.Count);
        }
        finally
        {
            restarted.Kill();
        }
    }

    [Fact]
    public async Task Sigkill_AfterAcknowledgedWrites_ARestartHasEveryAcknowledgedWrite()
    {
        using var data = new TempDirectory();
        var port = NodeTestSupport.FreePort();
        var acknowledged = new List<string>();
        using (var node = StartNode(port, data.Path))
        {
            await using var client = await ConnectAsync(port);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            var writers = Enumerable.Range(0, 8).Select(async w =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var key = $"w{w}-{i}";
                    await client.PutAsync(Bytes(key), Bytes("x"));
                    lock (acknowledged)
                    {
                        acknowledged.Add(key);
                    }
                }
            }).ToArray();
            await Task.WhenAll(writers);
            node.Kill();
            node.WaitForExit();
        }

        using var restarted = StartNode(port, data.Path);
        try
        {
            await using var again = await ConnectAsync(port);
            var range = await again.RangeAsync(new RangeRequest { Prefix = Google.Protobuf.ByteString.CopyFromUtf8("w"), KeysOnly = true });
            var present = range.Kvs.Select(kv => kv.Key.ToStringUtf8()).ToHashSet();
            Assert.NotEmpty(acknowledged);
            Assert.All(acknowledged, key => Assert.Contains(key, present));
        }
        finally
        {
            restarted.Kill();
        }
    }

    [Fact]
    public async Task SecondProcess_OnTheSameDataDirectory_ExitsThreeNamingTheDirectoryAndThePid()
    {
        using var data = new TempDirectory();
        using var first = StartNode(NodeTestSupport.FreePort(), data.Path);
        try
        {
            await using (await ConnectAsync(PortOf(first)))
            {
                // The first node serves: it holds the directory.
            }

            using var second = StartNode(NodeTestSupport.FreePort(), data.Path);
            Assert.True(second.WaitForExit((int)s_wait.TotalMilliseconds), "the second node did not exit");
            var output = await second.StandardOutput.ReadToEndAsync();

            Assert.Equal(3, second.ExitCode);
            Assert.Contains(Path.GetFullPath(data.Path), output);
            Assert.Contains($"pid {first.Id}", output);
        }
        finally
        {
            first.Kill();
            first.WaitForExit();
        }
    }

    [Fact]
    public async Task Sigterm_DuringStartUp_ExitsZeroInOrderWithoutAnUnhandledException()
    {
        using var data = new TempDirectory();
        using var node = StartNode(NodeTestSupport.FreePort(), data.Path);
        var started = await WaitForLineAsync(node, "Starting up");

        Assert.True(started, "the node never started its actor system");
        Assert.Equal(0, Signal(node.Id, 15));
        Assert.True(node.WaitForExit((int)s_wait.TotalMilliseconds), "the node did not exit within 30 s of SIGTERM");
        var rest = await node.StandardOutput.ReadToEndAsync() + await node.StandardError.ReadToEndAsync();
        Assert.Equal(0, node.ExitCode);
        Assert.DoesNotContain("Unhandled exception", rest);
        Assert.DoesNotContain("OperationCanceledException", rest);
    }

    [Fact]
    public async Task PortInUse_ExitsFour()
    {
        using var data = new TempDirectory();
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            using var node = StartNode(((System.Net.IPEndPoint)listener.LocalEndpoint).Port, data.Path);

            Assert.True(node.WaitForExit((int)s_wait.TotalMilliseconds));
            Assert.Equal(4, node.ExitCode);
            Assert.Contains("in use", await node.StandardOutput.ReadToEndAsync());
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public void BadFlag_ExitsTwoWithOneLineNamingIt()
    {
        using var node = Start("--port", "abc");

        Assert.True(node.WaitForExit((int)s_wait.TotalMilliseconds));
        Assert.Equal(2, node.ExitCode);
        Assert.StartsWith("akkakv-node: error: ", node.StandardError.ReadLine());
    }

    /// <summary>Reads standard output until a line holds <paramref name="text"/> (true) or the output ends (false).</summary>
    private static async Task<bool> WaitForLineAsync(Process process, string text)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static int PortOf(Process process) => int.Parse(process.StartInfo.ArgumentList[2], System.Globalization.CultureInfo.InvariantCulture);

    private static Process StartNode(int port, string dataDir) =>
        Start("--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", dataDir, "--pbm-port", "0", "--client-port", "0", "--tick-ms", "20");

    private static Process Start(params string[] args)
    {
        var dll = NodeDll();
        var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info)!;
    }

    /// <summary>
    /// The node from its own build output (its deps.json and runtimeconfig are complete there; the test output's
    /// dependency set is the test project's), else the copy beside the tests.
    /// </summary>
    private static string NodeDll()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory);
        var framework = baseDir.Name;
        var configuration = baseDir.Parent?.Name ?? "Release";
        var root = baseDir.Parent?.Parent?.Parent?.Parent?.FullName;
        var own = root is null ? null : Path.Combine(root, "KvCluster.Node", "bin", configuration, framework, "KvCluster.Node.dll");
        return own is not null && File.Exists(own) ? own : Path.Combine(AppContext.BaseDirectory, "KvCluster.Node.dll");
    }

    private static async Task<KvClient> ConnectAsync(int port)
    {
        var deadline = DateTime.UtcNow + s_wait;
        while (true)
        {
            try
            {
                var client = await KvClient.ConnectAsync(new KvClientOptions { Endpoints = [new KvEndpoint("127.0.0.1", port)], RequestTimeout = TimeSpan.FromSeconds(10), AkkaConfig = NodeTestSupport.TestHocon });
                // A linearizable read answers only once the node leads (or knows a leader).
                await client.GetAsync(Bytes("probe"));
                return client;
            }
            catch (KvUnavailableException) when (DateTime.UtcNow < deadline)
            {
                // The process is still starting.
            }
        }
    }

    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return current;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Sends a signal with kill(1); returns its exit code.</summary>
    private static int Signal(int pid, int signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        return kill.ExitCode;
    }
}
