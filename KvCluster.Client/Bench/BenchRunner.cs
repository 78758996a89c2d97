using System.Diagnostics;

namespace KvCluster.Client.Bench;

/// <summary>
/// The closed-loop load generator: <see cref="BenchSettings.Clients"/> tasks, each with one
/// request in flight, sharing the target's connections, until the duration has passed or the
/// total number of requests has been issued.
/// </summary>
/// <remarks>
/// Each client records into its own <see cref="LatencyHistogram"/>s (no lock on the hot path);
/// the only shared writes are two interlocked counters read by the progress display. A client
/// stops issuing requests at the deadline and lets its in-flight request finish, so the run ends
/// by itself within one request timeout of the deadline.
/// </remarks>
internal sealed class BenchRunner
{
    private readonly BenchSettings _settings;
    private readonly IBenchTarget _target;
    private readonly TimeProvider _time;

    /// <summary>Requests claimed so far in total mode (may exceed the total by up to the number of clients).</summary>
    private long _issued;

    /// <summary>Requests finished so far, successfully or not; read by the progress display.</summary>
    private long _finished;

    /// <summary>Timestamp at which clients stop issuing requests in the current phase.</summary>
    private long _deadline = long.MaxValue;

    /// <summary>Request limit of the current phase; null in duration mode and during warm-up.</summary>
    private long? _total;

    /// <summary>Creates a runner for one run of <paramref name="target"/> with <paramref name="settings"/>.</summary>
    public BenchRunner(BenchSettings settings, IBenchTarget target, TimeProvider? time = null)
    {
        _settings = settings;
        _target = target;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Requests finished so far (successful or failed); safe to read from any thread.</summary>
    public long Finished => Volatile.Read(ref _finished);

    /// <summary>Timestamp (<see cref="TimeProvider.GetTimestamp"/>) at which the measured load started; 0 before (and during warm-up).</summary>
    public long StartTimestamp { get; private set; }

    /// <summary>
    /// Runs the load against an already connected target. Cancelling
    /// <paramref name="cancellationToken"/> (Ctrl+C) stops the clients early; the result then
    /// covers the requests finished up to that point.
    /// </summary>
    public async Task<BenchResult> RunAsync(CancellationToken cancellationToken)
    {
        var states = new ClientState[_settings.Clients];
        for (var i = 0; i < states.Length; i++)
        {
            states[i] = new ClientState(
                _target.CreateClient(i, i % _settings.Connections),
                // Not HashCode.Combine: its seed is random per process, and --seed must repeat runs.
                new Random(unchecked((_settings.Seed * 1_000_003) + i)),
                _settings);
        }

        if (_settings.Warmup > TimeSpan.Zero && !cancellationToken.IsCancellationRequested)
        {
            // Warm-up: same load, results discarded, so JIT tiering and connection windows settle
            // before measuring (etcd's Go tool has no JIT to warm).
            _total = null;
            _deadline = _time.GetTimestamp() + (long)(_settings.Warmup.TotalSeconds * _time.TimestampFrequency);
            await RunPhaseAsync(states, cancellationToken).ConfigureAwait(false);
            foreach (var state in states)
            {
                state.Reset();
            }

            Interlocked.Exchange(ref _finished, 0);
        }

        var cpuBefore = Environment.CpuUsage.TotalTime;
        StartTimestamp = Math.Max(1, _time.GetTimestamp());
        _total = _settings.Total;
        _deadline = _settings.Duration is { } duration
            ? StartTimestamp + (long)(duration.TotalSeconds * _time.TimestampFrequency)
            : long.MaxValue;
        await RunPhaseAsync(states, cancellationToken).ConfigureAwait(false);
        var elapsed = _time.GetElapsedTime(StartTimestamp);
        var clientCpu = Environment.CpuUsage.TotalTime - cpuBefore;

        var reads = new LatencyHistogram();
        var writes = new LatencyHistogram();
        var errors = new long[Enum.GetValues<BenchErrorKind>().Length];
        long readHits = 0;
        string? firstError = null;
        foreach (var state in states)
        {
            reads.Add(state.Reads);
            writes.Add(state.Writes);
            readHits += state.ReadHits;
            for (var k = 0; k < errors.Length; k++)
            {
                errors[k] += state.Errors[k];
            }

            firstError ??= state.FirstError;
        }

        return new BenchResult(_settings, _target.Name, elapsed, reads, writes, readHits, errors, firstError)
        {
            ClientCpu = clientCpu,
        };
    }

    private Task RunPhaseAsync(ClientState[] states, CancellationToken cancellationToken)
    {
        var tasks = new Task[states.Length];
        for (var i = 0; i < states.Length; i++)
        {
            var state = states[i];
            tasks[i] = Task.Run(() => RunClientAsync(state, cancellationToken), CancellationToken.None);
        }

        return Task.WhenAll(tasks);
    }

    private async Task RunClientAsync(ClientState state, CancellationToken cancellationToken)
    {
        var total = _total;
        var readRatio = _settings.ReadRatio;
        var key = state.Key;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (total is { } limit)
            {
                if (Interlocked.Increment(ref _issued) > limit)
                {
                    return;
                }
            }
            else if (_time.GetTimestamp() >= _deadline)
            {
                return;
            }

            var keyIndex = state.Random.NextInt64(_settings.KeySpace);
            KeyFormatter.Format(keyIndex, key.Span);
            var isRead = readRatio >= 1 || (readRatio > 0 && state.Random.NextDouble() < readRatio);
            var start = _time.GetTimestamp();
            try
            {
                if (isRead)
                {
                    var found = await state.Client.GetAsync(key, _settings.Consistency, cancellationToken).ConfigureAwait(false);
                    state.Reads.RecordElapsed(start, _time.GetTimestamp(), _time.TimestampFrequency);
                    if (found)
                    {
                        state.ReadHits++;
                    }
                }
                else if (state.TxnKeys is { } txnKeys)
                {
                    // N consecutive keys (distinct: the key space holds at least N) in one transaction.
                    for (var j = 0; j < txnKeys.Length; j++)
                    {
                        KeyFormatter.Format((keyIndex + j) % _settings.KeySpace, txnKeys[j].Span);
                    }

                    await state.Client.TxnPutAsync(state.TxnKeyViews!, state.Value, cancellationToken).ConfigureAwait(false);
                    state.Writes.RecordElapsed(start, _time.GetTimestamp(), _time.TimestampFrequency);
                }
                else
                {
                    await state.Client.PutAsync(key, state.Value, cancellationToken).ConfigureAwait(false);
                    state.Writes.RecordElapsed(start, _time.GetTimestamp(), _time.TimestampFrequency);
                }
            }
            catch (BenchTargetException e)
            {
                state.Errors[(int)e.Kind]++;
                state.FirstError ??= e.Message;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            Interlocked.Increment(ref _finished);
        }
    }

    /// <summary>Everything one client owns; touched only by that client's task until the run ends.</summary>
    private sealed class ClientState
    {
        public ClientState(IBenchClient client, Random random, BenchSettings settings)
        {
            Client = client;
            Random = random;
            Key = new byte[settings.KeySize];
            var value = new byte[settings.ValueSize];
            random.NextBytes(value);
            Value = value;
            if (settings.TxnOps > 1)
            {
                TxnKeys = new Memory<byte>[settings.TxnOps];
                TxnKeyViews = new ReadOnlyMemory<byte>[settings.TxnOps];
                for (var j = 0; j < settings.TxnOps; j++)
                {
                    TxnKeys[j] = new byte[settings.KeySize];
                    TxnKeyViews[j] = TxnKeys[j];
                }
            }
        }

        /// <summary>Reused key buffers of a transaction's puts (null unless <c>--txn-ops</c> &gt; 1).</summary>
        public Memory<byte>[]? TxnKeys { get; }

        /// <summary>The same buffers as the read-only views the target receives.</summary>
        public ReadOnlyMemory<byte>[]? TxnKeyViews { get; }

        public IBenchClient Client { get; }

        public Random Random { get; }

        /// <summary>Reused key buffer, rewritten before each request.</summary>
        public Memory<byte> Key { get; }

        /// <summary>The value every put of this client writes.</summary>
        public ReadOnlyMemory<byte> Value { get; }

        public LatencyHistogram Reads { get; } = new();

        public LatencyHistogram Writes { get; } = new();

        public long ReadHits { get; set; }

        public long[] Errors { get; } = new long[Enum.GetValues<BenchErrorKind>().Length];

        public string? FirstError { get; set; }

        /// <summary>Forgets everything recorded (after the warm-up).</summary>
        public void Reset()
        {
            Reads.Reset();
            Writes.Reset();
            ReadHits = 0;
            Array.Clear(Errors);
            FirstError = null;
        }
    }
}

/// <summary>Formats benchmark keys as zero-padded decimal, so they are printable and fixed-size.</summary>
internal static class KeyFormatter
{
    /// <summary>Number of decimal digits needed for the largest key of a key space.</summary>
    public static int DigitsFor(long keySpace) => keySpace <= 1 ? 1 : (int)Math.Floor(Math.Log10(keySpace - 1)) + 1;

    /// <summary>Writes <paramref name="index"/> right-aligned and zero-padded into <paramref name="destination"/>.</summary>
    public static void Format(long index, Span<byte> destination)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (index % 10));
            index /= 10;
        }
    }
}
