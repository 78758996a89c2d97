using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KvCluster.Tests.Client;

/// <summary>
/// A real single-member etcd started on loopback ports chosen by the test, with its data in a
/// temporary directory (fsync on). Requires <c>etcd</c> on PATH (Debian: <c>etcd-server</c>);
/// when it is missing, <see cref="Require"/> fails the test with a message saying how to install it.
/// </summary>
public sealed class EtcdProcess : IAsyncLifetime
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);
    private readonly Queue<string> _log = new();
    private Process? _process;
    private string? _dataDir;
    private string? _failure;

    /// <summary>True when etcd logged that it serves clients; false when it exited first.</summary>
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The client port (http://127.0.0.1:port).</summary>
    public int ClientPort { get; private set; }

    /// <summary>The client endpoint as host:port.</summary>
    public string Endpoint => $"127.0.0.1:{ClientPort}";

    /// <summary>Fails the calling test unless etcd started.</summary>
    public void Require()
    {
        if (_failure is not null)
        {
            Assert.Fail(_failure);
        }
    }

    public async Task InitializeAsync()
    {
        var etcd = FindOnPath("etcd");
        if (etcd is null)
        {
            _failure = "etcd is not on PATH: these integration tests need a real etcd. Install it with " +
                "`apt-get install -y etcd-server` (Debian bookworm: 3.4.23); .ci/run must install it.";
            return;
        }

        ClientPort = FreeLoopbackPort();
        var peerPort = FreeLoopbackPort();
        _dataDir = Path.Combine(Path.GetTempPath(), "kv-etcd-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dataDir);
        var client = $"http://127.0.0.1:{ClientPort}";
        var peer = $"http://127.0.0.1:{peerPort}";
        var start = new ProcessStartInfo(etcd)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--name", "t1", "--data-dir", _dataDir,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", $"t1={peer}", "--initial-cluster-state", "new",
            "--logger", "zap", "--log-outputs", "stderr", "--log-level", "info",
        })
        {
            start.ArgumentList.Add(arg);
        }

        // etcd logs "serving client traffic" once it is ready (embed/serve.go waits on ReadyNotify
        // first); exiting during start-up completes the wait too. No polling.
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.ErrorDataReceived += (_, e) => Remember(e.Data);
        _process.OutputDataReceived += (_, e) => Remember(e.Data);
        _process.Exited += (_, _) => _ready.TrySetResult(false);
        _process.Start();
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();

        bool ready;
        try
        {
            ready = await _ready.Task.WaitAsync(s_startTimeout);
        }
        catch (TimeoutException)
        {
            _failure = $"etcd did not become ready within {s_startTimeout.TotalSeconds} s: {string.Join(" | ", Log())}";
            return;
        }

        if (!ready)
        {
            await _process.WaitForExitAsync();
            _failure = $"etcd exited with code {_process.ExitCode} during start-up: {string.Join(" | ", Log())}";
            return;
        }

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
        var health = await http.GetStringAsync($"{client}/health");
        if (!health.Contains("\"health\":\"true\"", StringComparison.Ordinal))
        {
            _failure = $"etcd reported itself ready but /health answered {health}";
        }
    }

    public async Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(cts.Token);
        }

        _process?.Dispose();
        if (_dataDir is not null && Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }

    /// <summary>A loopback port that nothing listens on at the moment of the call.</summary>
    internal static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.Contains("\"msg\":\"serving client traffic", StringComparison.Ordinal))
        {
            _ready.TrySetResult(true);
        }

        lock (_log)
        {
            _log.Enqueue(line);
            if (_log.Count > 20)
            {
                _log.Dequeue();
            }
        }
    }

    private string[] Log()
    {
        lock (_log)
        {
            return [.. _log];
        }
    }
}
