using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;

namespace KvCluster.Chaos;

/// <summary>
/// The lock-holder workload (issue 16): holders contend for one lock the way etcd's users build it (clientv3's Mutex):
/// a session lease kept alive, the key <c>chaos-lock/&lt;lease&gt;</c>, the holder is the key with the lowest create
/// revision (waiters poll the first key: the lock's rule, not the watch, is under test). Every write a holder makes
/// under the lock is a txn guarded by its fencing token: compare the CREATE revision of its lock key EQUAL the token,
/// then put a key of its own under <c>chaos-lock-writes/</c>. Now and then a holder stalls past its TTL while holding
/// (as a paused process would) and then writes as if it still held the lock: the guard must refuse it. Through the
/// etcd API on the nodes' client ports, failing over between nodes.
/// </summary>
internal sealed class LockHolder
{
    /// <summary>The lock's key prefix.</summary>
    public const string LockPrefix = "chaos-lock/";

    /// <summary>The prefix of the guarded writes (one key per write: it exists iff the guarded txn took effect).</summary>
    public const string WritesPrefix = "chaos-lock-writes/";

    private const long LeaseTtl = 2;
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromMilliseconds(1500);

    private readonly int _id;
    private readonly LockLog _log;
    private readonly GrpcChannel[] _channels;
    private readonly Random _random;
    private int _current;
    private int _writes;

    public LockHolder(int id, IReadOnlyList<int> clientPorts, LockLog log, int seed)
    {
        _id = id;
        _log = log;
        _random = new Random(seed);
        _current = id % clientPorts.Count;
        _channels = clientPorts.Select(p => GrpcChannel.ForAddress(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{p}"))).ToArray();
    }

    /// <summary>Acquires, writes under the lock and releases in a loop until <paramref name="stop"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await OneTurnAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException or IOException or HttpRequestException && !stop.IsCancellationRequested)
            {
                Next();
                try
                {
                    await Delay(100, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task OneTurnAsync(CancellationToken stop)
    {
        var lease = (await CallAsync(c => new Lease.LeaseClient(c).LeaseGrantAsync(new LeaseGrantRequest { TTL = LeaseTtl }, Options(stop)), stop).ConfigureAwait(false)).ID;
        using var keepAlive = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var keeper = KeepAliveAsync(lease, keepAlive.Token);
        try
        {
            var key = LockPrefix + lease.ToString("x", CultureInfo.InvariantCulture);
            var token = await CreateAsync(key, lease, stop).ConfigureAwait(false);
            if (await AwaitLowestAsync(key, token, stop).ConfigureAwait(false) is not { } acquiredAt)
            {
                return;
            }

            _log.Acquired(_id, token, acquiredAt);
            var stale = _random.Next(5) == 0;
            if (stale)
            {
                // A stalled holder: its keep-alives stop and it resumes after the lease expired, still believing it holds the lock.
                await keepAlive.CancelAsync().ConfigureAwait(false);
                await Delay((int)(LeaseTtl * 2000) + 1500, stop).ConfigureAwait(false);
            }

            var count = 2 + _random.Next(4);
            for (var i = 0; i < count && !stop.IsCancellationRequested; i++)
            {
                await GuardedWriteAsync(key, token, stale, stop).ConfigureAwait(false);
                await Delay(10 + _random.Next(40), stop).ConfigureAwait(false);
            }

            await CallAsync(c => new KV.KVClient(c).DeleteRangeAsync(new DeleteRangeRequest { Key = Utf8(key) }, Options(stop)), stop).ConfigureAwait(false);
        }
        finally
        {
            await keepAlive.CancelAsync().ConfigureAwait(false);
            await keeper.ConfigureAwait(false);
            if (_random.Next(3) != 0 && !stop.IsCancellationRequested)
            {
                try
                {
                    await CallAsync(c => new Lease.LeaseClient(c).LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, Options(stop)), stop).ConfigureAwait(false);
                }
                catch (RpcException)
                {
                    // The lease expires on its own.
                }
            }
        }
    }

    /// <summary>Puts the lock key if absent (one txn); the token is its create revision.</summary>
    private async Task<long> CreateAsync(string key, long lease, CancellationToken stop)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = Utf8(key), Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Utf8(key), Value = Utf8(_id.ToString(CultureInfo.InvariantCulture)), Lease = lease } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = Utf8(key) } });
        while (true)
        {
            try
            {
                var response = await CallAsync(c => new KV.KVClient(c).TxnAsync(txn, Options(stop)), stop).ConfigureAwait(false);
                if (response.Succeeded)
                {
                    return response.Header.Revision;
                }

                // A retried create that had taken effect: the key is ours (its lease is ours).
                var kvs = response.Responses[0].ResponseRange.Kvs;
                if (kvs.Count > 0)
                {
                    return kvs[0].CreateRevision;
                }
            }
            catch (RpcException) when (!stop.IsCancellationRequested)
            {
                Next();
            }
        }
    }

    /// <summary>Waits until the key is the first under the prefix; the revision of the read that saw it, or null when it vanished.</summary>
    private async Task<long?> AwaitLowestAsync(string key, long token, CancellationToken stop)
    {
        var first = new RangeRequest
        {
            Key = Utf8(LockPrefix),
            RangeEnd = Utf8("chaos-lock0"),
            SortTarget = RangeRequest.Types.SortTarget.Create,
            SortOrder = RangeRequest.Types.SortOrder.Ascend,
            Limit = 1,
        };
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var response = await CallAsync(c => new KV.KVClient(c).RangeAsync(first, Options(stop)), stop).ConfigureAwait(false);
            if (response.Kvs.Count == 0 || response.Kvs[0].CreateRevision > token)
            {
                // Our key is gone (its lease expired while we could not keep it alive): start again.
                return null;
            }

            if (response.Kvs[0].Key.ToStringUtf8() == key && response.Kvs[0].CreateRevision == token)
            {
                return response.Header.Revision;
            }

            await Delay(20, stop).ConfigureAwait(false);
        }

        return null;
    }

    private async Task GuardedWriteAsync(string key, long token, bool stale, CancellationToken stop)
    {
        var writeKey = WritesPrefix + string.Create(CultureInfo.InvariantCulture, $"h{_id}-{++_writes}");
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = Utf8(key), Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = token });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Utf8(writeKey), Value = Utf8(token.ToString(CultureInfo.InvariantCulture)) } });
        LockOutcome outcome;
        long revision = 0;
        try
        {
            var response = await new KV.KVClient(_channels[_current]).TxnAsync(txn, Options(stop)).ResponseAsync.ConfigureAwait(false);
            outcome = response.Succeeded ? LockOutcome.Succeeded : LockOutcome.Refused;
            revision = response.Header.Revision;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable or StatusCode.Cancelled && !stop.IsCancellationRequested)
        {
            outcome = LockOutcome.Indeterminate;
            Next();
        }

        _log.Wrote(new LockWrite(_id, writeKey, token, stale, outcome, revision));
    }

    /// <summary>clientv3's keep-alive: a stream, one request every TTL/3, reopened on another node when it fails.</summary>
    private async Task KeepAliveAsync(long lease, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                using var call = new Lease.LeaseClient(_channels[_current]).LeaseKeepAlive(cancellationToken: token);
                while (!token.IsCancellationRequested)
                {
                    await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, token).ConfigureAwait(false);
                    using var answer = CancellationTokenSource.CreateLinkedTokenSource(token);
                    answer.CancelAfter(s_callTimeout);
                    if (!await call.ResponseStream.MoveNext(answer.Token).ConfigureAwait(false) || call.ResponseStream.Current.TTL <= 0)
                    {
                        return;
                    }

                    await Task.Delay(TimeSpan.FromSeconds(LeaseTtl / 3.0), token).ConfigureAwait(false);
                }
            }
            catch (Exception) when (!token.IsCancellationRequested)
            {
                // gRPC errors, and the HTTP/2 stream breaking under a write (HttpIOException): another node.
                Next();
                try
                {
                    await Delay(50, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (Exception)
            {
                return;
            }
        }
    }

    private async Task<T> CallAsync<T>(Func<GrpcChannel, AsyncUnaryCall<T>> call, CancellationToken stop)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await call(_channels[_current]).ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < 20 && !stop.IsCancellationRequested)
            {
                Next();
                await Delay(50, stop).ConfigureAwait(false);
            }
        }
    }

    private static CallOptions Options(CancellationToken stop) => new(deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: stop);

    private void Next() => _current = (_current + 1) % _channels.Length;

    private static Task Delay(int milliseconds, CancellationToken token) => Task.Delay(milliseconds, token);

    private static ByteString Utf8(string text) => ByteString.CopyFromUtf8(text);
}

/// <summary>What a guarded write became, as its holder saw it.</summary>
internal enum LockOutcome
{
    /// <summary>The txn answered succeeded: the compare held.</summary>
    Succeeded,

    /// <summary>The txn answered not succeeded: the compare failed (the holder had lost the lock).</summary>
    Refused,

    /// <summary>No answer: it may or may not have taken effect (the store's content decides).</summary>
    Indeterminate,
}

/// <summary>One guarded write: the holder, its key, the token it was guarded by, whether the holder had stalled past its lease.</summary>
internal sealed record LockWrite(int Holder, string Key, long Token, bool Stale, LockOutcome Outcome, long Revision);

/// <summary>What the holders observed: acquisitions (token, revision of the read that showed the key first) and guarded writes.</summary>
internal sealed class LockLog
{
    private readonly ConcurrentQueue<(int Holder, long Token, long Revision)> _acquired = new();
    private readonly ConcurrentQueue<LockWrite> _writes = new();

    public void Acquired(int holder, long token, long revision) => _acquired.Enqueue((holder, token, revision));

    public void Wrote(LockWrite write) => _writes.Enqueue(write);

    public IReadOnlyList<(int Holder, long Token, long Revision)> Acquisitions => [.. _acquired];

    public IReadOnlyList<LockWrite> Writes => [.. _writes];
}
