using KvCluster.Client.Snapshots;
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

    /// <summary>The lease section of a snapshot captured now (none while no lease exists): a copy of the table.</summary>
    private KvSnapshotSectionCapture[] CaptureLeases() =>
        _leases.Count == 0 ? [] : [new LeaseSectionCapture([.. _leases.Values.Select(l => (l.Id, l.Ttl))])];

    /// <summary>Reads the lease section: lease count, then per lease (ascending id) its id and TTL.</summary>
    /// <exception cref="KvSnapshotFormatException">A lease is impossible, repeated or out of order, or bytes are left over.</exception>
    private static SortedDictionary<long, LeaseRecord> ReadLeaseSection(ReadOnlySpan<byte> bytes)
    {
        var reader = new KvSnapshotReader(bytes);
        var leases = new SortedDictionary<long, LeaseRecord>();
        var count = reader.ReadInt64("lease count");
        long? previous = null;
        for (long i = 0; i < count; i++)
        {
            var id = (long)reader.ReadUInt64($"id of lease {i}");
            var ttl = reader.ReadInt64($"TTL of lease {i}");
            if (id == 0 || ttl < 1 || ttl > MaxLeaseTtl || id <= previous)
            {
                throw new KvSnapshotFormatException($"Lease {i} (id {id:x16}, TTL {ttl}) is impossible, repeated or out of order.");
            }

            leases.Add(id, new LeaseRecord(id, ttl));
            previous = id;
        }

        if (!reader.AtEnd)
        {
            throw new KvSnapshotFormatException($"The lease section has {reader.Remaining} unexpected bytes after its {count} leases.");
        }

        return leases;
    }

    /// <summary>Attaches every live key whose newest version names a lease to that lease.</summary>
    /// <exception cref="KvSnapshotFormatException">A live key names a lease the snapshot does not hold.</exception>
    private static void AttachLeaseKeys(SortedDictionary<long, LeaseRecord> leases, SortedSet<KvKeyHistory> keys)
    {
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
    }

    /// <summary>Installs a restored lease table and tells the observer the table was replaced.</summary>
    private void InstallLeases(SortedDictionary<long, LeaseRecord> leases)
    {
        _leases = leases;
        LeaseObserver?.Invoke(new LeaseChange(LeaseChangeKind.Reset, 0, 0, AppliedIndex));
    }
}

/// <summary>The lease table as captured for a snapshot: (id, TTL) pairs by ascending id.</summary>
internal sealed class LeaseSectionCapture((long Id, long Ttl)[] leases) : KvSnapshotSectionCapture
{
    /// <inheritdoc />
    public override KvSnapshotSection Type => KvSnapshotSection.Leases;

    /// <inheritdoc />
    public override long Length { get; } = KvSnapshotSpanWriter.VarintLength((ulong)leases.Length)
        + leases.Sum(l => (long)KvSnapshotSpanWriter.VarintLength((ulong)l.Id) + KvSnapshotSpanWriter.VarintLength((ulong)l.Ttl));

    /// <inheritdoc />
    public override void Write(ref KvSnapshotSpanWriter writer)
    {
        writer.WriteVarint((ulong)leases.Length);
        foreach (var (id, ttl) in leases)
        {
            writer.WriteVarint((ulong)id);
            writer.WriteVarint((ulong)ttl);
        }
    }
}
