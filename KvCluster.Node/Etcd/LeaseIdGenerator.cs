namespace KvCluster.Node.Etcd;

/// <summary>
/// Lease ids for grants that name none, chosen by the node that receives the grant, as etcd's server does: the member
/// id's low bits on top (etcd puts 16 there and clears the sign bit, so 15 count), below them the start time in
/// milliseconds (40 bits) shifted left by 8, then a counter added to it for every id. Two nodes whose ids differ in
/// their low 15 bits never choose the same id; one node does
/// not repeat itself across restarts unless it issued more than 256 ids per millisecond of its uptime. Ids are
/// positive. The state machine still refuses an id that is taken
/// (<see cref="Kv.EtcdErrors.LeaseExists"/>, a client may grant any id) and <see cref="EtcdLeaseService"/> then takes
/// the next one. Thread-safe: one per node, shared by all calls.
/// </summary>
internal sealed class LeaseIdGenerator
{
    /// <summary>Bits below the member id: 40 of time, 8 of count.</summary>
    private const int SuffixBits = 48;

    /// <summary>Bits of the counter below the time.</summary>
    private const int CountBits = 8;

    private const long SuffixMask = (1L << SuffixBits) - 1;

    private readonly long _prefix;
    private long _suffix;

    /// <summary>Creates the generator of member <paramref name="memberId"/>, started at <paramref name="now"/>.</summary>
    public LeaseIdGenerator(ulong memberId, DateTimeOffset now)
    {
        _prefix = (long)((memberId & 0x7FFF) << SuffixBits);
        _suffix = (now.ToUnixTimeMilliseconds() << CountBits) & SuffixMask;
    }

    /// <summary>The next id: positive, never 0.</summary>
    public long Next()
    {
        while (true)
        {
            var id = _prefix | (Interlocked.Increment(ref _suffix) & SuffixMask);
            if (id != 0)
            {
                return id;
            }
        }
    }
}
