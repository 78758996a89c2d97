using Google.Protobuf;
using Grpc.Core;
using KvCluster.Client.Bench.Etcd;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// etcd's coordination recipes (clientv3's concurrency package) over the etcd API, for <c>kv lock</c>, <c>kv elect</c>
/// and <c>kv lease keep-alive</c>: a session (a lease kept alive), waiting for the deletion of every key created before
/// one's own (watching the newest predecessor), a mutex and an election whose key is <c>name/leaseid</c> and whose
/// holder is the key with the lowest create revision. Each call gets its own deadline (the command timeout) and moves
/// to the next endpoint when one is unreachable or has no leader.
/// </summary>
internal sealed class EtcdCoordination
{
    private readonly EtcdSession _session;
    private readonly TimeSpan _callTimeout;
    private int _current;

    /// <summary>Creates the helper over <paramref name="session"/>; each call may take <paramref name="callTimeout"/>.</summary>
    public EtcdCoordination(EtcdSession session, TimeSpan callTimeout)
    {
        _session = session;
        _callTimeout = callTimeout;
    }

    /// <summary>Where messages about waiting go (standard error).</summary>
    public TextWriter Log => _session.Console.Error;

    /// <summary>The session's call headers (its auth token) with <paramref name="extra"/>.</summary>
    public Metadata? Headers(Metadata? extra = null) => _session.Headers(extra);

    /// <summary>A unary call with a fresh deadline, tried on each endpoint in turn while they answer Unavailable.</summary>
    public async Task<T> CallAsync<T>(Func<EtcdChannel, CallOptions, AsyncUnaryCall<T>> call, CancellationToken token)
    {
        var endpoints = _session.Endpoints.Count;
        for (var attempt = 0; ; attempt++)
        {
            var index = (_current + attempt) % endpoints;
            try
            {
                var result = await call(_session.Channel(index), new CallOptions(_session.Headers(), deadline: DateTime.UtcNow + _callTimeout, cancellationToken: token)).ResponseAsync.ConfigureAwait(false);
                _current = index;
                return result;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && attempt + 1 < endpoints * 3 && !token.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * (attempt + 1)), token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The channel to the endpoint that answered last (streams start there).</summary>
    public EtcdChannel Current => _session.Channel(_current);

    /// <summary>Moves to the next endpoint (after a stream failed).</summary>
    public void Next() => _current = (_current + 1) % _session.Endpoints.Count;

    /// <summary>Grants a session lease with <paramref name="ttl"/> seconds and starts keeping it alive.</summary>
    public async Task<LeaseKeeper> NewSessionAsync(long ttl, CancellationToken token)
    {
        var grant = await CallAsync((c, o) => c.Lease.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttl }, o), token).ConfigureAwait(false);
        return LeaseKeeper.Start(this, grant.ID, grant.TTL, onResponse: null, token);
    }

    /// <summary>The key of a session's lease under <paramref name="prefix"/>, as clientv3 names it (hex id, not padded).</summary>
    public static string KeyOf(string prefix, long lease) => prefix + lease.ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Waits until no key under <paramref name="prefix"/> has a create revision at or below <paramref name="maxCreateRevision"/>:
    /// repeatedly finds the newest such key and waits for its deletion (clientv3's waitDeletes). Returns the header of the
    /// last read.
    /// </summary>
    public async Task<ResponseHeader> WaitDeletesAsync(string prefix, long maxCreateRevision, CancellationToken token)
    {
        while (true)
        {
            var range = new RangeRequest
            {
                Key = Utf8(prefix),
                RangeEnd = EtcdKeys.PrefixEnd(Utf8(prefix)),
                SortTarget = RangeRequest.Types.SortTarget.Create,
                SortOrder = RangeRequest.Types.SortOrder.Descend,
                Limit = 1,
                MaxCreateRevision = maxCreateRevision,
            };
            var newest = await CallAsync((c, o) => c.Kv.RangeAsync(range, o), token).ConfigureAwait(false);
            if (newest.Kvs.Count == 0)
            {
                return newest.Header;
            }

            await WaitDeleteAsync(newest.Kvs[0].Key, newest.Header.Revision, token).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for a DELETE of <paramref name="key"/> at or after <paramref name="revision"/>, by a watch.</summary>
    private async Task WaitDeleteAsync(ByteString key, long revision, CancellationToken token)
    {
        if (!await WatchForAsync(key, ByteString.Empty, revision, e => e.Type == Event.Types.EventType.Delete, token).ConfigureAwait(false))
        {
            await PollDeleteAsync(key, token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Watches <c>[key, rangeEnd)</c> (one key when empty) from <paramref name="revision"/> until an event matches; false
    /// when the member has no Watch service (an AkkaKv before issue 16's watch: the caller polls instead). A failed
    /// stream is reopened on the next endpoint from the revision after the last event seen.
    /// </summary>
    public async Task<bool> WatchForAsync(ByteString key, ByteString rangeEnd, long revision, Func<Event, bool> match, CancellationToken token)
    {
        var from = revision;
        while (true)
        {
            token.ThrowIfCancellationRequested();
            try
            {
                using var call = Current.Watch.Watch(Headers(), cancellationToken: token);
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest { Key = key, RangeEnd = rangeEnd, StartRevision = from },
                }, token).ConfigureAwait(false);
                while (await call.ResponseStream.MoveNext(token).ConfigureAwait(false))
                {
                    var response = call.ResponseStream.Current;
                    if (response.Canceled)
                    {
                        throw new RpcException(new Status(StatusCode.Unavailable, $"the watch was cancelled: {response.CancelReason}"));
                    }

                    foreach (var e in response.Events)
                    {
                        from = Math.Max(from, e.Kv.ModRevision + 1);
                        if (match(e))
                        {
                            return true;
                        }
                    }
                }
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
            {
                return false;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal && !token.IsCancellationRequested)
            {
                Next();
                await Task.Delay(200, token).ConfigureAwait(false);
            }
        }
    }

    private async Task PollDeleteAsync(ByteString key, CancellationToken token)
    {
        while (true)
        {
            var found = await CallAsync((c, o) => c.Kv.RangeAsync(new RangeRequest { Key = key, CountOnly = true }, o), token).ConfigureAwait(false);
            if (found.Count == 0)
            {
                return;
            }

            await Task.Delay(250, token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// clientv3's Mutex.Lock: puts <c>prefix + lease</c> (if absent) and waits until it has the lowest create revision
    /// under the prefix. Returns the key and its create revision (the fencing token).
    /// </summary>
    public async Task<(string Key, long Revision)> LockAsync(string name, long lease, CancellationToken token)
    {
        var prefix = name + "/";
        var key = KeyOf(prefix, lease);
        var (revision, owner) = await CreateOrGetAsync(prefix, key, string.Empty, lease, token).ConfigureAwait(false);
        if (owner != revision)
        {
            await WaitDeletesAsync(prefix, revision - 1, token).ConfigureAwait(false);
        }

        return (key, revision);
    }

    /// <summary>
    /// clientv3's Election.Campaign: puts <c>prefix + lease</c> with <paramref name="value"/> and waits until it leads
    /// (the lowest create revision under the prefix). Returns the key and its create revision.
    /// </summary>
    public async Task<(string Key, long Revision)> CampaignAsync(string name, string value, long lease, CancellationToken token)
    {
        var prefix = name + "/";
        var key = KeyOf(prefix, lease);
        var (revision, _) = await CreateOrGetAsync(prefix, key, value, lease, token).ConfigureAwait(false);
        await WaitDeletesAsync(prefix, revision - 1, token).ConfigureAwait(false);
        return (key, revision);
    }

    /// <summary>Deletes <paramref name="key"/> (unlock, resign).</summary>
    public Task DeleteAsync(string key, CancellationToken token) =>
        CallAsync((c, o) => c.Kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Utf8(key) }, o), token);

    /// <summary>Revokes a session's lease (best effort: a lease that expired is already gone).</summary>
    public async Task RevokeQuietlyAsync(long lease)
    {
        try
        {
            await CallAsync((c, o) => c.Lease.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, o), CancellationToken.None).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The lease expires on its own.
        }
    }

    /// <summary>The first (lowest create revision) key under <paramref name="prefix"/>, or null.</summary>
    public async Task<(KeyValue? First, ResponseHeader Header)> FirstAsync(string prefix, CancellationToken token)
    {
        var response = await CallAsync((c, o) => c.Kv.RangeAsync(FirstCreate(prefix), o), token).ConfigureAwait(false);
        return (response.Kvs.FirstOrDefault(), response.Header);
    }

    /// <summary>One txn: create the key with the lease if absent; read it otherwise; read the first key under the prefix.</summary>
    private async Task<(long Revision, long Owner)> CreateOrGetAsync(string prefix, string key, string value, long lease, CancellationToken token)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = Utf8(key), Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Utf8(key), Value = Utf8(value), Lease = lease } });
        txn.Success.Add(new RequestOp { RequestRange = FirstCreate(prefix) });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = Utf8(key) } });
        txn.Failure.Add(new RequestOp { RequestRange = FirstCreate(prefix) });
        var response = await CallAsync((c, o) => c.Kv.TxnAsync(txn, o), token).ConfigureAwait(false);
        var revision = response.Succeeded ? response.Header.Revision : response.Responses[0].ResponseRange.Kvs[0].CreateRevision;
        var first = response.Responses[1].ResponseRange.Kvs;
        return (revision, first.Count == 0 ? revision : first[0].CreateRevision);
    }

    private static RangeRequest FirstCreate(string prefix) => new()
    {
        Key = Utf8(prefix),
        RangeEnd = EtcdKeys.PrefixEnd(Utf8(prefix)),
        SortTarget = RangeRequest.Types.SortTarget.Create,
        SortOrder = RangeRequest.Types.SortOrder.Ascend,
        Limit = 1,
    };

    private static ByteString Utf8(string text) => ByteString.CopyFromUtf8(text);
}
