using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.SBR;
using Akka.Event;
using KvCluster.Client.Cli;
using KvCluster.Pbm;
using KvCluster.Tests.Cmd;
using KvCluster.Tests.Node;
using Lighthouse;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

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
        await using var a = await AkkaClusterNode.StartAsync(AkkaClusterNode.FastConfig(seed));
        await using var b = await AkkaClusterNode.StartAsync(AkkaClusterNode.FastConfig(seed));
        await using var c = await AkkaClusterNode.StartAsync(AkkaClusterNode.FastConfig(seed));
        var nodes = new[] { a, b, c };

        await AkkaClusterNode.AwaitAsync(() => nodes.All(n => n.UpCount == 4) && lighthouse.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 4, "four members Up everywhere", null, nodes);
        var (code, output, error) = await ClusterPaletteTests.KvPbmAsync("pbm", $"127.0.0.1:{lighthouse.CommandHost.LocalEndPoint!.Port}", "cluster", "show");

        Assert.Equal((ExitCodes.Success, string.Empty), (code, error));
        var lines = output.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal("4 members, 4 up, 0 unreachable", lines[^1]);
        Assert.Contains(lines, l => l.StartsWith(seed, StringComparison.Ordinal) && l.Contains("| lighthouse |", StringComparison.Ordinal));
        Assert.Equal(3, lines.Count(l => l.Contains("| kv ", StringComparison.Ordinal) && l.EndsWith("| Up | Reachable", StringComparison.Ordinal)));

        await host.StopAsync();

        Assert.True(lighthouse.Cluster.IsTerminated);
        Assert.True(lighthouse.System.WhenTerminated.IsCompleted);
        await AkkaClusterNode.AwaitAsync(() => nodes.All(n => n.HasEvent<ClusterEvent.MemberRemoved>(e => e.Member.Address.ToString() == seed && e.PreviousStatus == MemberStatus.Exiting)), "the lighthouse removed after a graceful leave", null, nodes);
    }

    [Fact]
    public async Task Lighthouse_Started_KeepMajorityResolverDistributedPubSubAndAkkaLogInMicrosoftLogging()
    {
        var logs = new LogCollector();
        using var host = LighthouseProgram.CreateHost(new LighthouseSettings { ActorSystem = "kvtest", Port = 0, PbmPort = 0 }, configureLogging: l => l.ClearProviders().AddProvider(logs));
        await host.StartAsync();
        try
        {
            var lighthouse = host.Services.GetRequiredService<LighthouseService>();
            var config = lighthouse.System.Settings.Config;

            Assert.Equal(typeof(SplitBrainResolverProvider), lighthouse.Cluster.Settings.DowningProviderType);
            Assert.Equal(ClusterDefaults.Strategy, config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
            Assert.Equal(ClusterDefaults.StableAfter, config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
            Assert.True(config.GetBoolean("akka.cluster.split-brain-resolver.down-all-when-unstable"));
            Assert.Equal(["lighthouse"], lighthouse.Cluster.SelfRoles);
            var mediator = await lighthouse.System.ActorSelection("/system/distributedPubSubMediator").Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(10));
            Assert.NotNull(mediator.Subject);
            await AkkaClusterNode.AwaitAsync(() => lighthouse.Cluster.State.Members.Any(m => m.Status == MemberStatus.Up), "the lighthouse Up in its own cluster");

            lighthouse.System.Log.Info("routed {0}", "through MEL");
            await AkkaClusterNode.AwaitAsync(() => logs.Messages.Any(m => m.Contains("routed through MEL", StringComparison.Ordinal)), "Akka's log line in Microsoft.Extensions.Logging");
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Lighthouse_DownedByAMember_ActorSystemTerminatesAndTheHostStops()
    {
        using var host = LighthouseProgram.CreateHost(new LighthouseSettings { ActorSystem = "kvtest", Port = 0, PbmPort = 0 }, configureLogging: l => l.ClearProviders());
        await host.StartAsync();
        try
        {
            var lighthouse = host.Services.GetRequiredService<LighthouseService>();
            var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            var seed = lighthouse.Cluster.SelfAddress;
            await using var node = await AkkaClusterNode.StartAsync(AkkaClusterNode.FastConfig(seed.ToString()));
            await AkkaClusterNode.AwaitAsync(() => node.UpCount == 2, "the node and the lighthouse Up", null, node);
            await using var pbm = new CommandHost(node.System, new CommandHostSettings { Port = 0 }).RegisterDefaultPalettes();

            var down = await pbm.ExecuteAsync($"cluster down {seed}");

            Assert.Equal(CommandStatus.Ok, down.Status);
            await AkkaClusterNode.AwaitAsync(() => lighthouse.System.WhenTerminated.IsCompleted && stopping.IsCancellationRequested, "the lighthouse's system terminated and its host stopping");
            await AkkaClusterNode.AwaitAsync(() => node.HasEvent<ClusterEvent.MemberRemoved>(e => e.Member.Address.Equals(seed)), "the lighthouse removed", null, node);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task LighthouseProcess_Sigterm_LeavesTheClusterAndExitsZero()
    {
        var ports = NodeTestSupport.FreePorts(2);
        var (port, pbmPort) = (ports[0], ports[1]);
        using var process = StartLighthouseProcess("--system", "kvtest", "--port", port.ToString(), "--pbm-port", pbmPort.ToString());
        try
        {
            var seed = $"akka.tcp://kvtest@127.0.0.1:{port}";
            await using var node = await AkkaClusterNode.StartAsync(AkkaClusterNode.FastConfig(seed));
            await AkkaClusterNode.AwaitAsync(() => node.UpCount == 2, "the node and the lighthouse Up", null, node);
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
            Assert.StartsWith("akka.tcp://kvtest@127.0.0.1:", output);
            await AkkaClusterNode.AwaitAsync(() => node.HasEvent<ClusterEvent.MemberRemoved>(e => e.Member.Address.ToString() == seed && e.PreviousStatus == MemberStatus.Exiting), "the lighthouse left gracefully", null, node);
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
        info.ArgumentList.Add(LighthouseDll());
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

    /// <summary>Collects every formatted log message of the host.</summary>
    private sealed class LogCollector : ILoggerProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Collector(Messages);

        public void Dispose()
        {
        }

        private sealed class Collector(System.Collections.Concurrent.ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue(formatter(state, exception));
        }
    }

    /// <summary>
    /// lighthouse.dll in the lighthouse project's own build output, as scripts and the Dockerfile run it: the copy
    /// beside the tests runs with the tests' dependency set, which leaves out what the ASP.NET Core framework of the
    /// test host provides (Akka.Hosting's health-check packages).
    /// </summary>
    private static string LighthouseDll()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        for (var dir = output; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AkkaKv.sln")))
            {
                // .../KvCluster.Tests/bin/<Configuration>/<tfm>/ -> .../lighthouse/bin/<Configuration>/<tfm>/lighthouse.dll
                var dll = Path.Combine(dir.FullName, "lighthouse", "bin", output.Parent!.Name, output.Name, "lighthouse.dll");
                Assert.True(File.Exists(dll), $"{dll} is missing: build the lighthouse project");
                return dll;
            }
        }

        throw new InvalidOperationException($"No AkkaKv.sln above {AppContext.BaseDirectory}.");
    }
}
