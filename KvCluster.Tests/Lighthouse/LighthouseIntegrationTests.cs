using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KvCluster.Actors.Cluster;
using KvCluster.Client.Cli;
using KvCluster.Tests.Cluster;
using KvCluster.Tests.Cmd;
using Lighthouse;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KvCluster.Tests.Lighthouse;

/// <summary>A real lighthouse (in-process on the Generic Host, or as a child process) with nodes joining through it.</summary>
[Trait("Category", "Integration")]
public sealed class LighthouseIntegrationTests
{
    [Fact]
    public async Task Lighthouse_ThreeNodesJoinThroughIt_FourMembersUpShownByItsPbmHostThenItLeavesOnStop()
    {
        using var host = LighthouseProgram.CreateHost(new LighthouseSettings { ActorSystem = "kvtest", Port = 0, PbmPort = 0 }, configureLogging: l => l.ClearProviders());
        await host.StartAsync();
        var lighthouse = host.Services.GetRequiredService<LighthouseService>();
        var seed = lighthouse.Cluster.SelfAddress.ToString();
        await using var a = await ClusterTestNode.StartAsync(_ => ClusterTestNode.FastSettings(seed));
        await using var b = await ClusterTestNode.StartAsync(_ => ClusterTestNode.FastSettings(seed));
        await using var c = await ClusterTestNode.StartAsync(_ => ClusterTestNode.FastSettings(seed));
        var nodes = new[] { a, b, c };

        await ClusterTestNode.AwaitAsync(() => nodes.All(n => n.UpCount == 4) && lighthouse.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 4, "four members Up everywhere", null, nodes);
        var (code, output, error) = await ClusterPaletteTests.KvPbmAsync("pbm", $"127.0.0.1:{lighthouse.CommandHost.LocalEndPoint!.Port}", "cluster", "show");

        Assert.Equal((ExitCodes.Success, string.Empty), (code, error));
        var lines = output.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal("4 members, 4 up, 0 unreachable", lines[^1]);
        Assert.Contains(lines, l => l.StartsWith(seed, StringComparison.Ordinal) && l.Contains("| lighthouse |", StringComparison.Ordinal));
        Assert.Equal(3, lines.Count(l => l.Contains("| kv ", StringComparison.Ordinal) && l.EndsWith("| Up | Reachable", StringComparison.Ordinal)));

        await host.StopAsync();

        Assert.True(lighthouse.Cluster.IsTerminated);
        await ClusterTestNode.AwaitAsync(() => nodes.All(n => n.HasEvent<MemberRemoved>(e => e.Member.Address.ToString() == seed && e.PreviousStatus == MemberStatus.Exiting)), "the lighthouse removed after a graceful leave", null, nodes);
    }

    [Fact]
    public async Task LighthouseProcess_Sigterm_LeavesTheClusterAndExitsZero()
    {
        var port = FreePort();
        var pbmPort = FreePort();
        using var process = StartLighthouseProcess("--system", "kvtest", "--port", port.ToString(), "--pbm-port", pbmPort.ToString());
        try
        {
            var seed = $"kv://kvtest@127.0.0.1:{port}";
            await using var node = await ClusterTestNode.StartAsync(_ => ClusterTestNode.FastSettings(seed));
            await ClusterTestNode.AwaitAsync(() => node.UpCount == 2, "the node and the lighthouse Up", null, node);
            var (code, output, _) = await ClusterPaletteTests.KvPbmAsync("pbm", $"127.0.0.1:{pbmPort}", "cluster", "leader");
            Assert.Equal(ExitCodes.Success, code);

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()]))
            {
                await kill.WaitForExitAsync();
                Assert.Equal(0, kill.ExitCode);
            }

            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exited.Token);

            Assert.Equal(0, process.ExitCode);
            Assert.StartsWith("kv://kvtest@127.0.0.1:", output);
            await ClusterTestNode.AwaitAsync(() => node.HasEvent<MemberRemoved>(e => e.Member.Address.ToString() == seed && e.PreviousStatus == MemberStatus.Exiting), "the lighthouse left gracefully", null, node);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    [Fact]
    public async Task LighthouseProcess_InvalidEnvironment_ExitsTwoNamingTheSetting()
    {
        using var process = StartLighthouseProcess(new Dictionary<string, string> { ["CLUSTER_PORT"] = "forty" });
        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var stderr = await process.StandardError.ReadToEndAsync(exited.Token);
        await process.WaitForExitAsync(exited.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.StartsWith("lighthouse: error: setting CLUSTER_PORT (--port) is invalid: 'forty' (from the environment)", stderr);
    }

    private static Process StartLighthouseProcess(params string[] args) => StartLighthouseProcess(new Dictionary<string, string>(), args);

    private static Process StartLighthouseProcess(Dictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lighthouse.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var name in new[] { "ACTORSYSTEM", "CLUSTER_IP", "CLUSTER_PORT", "CLUSTER_SEEDS", "PBM_HOST", "PBM_PORT" })
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info)!;
        if (environment.Count == 0)
        {
            // Drain the logs so a full pipe never blocks the lighthouse.
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        return process;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
