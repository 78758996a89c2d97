using System.Diagnostics;
using Google.Protobuf;
using KvCluster.Client.Protocol;
using EtcdKeyValue = KvCluster.Client.Etcd.Mvcc.KeyValue;

namespace KvCluster.Node.Kv;

/// <summary>
/// One version of a key: what a put wrote, or a tombstone (the key was deleted at
/// <see cref="ModRevision"/>). Tombstones have no value and zero create revision, version and lease.
/// </summary>
/// <param name="ModRevision">The store revision of this change.</param>
/// <param name="CreateRevision">The revision of the put that created the key (0 for a tombstone).</param>
/// <param name="Version">Puts since creation, 1 after the creating put (0 for a tombstone).</param>
/// <param name="Lease">The lease the key is attached to (0 for none).</param>
/// <param name="Value">The value, or null for a tombstone.</param>
internal readonly record struct KvVersion(long ModRevision, long CreateRevision, long Version, long Lease, ByteString? Value)
{
    /// <summary>True when this version records a delete.</summary>
    public bool IsTombstone => Value is null;

    /// <summary>The tombstone of a delete at <paramref name="revision"/>.</summary>
    public static KvVersion Tombstone(long revision) => new(revision, 0, 0, 0, null);
}

/// <summary>
/// Every retained version of one key, oldest first; the newest is kept inline (<see cref="Latest"/>)
/// so a key that was written once costs no list. The key stays in the store's indexes while any
/// version is retained, even when the newest is a tombstone; compaction removes it.
/// </summary>
internal sealed class KvKeyHistory
{
    /// <summary>
    /// Versions older than <see cref="Latest"/>, ascending by revision; null while there are none. Append-only: a
    /// change that drops versions (compaction) replaces the list, so a snapshot capture can keep reading the prefix it
    /// captured (<see cref="OlderList"/>) while the store moves on.
    /// </summary>
    private List<KvVersion>? _older;

    /// <summary>Creates a key with one version.</summary>
    public KvKeyHistory(ByteString key, KvVersion first)
    {
        Key = key;
        Latest = first;
    }

    /// <summary>The key (never empty for a stored key).</summary>
    public ByteString Key { get; }

    /// <summary>The newest version.</summary>
    public KvVersion Latest { get; private set; }

    /// <summary>True when the key exists now (its newest version is not a tombstone).</summary>
    public bool IsLive => !Latest.IsTombstone;

    /// <summary>True when compaction may have something to drop here (older versions, or a tombstone).</summary>
    public bool HasHistory => _older is { Count: > 0 } || Latest.IsTombstone;

    /// <summary>The list of versions older than <see cref="Latest"/> (null: none); see <c>_older</c> for why a capture may keep it.</summary>
    internal List<KvVersion>? OlderList => _older;

    /// <summary>The number of retained versions.</summary>
    public int VersionCount => (_older?.Count ?? 0) + 1;

    /// <summary>Creates a probe used only to position range scans.</summary>
    public static KvKeyHistory Probe(ByteString key) => new(key, default);

    /// <summary>The retained versions, oldest first.</summary>
    public IEnumerable<KvVersion> Versions()
    {
        if (_older is not null)
        {
            foreach (var version in _older)
            {
                yield return version;
            }
        }

        yield return Latest;
    }

    /// <summary>Sizes the list of older versions for <paramref name="older"/> of them, before they are appended (a
    /// snapshot's restore knows each key's count: no list grows and is copied while the whole store is read).</summary>
    public void ReserveOlder(int older)
    {
        if (older > 0 && _older is null)
        {
            _older = new List<KvVersion>(older);
        }
    }

    /// <summary>Records a change newer than every retained version.</summary>
    public void Append(KvVersion version)
    {
        Debug.Assert(version.ModRevision > Latest.ModRevision, "A key changes at most once per revision, in revision order.");
        (_older ??= []).Add(Latest);
        Latest = version;
    }

    /// <summary>The newest version at or below <paramref name="revision"/>; false when the key had none then.</summary>
    public bool TryGetAt(long revision, out KvVersion version)
    {
        if (Latest.ModRevision <= revision)
        {
            version = Latest;
            return true;
        }

        if (_older is not null)
        {
            // Binary search for the last version with ModRevision <= revision.
            int low = 0, high = _older.Count - 1, found = -1;
            while (low <= high)
            {
                var mid = (low + high) >>> 1;
                if (_older[mid].ModRevision <= revision)
                {
                    found = mid;
                    low = mid + 1;
                }
                else
                {
                    high = mid - 1;
                }
            }

            if (found >= 0)
            {
                version = _older[found];
                return true;
            }
        }

        version = default;
        return false;
    }

    /// <summary>
    /// Drops what no read at or above <paramref name="revision"/> can see: every version older than
    /// the newest one at or below it, and that one too when it is a tombstone (etcd's rule).
    /// Returns true when nothing is left (the caller removes the key).
    /// </summary>
    public bool Compact(long revision)
    {
        if (Latest.ModRevision <= revision)
        {
            _older = null;
            return Latest.IsTombstone;
        }

        if (_older is null)
        {
            return false;
        }

        var keepFrom = -1;
        for (var i = _older.Count - 1; i >= 0; i--)
        {
            if (_older[i].ModRevision <= revision)
            {
                keepFrom = _older[i].IsTombstone ? i + 1 : i;
                break;
            }
        }

        if (keepFrom > 0)
        {
            // Copy-on-write, never RemoveRange: a snapshot capture (KvSnapshotCapture) may be reading a prefix of the old
            // list on another thread; the lists it holds are only ever appended to.
            _older = keepFrom < _older.Count ? _older.GetRange(keepFrom, _older.Count - keepFrom) : null;
        }

        return false;
    }

    /// <summary>The etcd wire form of <paramref name="version"/> (a live version) of this key.</summary>
    public EtcdKeyValue ToEtcd(in KvVersion version, bool withValue) => new()
    {
        Key = Key,
        CreateRevision = version.CreateRevision,
        ModRevision = version.ModRevision,
        Version = version.Version,
        Lease = version.Lease,
        Value = withValue ? version.Value! : ByteString.Empty,
    };

    /// <summary>The legacy wire form of <paramref name="version"/> (a live version) of this key.</summary>
    public KeyValue ToKeyValue(in KvVersion version, bool withValue) => new()
    {
        Key = Key,
        Value = withValue ? version.Value! : ByteString.Empty,
        CreateIndex = version.CreateRevision,
        ModIndex = version.ModRevision,
        Version = version.Version,
    };
}

/// <summary>Orders keys as unsigned bytes (<see cref="KvKeyOrder"/>).</summary>
internal sealed class KvKeyHistoryComparer : IComparer<KvKeyHistory>
{
    /// <summary>The single instance.</summary>
    public static readonly KvKeyHistoryComparer Instance = new();

    /// <inheritdoc />
    public int Compare(KvKeyHistory? x, KvKeyHistory? y) => KvKeyOrder.Compare(x!.Key.Span, y!.Key.Span);
}

/// <summary>
/// Content equality of keys, with a <see cref="ReadOnlySpan{T}"/> alternate so point lookups
/// do not allocate. Hashes are per-process randomized; nothing depends on dictionary order.
/// </summary>
internal sealed class KvKeyEqualityComparer : IEqualityComparer<ByteString>, IAlternateEqualityComparer<ReadOnlySpan<byte>, ByteString>
{
    /// <summary>The single instance.</summary>
    public static readonly KvKeyEqualityComparer Instance = new();

    /// <inheritdoc />
    public bool Equals(ByteString? x, ByteString? y) => x!.Span.SequenceEqual(y!.Span);

    /// <inheritdoc />
    public int GetHashCode(ByteString obj) => Hash(obj.Span);

    /// <inheritdoc />
    public bool Equals(ReadOnlySpan<byte> alternate, ByteString other) => alternate.SequenceEqual(other.Span);

    /// <inheritdoc />
    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

    /// <inheritdoc />
    public ByteString Create(ReadOnlySpan<byte> alternate) => ByteString.CopyFrom(alternate);

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }
}
