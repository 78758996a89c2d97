using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using KvCluster.Tests.Lease;

namespace KvCluster.Tests.Watch;

/// <summary>
/// A long-running etcdctl 3.4 (watch, lease keep-alive) as a child process: its output lines are queued as they come,
/// its errors kept, and it is killed on dispose. Lines end with null when etcdctl exits.
/// </summary>
internal sealed class EtcdctlLines : IDisposable
{
    private readonly Channel<string?> _lines = Channel.CreateUnbounded<string?>();
    private readonly StringBuilder _errors = new();
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Starts etcdctl with <paramref name="args"/> against <paramref name="endpoints"/>.</summary>
    public EtcdctlLines(string endpoints, params string[] args)
    {
        Process = new Process { StartInfo = EtcdctlRunner.StartInfo(endpoints, args) };
        Process.OutputDataReceived += (_, e) =>
        {
            _lines.Writer.TryWrite(e.Data);
            if (e.Data is null)
            {
                _outputClosed.TrySetResult();
            }
        };
        Process.ErrorDataReceived += (_, e) =>
        {
            lock (_errors)
            {
                _errors.AppendLine(e.Data);
            }
        };
        if (!Process.Start())
        {
            throw new InvalidOperationException("etcdctl did not start (apt-get install etcd-client)");
        }

        Process.StandardInput.Close();
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    /// <summary>The etcdctl process.</summary>
    public Process Process { get; }

    /// <summary>What etcdctl printed on standard error so far.</summary>
    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    /// <summary>The next output line; null when etcdctl ended; throws <see cref="TimeoutException"/> past <paramref name="deadline"/>.</summary>
    public async Task<string?> NextLineAsync(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        using var timeout = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        try
        {
            return await _lines.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"etcdctl {string.Join(' ', Process.StartInfo.ArgumentList)} printed nothing more; its errors: {Errors}");
        }
    }

    /// <summary>Kills etcdctl and waits until its output is read to the end (every line it printed is queued).</summary>
    public async Task StopAsync()
    {
        try
        {
            Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited already.
        }

        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Process.WaitForExitAsync(limit.Token);
        await _outputClosed.Task.WaitAsync(limit.Token);
    }

    /// <summary>The lines queued and not read yet (after <see cref="StopAsync"/>: all the rest).</summary>
    public List<string> Remaining()
    {
        var rest = new List<string>();
        while (_lines.Reader.TryRead(out var line))
        {
            if (line is not null)
            {
                rest.Add(line);
            }
        }

        return rest;
    }

    /// <summary>The value of the first property named <paramref name="name"/> anywhere in <paramref name="element"/>, depth first.</summary>
    public static JsonElement? Find(JsonElement element, string name)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.NameEquals(name))
                    {
                        return property.Value;
                    }

                    if (Find(property.Value, name) is { } found)
                    {
                        return found;
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (Find(item, name) is { } found)
                    {
                        return found;
                    }
                }

                break;
        }

        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        Process.Dispose();
    }
}
