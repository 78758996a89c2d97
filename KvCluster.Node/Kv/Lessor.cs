namespace KvCluster.Node.Kv;

/// <summary>
/// The leader's lessor, as etcd's: expiry times of every lease, kept in memory only (keep-alives never go through the
/// log). It mirrors the replicated lease table (grants and revokes as they are applied, a full read when the node
/// starts to lead) and answers: renew (a keep-alive), the remaining TTL, and which leases expired and must be revoked
/// by a proposal. Only a primary (the leader's) lessor renews and expires; on promotion every lease gets its TTL plus
/// <see cref="PromotionExtension"/> (at least one election timeout), so a leader change never expires a lease that
/// was kept alive. Pure: time is passed in. Hand-written: no package implements an etcd-style lessor. Not
/// thread-safe: one actor owns it (<see cref="LeaseActor"/>).
/// </summary>
public sealed class Lessor
{
    private readonly Dictionary<long, Entry> _leases = [];

    /// <summary>Leases revoked while a table read is in flight, with the index of the revoke (so the read does not bring them back).</summary>
    private Dictionary<long, long>? _revokedDuringSync;

    /// <summary>Creates an empty, non-primary lessor.</summary>
    /// <param name="promotionExtension">Added to every lease's TTL on promotion (at least one election timeout).</param>
    /// <param name="revokeRetry">How long an expired lease waits after its revoke was proposed before it is proposed again.</param>
    public Lessor(TimeSpan promotionExtension, TimeSpan revokeRetry)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(promotionExtension.Ticks, nameof(promotionExtension));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(revokeRetry.Ticks, nameof(revokeRetry));
        PromotionExtension = promotionExtension;
        RevokeRetry = revokeRetry;
    }

    /// <summary>Added to every lease's TTL when this lessor becomes primary.</summary>
    public TimeSpan PromotionExtension { get; }

    /// <summary>The wait before an expired lease's revoke is proposed again.</summary>
    public TimeSpan RevokeRetry { get; }

    /// <summary>True while this node leads and its lessor renews and expires leases.</summary>
    public bool IsPrimary { get; private set; }

    /// <summary>The number of leases known.</summary>
    public int Count => _leases.Count;

    /// <summary>A lease was granted (applied at <paramref name="index"/>): a primary starts its TTL now.</summary>
    public void Granted(long id, long ttl, long index, DateTimeOffset now)
    {
        _leases[id] = new Entry(ttl, now + Seconds(ttl), index);
    }

    /// <summary>A lease was revoked (applied at <paramref name="index"/>).</summary>
    public void Revoked(long id, long index)
    {
        _leases.Remove(id);
        _revokedDuringSync?.TryAdd(id, index);
    }

    /// <summary>A table read is about to be made: revokes applied meanwhile are remembered until <see cref="Sync"/>.</summary>
    public void BeginSync() => _revokedDuringSync ??= [];

    /// <summary>
    /// Replaces the view with the table read at <paramref name="index"/>: leases it lacks are dropped unless granted
    /// after it, leases it holds are added unless revoked after it (with a TTL starting now).
    /// </summary>
    public void Sync(IEnumerable<(long Id, long Ttl)> table, long index, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(table);
        var revoked = _revokedDuringSync ?? [];
        _revokedDuringSync = null;
        var present = new HashSet<long>();
        foreach (var (id, ttl) in table)
        {
            present.Add(id);
            if (!_leases.ContainsKey(id) && !(revoked.TryGetValue(id, out var at) && at > index))
            {
                _leases[id] = new Entry(ttl, now + Seconds(ttl), index);
            }
        }

        foreach (var (id, entry) in _leases.ToArray())
        {
            if (!present.Contains(id) && entry.Index <= index)
            {
                _leases.Remove(id);
            }
        }
    }

    /// <summary>This node leads now: every lease expires no sooner than its TTL plus <see cref="PromotionExtension"/> from now.</summary>
    public void Promote(DateTimeOffset now)
    {
        IsPrimary = true;
        foreach (var entry in _leases.Values)
        {
            entry.Expiry = now + PromotionExtension + Seconds(entry.Ttl);
            entry.RevokeProposedAt = null;
        }
    }

    /// <summary>This node no longer leads: it neither renews nor expires.</summary>
    public void Demote() => IsPrimary = false;

    /// <summary>
    /// A keep-alive: the lease's expiry moves to now + TTL and its TTL is returned; null when the lease is unknown or
    /// already expired (its revoke is on the way), which etcd answers with TTL 0.
    /// </summary>
    /// <exception cref="InvalidOperationException">The lessor is not primary.</exception>
    public long? Renew(long id, DateTimeOffset now)
    {
        EnsurePrimary();
        if (!_leases.TryGetValue(id, out var entry) || entry.Expiry <= now)
        {
            return null;
        }

        entry.Expiry = now + Seconds(entry.Ttl);
        return entry.Ttl;
    }

    /// <summary>The time left before the lease expires (zero once expired), or null when it is unknown.</summary>
    public TimeSpan? Remaining(long id, DateTimeOffset now)
    {
        if (!_leases.TryGetValue(id, out var entry))
        {
            return null;
        }

        var left = entry.Expiry - now;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>
    /// The leases whose expiry passed and whose revoke must be proposed now (ascending id), each marked as proposed
    /// so it is proposed again only after <see cref="RevokeRetry"/>; empty unless primary.
    /// </summary>
    public IReadOnlyList<long> TakeExpired(DateTimeOffset now)
    {
        if (!IsPrimary)
        {
            return [];
        }

        var expired = new List<long>();
        foreach (var (id, entry) in _leases)
        {
            if (entry.Expiry <= now && (entry.RevokeProposedAt is null || now - entry.RevokeProposedAt >= RevokeRetry))
            {
                entry.RevokeProposedAt = now;
                expired.Add(id);
            }
        }

        expired.Sort();
        return expired;
    }

    private void EnsurePrimary()
    {
        if (!IsPrimary)
        {
            throw new InvalidOperationException("Only the leader's (primary) lessor renews leases.");
        }
    }

    private static TimeSpan Seconds(long ttl) => TimeSpan.FromSeconds(Math.Min(ttl, KvStateMachine.MaxLeaseTtl));

    /// <summary>One lease as the lessor tracks it.</summary>
    private sealed class Entry(long ttl, DateTimeOffset expiry, long index)
    {
        /// <summary>The granted TTL in seconds.</summary>
        public long Ttl { get; } = ttl;

        /// <summary>When it expires (meaningful on a primary only).</summary>
        public DateTimeOffset Expiry { get; set; } = expiry;

        /// <summary>The index at which the lessor learned it (grant or table read).</summary>
        public long Index { get; } = index;

        /// <summary>When its revoke was last proposed, or null.</summary>
        public DateTimeOffset? RevokeProposedAt { get; set; }
    }
}
