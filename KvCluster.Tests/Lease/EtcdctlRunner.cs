using System.Diagnostics;

namespace KvCluster.Tests.Lease;

/// <summary>Runs Debian's etcdctl 3.4 (API v3) against given endpoints, bounded in time; or starts it in the background.</summary>
internal sealed class EtcdctlRunner(string endpoints)
{
    /// <summary>The endpoints every command gets unless it names its own.</summary>
    public string Endpoints { get; } = endpoints;

    /// <summary>Runs a command and returns its exit code and output; kills it past <paramref name="limit"/>.</summary>
    public async Task<EtcdctlResult> RunAsync(TimeSpan limit, params string[] args)
    {
        using var process = Start(args);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"etcdctl {string.Join(' ', args)} did not finish within {limit.TotalSeconds} s");
        }

        return new EtcdctlResult(process.ExitCode, await output, await error);
    }

    /// <summary>Runs a command that must succeed within 40 s and returns its standard output.</summary>
    public async Task<string> OkAsync(params string[] args)
    {
        var result = await RunAsync(TimeSpan.FromSeconds(40), args);
        Assert.True(result.ExitCode == 0, $"etcdctl {string.Join(' ', args)} exited {result.ExitCode}: {result.Error}");
        return result.Output;
    }

    /// <summary>Starts a command in the background (the caller kills and disposes it); its input is closed.</summary>
    public Process Start(params string[] args)
    {
        var info = StartInfo(Endpoints, args);

        var process = Process.Start(info) ?? throw new InvalidOperationException("etcdctl did not start (apt-get install etcd-client)");
        process.StandardInput.Close();
        return process;
    }

    /// <summary>
    /// etcdctl 3.4 (API v3) with redirected streams, against <paramref name="endpoints"/> unless the arguments name
    /// endpoints, with a 20 s command timeout: the one way every etcdctl test starts it.
    /// </summary>
    public static ProcessStartInfo StartInfo(string endpoints, string[] args)
    {
        var info = new ProcessStartInfo("etcdctl")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["ETCDCTL_API"] = "3";
        if (!args.Contains("--endpoints"))
        {
            info.ArgumentList.Add("--endpoints");
            info.ArgumentList.Add(endpoints);
        }

        info.ArgumentList.Add("--command-timeout=20s");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    /// <summary>The lease id (hex) in etcdctl's "lease 694d77aa9e38260f granted with TTL(10s)".</summary>
    public static string LeaseIdOf(string grantOutput)
    {
        var match = System.Text.RegularExpressions.Regex.Match(grantOutput, @"^lease ([0-9a-f]{16}) granted with TTL\((\d+)s\)\n$");
        Assert.True(match.Success, $"not etcdctl's grant line: '{grantOutput}'");
        return match.Groups[1].Value;
    }
}

/// <summary>What an etcdctl run printed.</summary>
internal sealed record EtcdctlResult(int ExitCode, string Output, string Error);
