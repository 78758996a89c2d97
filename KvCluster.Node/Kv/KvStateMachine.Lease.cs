using System.Buffers;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using PutRequest = KvCluster.Client.Etcd.PutRequest;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>etcd's largest lease TTL in seconds (lease.MaxLeaseTTL): a grant above it is refused.</summary>
    public const long MaxLeaseTtl = 9_000_000_000;

    /// <summary>The lease table by ascending id (deterministic order for snapshots and listings).</summary>
    private SortedDictionary<long, LeaseRecord> _leases = [];

    /// <summary>
    /// Told every lease change as it is applied (grant, revoke, a restored table), on the owner's thread. The node sets
    /// it to feed its lessor; the replicated state never depends on it. Null: nobody listens.
    /// </summary>
    public Action<LeaseChange>? LeaseObserver { get; set; }

    /// <summary>The number of leases in the table.</summary>
    public int LeaseCount => _leases.Count;

    /// <summary>True when lease <paramref name="id"/> exists.</summary>
    public bool HasLease(long id) => _leases.ContainsKey(id);

    /// <summary>The live keys attached to lease <paramref name="id"/> in key order (empty when the lease does not exist).</summary>
    public IReadOnlyList<ByteString> LeaseKeys(long id) => _leases.TryGetValue(id, out var lease) ? [.. lease.Keys] : [];

    /// <summary>
    /// Grants a lease: the id must be set (the proposing node chose it) and unused, the TTL at most
    /// <see cref="MaxLeaseTtl"/> (the proposer raised it to the minimum). Moves no revision, as in etcd.
    /// </summary>
    private KvResult ApplyLeaseGrant(LeaseGrantRequest grant)
    {
        if (grant.TTL > MaxLeaseTtl)
        {
            return Refused(EtcdErrors.LeaseTtlTooLarge);
        }

        if (_leases.ContainsKey(grant.ID))
        {
            return Refused(EtcdErrors.LeaseExists);
        }

        var ttl = Math.Max(grant.TTL, 1);
        _leases.Add(grant.ID, new LeaseRecord(grant.ID, ttl));
        LeaseObserver?.Invoke(new LeaseChange(LeaseChangeKind.Granted, grant.ID, ttl, AppliedIndex));
        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            EtcdLeaseGrant = new LeaseGrantResponse { Header = new ResponseHeader { Revision = Revision }, ID = grant.ID, TTL = ttl },
        };
    }

    /// <summary>
    /// Revokes a lease (a client's revoke, or the leader's on expiry): every key attached to it is deleted, all at one
    /// new revision (none when no key was attached), so a watcher sees the deletes together.
    /// </summary>
    private KvResult ApplyLeaseRevoke(LeaseRevokeRequest revoke)
    {
        if (!_leases.TryGetValue(revoke.ID, out var lease))
        {
            return Refused(EtcdErrors.LeaseNotFound);
        }

        var scope = new WriteScope(Revision);
        foreach (var key in lease.Keys.ToArray())
        {
            if (Live(key.Span) is { } live)
            {
                WriteTombstone(live, scope.WriteRevision);
                scope.Changed = true;
            }
        }

        _leases.Remove(revoke.ID);
        Commit(scope);
        LeaseObserver?.Invoke(new LeaseChange(LeaseChangeKind.Revoked, revoke.ID, 0, AppliedIndex));
        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            EtcdLeaseRevoke = new LeaseRevokeResponse { Header = new ResponseHeader { Revision = Revision } },
        };
    }

    /// <summary>
    /// What the applied state knows of a lease: its granted TTL (also in TTL: the lessor replaces it with the remaining
    /// time) and, when asked, its keys; TTL -1 when the lease does not exist (etcd's answer, not an error).
    /// </summary>
    private KvResult LeaseTimeToLive(LeaseTimeToLiveRequest request)
    {
        var response = new LeaseTimeToLiveResponse { Header = new ResponseHeader { Revision = Revision }, ID = request.ID, TTL = -1 };
        if (_leases.TryGetValue(request.ID, out var lease))
        {
            response.TTL = lease.Ttl;
            response.GrantedTTL = lease.Ttl;
            if (request.Keys)
            {
                response.Keys.AddRange(lease.Keys);
            }
        }

        return new KvResult { Status = KvStatus.Ok, Revision = Revision, EtcdLeaseTimeToLive = response };
    }

    /// <summary>Every lease id, ascending.</summary>
    private KvResult LeaseLeases()
    {
        var response = new LeaseLeasesResponse { Header = new ResponseHeader { Revision = Revision } };
        foreach (var id in _leases.Keys)
        {
            response.Leases.Add(new LeaseStatus { ID = id });
        }

        return new KvResult { Status = KvStatus.Ok, Revision = Revision, EtcdLeaseLeases = response };
    }

    /// <summary>The table with TTLs and the applied index, for the lessor.</summary>
    private KvResult LeaseTableQuery()
    {
        var table = new LeaseTable { AppliedIndex = AppliedIndex };
        foreach (var lease in _leases.Values)
        {
            table.Leases.Add(new LeaseTableEntry { Id = lease.Id, Ttl = lease.Ttl });
        }

        return new KvResult { Status = KvStatus.Ok, Revision = Revision, LeaseTable = table };
    }

    /// <summary>The state-dependent check of a put's lease: it must exist (0 is no lease).</summary>
    private KvValidationError? LeaseError(PutRequest put) =>
        put.Lease != 0 && !put.IgnoreLease && !_leases.ContainsKey(put.Lease)
            ? new KvValidationError(KvStatus.InvalidArgument, EtcdErrors.LeaseNotFound)
            : null;

    /// <summary>Moves a key between leases as a version is written: detached from <paramref name="from"/>, attached to <paramref name="to"/>.</summary>
    private void MoveLease(ByteString key, long from, long to)
    {
        if (from == to)
        {
            return;
        }

        if (from != 0 && _leases.TryGetValue(from, out var old))
        {
            old.Keys.Remove(key);
        }

        if (to != 0 && _leases.TryGetValue(to, out var lease))
        {
            lease.Keys.Add(key);
        }
    }

    private KvResult Refused(string etcdMessage) => new() { Status = KvStatus.InvalidArgument, Revision = Revision, Error = etcdMessage };

    /// <summary>
    /// Writes the lease section of a snapshot: lease count, then per lease (ascending id) the id (64 bits as unsigned)
    /// and the TTL. The attached keys are not written: the restored versions carry their lease.
    /// </summary>
    private void WriteLeaseSection(ArrayBufferWriter<byte> writer)
    {
        WriteVarint(writer, (long)_leases.Count);
        foreach (var lease in _leases.Values)
        {
            WriteUnsigned(writer, (ulong)lease.Id);
            WriteVarint(writer, lease.Ttl);
        }
    }

    /// <summary>Reads the lease section (after the keys) and re-attaches every live key to its lease.</summary>
    /// <exception cref="KvSnapshotFormatException">A lease is impossible, or a live key names a lease the table lacks.</exception>
    private static SortedDictionary<long, LeaseRecord> ReadLeaseSection(ref SnapshotReader reader, SortedSet<KvKeyHistory> keys)
    {
        var leases = new SortedDictionary<long, LeaseRecord>();
        if (reader.AtEnd)
        {
            // A snapshot written before leases existed.
            return leases;
        }

        var count = reader.ReadVarint("lease count");
        for (long i = 0; i < count; i++)
        {
            var id = (long)reader.ReadUnsigned("lease id", i);
            var ttl = reader.ReadVarint("lease TTL", i);
            if (id == 0 || ttl < 1 || ttl > MaxLeaseTtl || !leases.TryAdd(id, new LeaseRecord(id, ttl)))
            {
                throw new KvSnapshotFormatException($"Lease {i} (id {id:x16}, TTL {ttl}) is impossible or repeated.");
            }
        }

        foreach (var key in keys)
        {
            if (!key.IsLive || key.Latest.Lease == 0)
            {
                continue;
            }

            if (!leases.TryGetValue(key.Latest.Lease, out var lease))
            {
                throw new KvSnapshotFormatException(
                    $"Key {KvKeyOrder.Describe(key.Key.Span)} is attached to lease {key.Latest.Lease:x16}, which the snapshot does not hold.");
            }

            lease.Keys.Add(key.Key);
        }

        return leases;
    }

    /// <summary>Installs a restored lease table and tells the observer the table was replaced.</summary>
    private void InstallLeases(SortedDictionary<long, LeaseRecord> leases)
    {
        _leases = leases;
        LeaseObserver?.Invoke(new LeaseChange(LeaseChangeKind.Reset, 0, 0, AppliedIndex));
    }
}
