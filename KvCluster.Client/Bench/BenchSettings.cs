namespace KvCluster.Client.Bench;

/// <summary>The validated settings of one `kv bench` run.</summary>
internal sealed record BenchSettings
{
    /// <summary>Target system name as given on the command line ("etcd", "akkakv").</summary>
    public required string Target { get; init; }

    /// <summary>Endpoints to spread the connections over, in the order given.</summary>
    public required IReadOnlyList<BenchEndpoint> Endpoints { get; init; }

    /// <summary>Number of closed-loop clients (each with one request in flight).</summary>
    public int Clients { get; init; } = 1;

    /// <summary>Number of transport connections the clients share (client i uses connection i % Connections).</summary>
    public int Connections { get; init; } = 1;

    /// <summary>Run length in time; exactly one of <see cref="Duration"/> and <see cref="Total"/> is set.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Run length in requests; exactly one of <see cref="Duration"/> and <see cref="Total"/> is set.</summary>
    public long? Total { get; init; }

    /// <summary>Load run before the measurement and discarded (JIT tiering, connection warm-up); zero for none.</summary>
    public TimeSpan Warmup { get; init; }

    /// <summary>Keys are drawn uniformly from this many distinct keys.</summary>
    public long KeySpace { get; init; } = 10_000;

    /// <summary>Key length in bytes (zero-padded decimal, so keys are printable).</summary>
    public int KeySize { get; init; } = 8;

    /// <summary>Value length in bytes.</summary>
    public int ValueSize { get; init; } = 256;

    /// <summary>Fraction of requests that are reads, 0 (all puts) to 1 (all gets).</summary>
    public double ReadRatio { get; init; }

    /// <summary>Puts per write: 0 or 1 writes one key per request; N &gt; 1 makes every write one txn of N puts.</summary>
    public int TxnOps { get; init; }

    /// <summary>Consistency of the reads.</summary>
    public ReadConsistency Consistency { get; init; } = ReadConsistency.Linearizable;

    /// <summary>Deadline of one request; a request exceeding it counts as a timeout error.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Seed of the per-client key generators, so a run's key sequence can be repeated.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The user to authenticate as (etcd's auth, <c>--user</c>; etcd target only), or null.</summary>
    public string? User { get; init; }

    /// <summary>The password of <see cref="User"/>.</summary>
    public string? Password { get; init; }
}

/// <summary>A host and port of a target member.</summary>
/// <param name="Host">Host name or IP address (IPv6 without brackets).</param>
/// <param name="Port">TCP port.</param>
internal sealed record BenchEndpoint(string Host, int Port)
{
    /// <summary>Whether the endpoint was given as <c>https://host:port</c> (TLS).</summary>
    public bool Tls { get; init; }

    /// <summary>Parses <c>host:port[,host:port...]</c>; accepts an optional <c>http://</c> or <c>https://</c> (TLS)
    /// prefix and <c>[v6]:port</c>.</summary>
    /// <returns>The endpoints, or null with <paramref name="error"/> naming the bad entry.</returns>
    public static IReadOnlyList<BenchEndpoint>? TryParseList(string text, out string? error)
    {
        var result = new List<BenchEndpoint>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw.Length == 0)
            {
                error = $"empty endpoint in '{text}'";
                return null;
            }

            var entry = raw;
            var tls = false;
            if (entry.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            {
                entry = entry["http://".Length..].TrimEnd('/');
            }
            else if (entry.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                entry = entry["https://".Length..].TrimEnd('/');
                tls = true;
            }
            else if (entry.Contains("://", StringComparison.Ordinal))
            {
                error = $"endpoint '{raw}': only host:port, http://host:port or https://host:port is supported";
                return null;
            }

            var colon = entry.LastIndexOf(':');
            if (colon <= 0 || colon == entry.Length - 1)
            {
                error = $"endpoint '{raw}' is not host:port";
                return null;
            }

            var host = entry[..colon];
            if (host.StartsWith('[') && host.EndsWith(']'))
            {
                host = host[1..^1];
            }
            else if (host.Contains(':', StringComparison.Ordinal))
            {
                error = $"endpoint '{raw}': write an IPv6 address as [address]:port";
                return null;
            }

            if (!int.TryParse(entry[(colon + 1)..], out var port) || port is < 1 or > 65535)
            {
                error = $"endpoint '{raw}' has an invalid port (1-65535)";
                return null;
            }

            result.Add(new BenchEndpoint(host, port) { Tls = tls });
        }

        error = null;
        return result;
    }

    /// <summary>The <c>host:port</c> form, with brackets around an IPv6 address.</summary>
    public override string ToString() =>
        Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
