using System.Diagnostics;
using Grpc.Net.Client;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Etcd;

/// <summary>Real AkkaKv nodes in this process with their client ports on free loopback ports, and clients for them.</summary>
internal static class EtcdTestNodes
{
    /// <summary>Starts <paramref name="size"/> nodes serving etcd's API (with <paramref name="tune"/>'s settings) and waits
    /// for a leader.</summary>
    public static async Task<KvTestCluster> StartAsync(int size = 1, Func<KvCluster.Node.Hosting.NodeOptions, KvCluster.Node.Hosting.NodeOptions>? tune = null)
    {
        var cluster = await KvTestCluster.StartAsync(size, tune: tune, clientPort: true);
        try
        {
            await cluster.AwaitLeaderAsync();
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>The URL of node <paramref name="index"/>'s client port.</summary>
    public static string Url(this KvTestCluster cluster, int index = 0) => $"http://127.0.0.1:{cluster.Options[index].ClientPort}";

    /// <summary>A gRPC channel to node <paramref name="index"/> (cleartext HTTP/2 with prior knowledge, as etcd clients dial).</summary>
    public static GrpcChannel Channel(this KvTestCluster cluster, int index = 0) =>
        GrpcChannel.ForAddress(cluster.Url(index), new GrpcChannelOptions { MaxReceiveMessageSize = 8 * 1024 * 1024, MaxSendMessageSize = 8 * 1024 * 1024 });

    /// <summary>An HTTP/1.1 client for node <paramref name="index"/>'s client port.</summary>
    public static HttpClient Http(this KvTestCluster cluster, int index = 0) =>
        new() { BaseAddress = new Uri(cluster.Url(index)), Timeout = TimeSpan.FromSeconds(30), DefaultRequestVersion = System.Net.HttpVersion.Version11 };

    /// <summary>
    /// Runs Debian's etcdctl 3.4 (API v3) against <paramref name="endpoint"/> unless the arguments name endpoints, with a
    /// 20 s command timeout; kills it after <paramref name="limit"/>.
    /// </summary>
    public static async Task<EtcdctlResult> EtcdctlAsync(string endpoint, string? stdin, TimeSpan limit, params string[] args)
    {
        var info = KvCluster.Tests.Lease.EtcdctlRunner.StartInfo(endpoint, args);

        using var process = Process.Start(info) ?? throw new InvalidOperationException("etcdctl did not start (apt-get install etcd-client)");
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
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
}

/// <summary>What an etcdctl run printed and its exit code.</summary>
internal sealed record EtcdctlResult(int ExitCode, string Output, string Error);
