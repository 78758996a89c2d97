using System.Diagnostics;

namespace KvCluster.Tests.Lighthouse;

/// <summary>The top-level docker-compose.yml: the topology the node host and the lighthouse expect.</summary>
[Trait("Category", "Integration")]
public sealed class ComposeFileTests
{
    private static readonly string s_root = FindRepositoryRoot();

    private static string ComposeFile => Path.Combine(s_root, "docker-compose.yml");

    [Fact]
    public void ComposeFile_NodeServices_CarryTheAgreedEnvironment()
    {
        var text = File.ReadAllText(ComposeFile);

        foreach (var id in new[] { 1, 2, 3 })
        {
            Assert.Contains($"  kv{id}:\n", text);
            Assert.Contains($"      CLUSTER_IP: kv{id}\n", text);
            Assert.Contains($"      AKKAKV_Node__Id: \"{id}\"\n", text);
            Assert.Contains($"      - \"{4053 + id}:4054\"\n", text);
            Assert.Contains($"      - \"127.0.0.1:{9110 + id}:9110\"\n", text);
            Assert.Contains($"      - kv{id}-data:/data\n", text);
        }

        Assert.Equal(4, Count(text, "      CLUSTER_SEEDS: akka.tcp://akkakv@lighthouse:4053\n"));
        Assert.Equal(3, Count(text, "      AKKAKV_Node__Peers: 1=kv1:4054,2=kv2:4054,3=kv3:4054\n"));
        Assert.Equal(3, Count(text, "      CLUSTER_PORT: \"4054\"\n"));
        Assert.Contains("      - \"127.0.0.1:9110:9110\"\n", text);
        Assert.True(File.Exists(Path.Combine(s_root, "KvCluster.Node", "Dockerfile")));
        Assert.True(File.Exists(Path.Combine(s_root, "lighthouse", "Dockerfile")));
    }

    [Fact]
    public async Task ComposeFile_DockerComposeConfig_ValidWithFourServicesAndThreeVolumes()
    {
        if (!File.Exists("/usr/bin/docker-compose"))
        {
            // Validated only where Debian's docker-compose is installed (.ci/run installs it and
            // fails the run itself when validation fails).
            return;
        }

        var (quietCode, _, quietError) = await DockerComposeAsync("config", "-q");
        var (_, services, _) = await DockerComposeAsync("config", "--services");
        var (_, volumes, _) = await DockerComposeAsync("config", "--volumes");

        Assert.True(quietCode == 0, $"docker-compose config -q failed: {quietError}");
        Assert.Equal(["kv1", "kv2", "kv3", "lighthouse"], services.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        Assert.Equal(["kv1-data", "kv2-data", "kv3-data"], volumes.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
    }

    private static async Task<(int Code, string Out, string Error)> DockerComposeAsync(params string[] args)
    {
        var info = new ProcessStartInfo("/usr/bin/docker-compose")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = s_root,
        };
        info.ArgumentList.Add("-f");
        info.ArgumentList.Add(ComposeFile);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    private static int Count(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AkkaKv.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No AkkaKv.sln above {AppContext.BaseDirectory}.");
    }
}
