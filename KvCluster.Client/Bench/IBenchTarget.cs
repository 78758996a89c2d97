namespace KvCluster.Client.Bench;

/// <summary>
/// A system `kv bench` can load: etcd today, AkkaKv once its client library exists. The runner
/// calls <see cref="ConnectAsync"/> once, then <see cref="CreateClient"/> once per load-generator
/// client, then drives every <see cref="IBenchClient"/> from its own task, and finally disposes
/// the target after every client task has finished.
/// </summary>
/// <remarks>
/// A target owns its connections: "1000 clients over 100 connections" means
/// <see cref="ConnectAsync"/> opens 100 transport connections and <see cref="CreateClient"/> hands
/// client <c>i</c> a view of connection <c>i % 100</c>. Failures are reported by throwing
/// <see cref="BenchTargetException"/>; any other exception is a bug in the target.
/// </remarks>
internal interface IBenchTarget : IAsyncDisposable
{
    /// <summary>Short name shown in reports ("etcd", "akkakv").</summary>
    string Name { get; }

    /// <summary>
    /// Opens <see cref="BenchSettings.Connections"/> connections spread round-robin over
    /// <see cref="BenchSettings.Endpoints"/> and proves each one works with one cheap request.
    /// Throws <see cref="BenchTargetException"/> (usually <see cref="BenchErrorKind.Unavailable"/>)
    /// naming the endpoint that failed.
    /// </summary>
    Task ConnectAsync(BenchSettings settings, CancellationToken cancellationToken);

    /// <summary>
    /// Creates the per-client request issuer bound to connection <paramref name="connection"/>
    /// (0 ≤ connection &lt; <see cref="BenchSettings.Connections"/>). Called after
    /// <see cref="ConnectAsync"/>, once per client, from the runner's thread.
    /// </summary>
    IBenchClient CreateClient(int clientIndex, int connection);
}

/// <summary>
/// One closed-loop load-generator client: the runner awaits each call before issuing the next,
/// so an implementation may keep reusable per-client buffers and needs no locking.
/// </summary>
/// <remarks>
/// <c>key</c> and <c>value</c> are borrowed: they are valid only until the returned task
/// completes and must not be retained. A failed request throws <see cref="BenchTargetException"/>;
/// cancellation through the token throws <see cref="OperationCanceledException"/>.
/// </remarks>
internal interface IBenchClient
{
    /// <summary>Writes <paramref name="value"/> under <paramref name="key"/> and waits until the target acknowledges it as committed.</summary>
    ValueTask PutAsync(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken);

    /// <summary>Reads <paramref name="key"/> with the given consistency; returns whether the key exists.</summary>
    ValueTask<bool> GetAsync(ReadOnlyMemory<byte> key, ReadConsistency consistency, CancellationToken cancellationToken);

    /// <summary>
    /// Writes <paramref name="value"/> under every one of <paramref name="keys"/> (distinct) in one transaction and
    /// waits until it is committed. Targets without transactions refuse it.
    /// </summary>
    ValueTask TxnPutAsync(IReadOnlyList<ReadOnlyMemory<byte>> keys, ReadOnlyMemory<byte> value, CancellationToken cancellationToken) =>
        throw new BenchTargetException(BenchErrorKind.Rejected, "this target has no multi-key transaction (use --target etcd)");
}

/// <summary>Consistency of a benchmark read.</summary>
internal enum ReadConsistency
{
    /// <summary>Linearizable: the read reflects every write acknowledged before it started (etcd's default, "l").</summary>
    Linearizable,

    /// <summary>Serializable: served from the contacted member's local state, possibly stale ("s").</summary>
    Serializable,
}

/// <summary>Why a benchmark request failed; each maps to one `kv` exit code.</summary>
internal enum BenchErrorKind
{
    /// <summary>The target could not be reached or could not serve the request now (exit code 3).</summary>
    Unavailable,

    /// <summary>The request did not complete within its deadline (exit code 4).</summary>
    Timeout,

    /// <summary>The target refused the request as invalid or not permitted (exit code 5).</summary>
    Rejected,
}

/// <summary>A benchmark request or connection failed in an expected way; the message names the endpoint and cause.</summary>
internal sealed class BenchTargetException : Exception
{
    /// <summary>Creates the exception with the failure kind and a message a person can act on.</summary>
    public BenchTargetException(BenchErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    /// <summary>The failure kind, which decides the exit code.</summary>
    public BenchErrorKind Kind { get; }
}
