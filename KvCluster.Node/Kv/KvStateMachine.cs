using System.Diagnostics;
using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>
/// The replicated key-value state machine, in etcd's MVCC data model: applies committed Raft entries
/// in log order and answers reads from the applied state, at the newest revision or a past one.
/// <para>
/// Contract for the caller (the node's KV actor, after Raft commits an entry):
/// <list type="bullet">
/// <item><see cref="Apply(long, ReadOnlySpan{byte})"/> is deterministic: every node that applies
/// the same entries at the same indexes reaches the same state, produces the same results and the
/// same <see cref="Snapshot"/> bytes. Nothing here reads a clock, a random source or the machine.</item>
/// <item>Exactly once per index: an index at or below <see cref="AppliedIndex"/> is refused with
/// <see cref="KvStatus.StaleIndex"/> and changes nothing. Indexes may skip (entries that are not
/// KV commands, such as configuration changes, need not be passed here).</item>
/// <item>Revisions are etcd's: the store starts at revision 1; a command that changes something (a
/// put, a delete that deleted a key, a txn in which at least one write ran) moves
/// <see cref="Revision"/> by exactly one, and every change it makes carries that revision; a read,
/// a delete of nothing, a failed compare-and-set and a rejected command move nothing.</item>
/// <item>Per key: create revision, mod revision, version (1 after the creating put, +1 per put,
/// reset by a delete) and lease. Past versions stay readable until <see cref="CompactRevision"/>
/// passes them.</item>
/// <item>Not thread-safe: one owner (an actor) calls every member, including reads.</item>
/// </list>
/// </para>
/// Keys are kept twice: a hash index for point operations and a sorted set, ordered as unsigned
/// bytes, for range scans and snapshots. Both always hold the same keys, including keys whose newest
/// version is a tombstone (until compaction drops them).
/// </summary>
public sealed partial class KvStateMachine
{
    private Dictionary<ByteString, KvKeyHistory> _byKey;
    private Dictionary<ByteString, KvKeyHistory>.AlternateLookup<ReadOnlySpan<byte>> _bySpan;
    private SortedSet<KvKeyHistory> _sorted;

    /// <summary>Keys that compaction may shrink (older versions or a tombstone); order never matters.</summary>
    private HashSet<KvKeyHistory> _compactable;

    /// <summary>Keys whose newest version is not a tombstone.</summary>
    private int _liveCount;

    /// <summary>Creates an empty store (applied index 0, revision 1, never compacted).</summary>
    /// <param name="limits">Key, value, request and txn limits; <see cref="KvLimits.Default"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public KvStateMachine(KvLimits? limits = null)
    {
        Limits = limits ?? KvLimits.Default;
        Limits.EnsureValid();
        _byKey = new Dictionary<ByteString, KvKeyHistory>(KvKeyEqualityComparer.Instance);
        _bySpan = _byKey.GetAlternateLookup<ReadOnlySpan<byte>>();
        _sorted = new SortedSet<KvKeyHistory>(KvKeyHistoryComparer.Instance);
        _compactable = new HashSet<KvKeyHistory>(ReferenceEqualityComparer.Instance);
    }

    /// <summary>The revision of an empty store (etcd's: the first write is revision 2).</summary>
    public const long InitialRevision = 1;

    /// <summary>The compaction point of a store never compacted (etcd's -1).</summary>
    public const long NotCompacted = -1;

    /// <summary>The limits enforced (defensively) at apply time.</summary>
    public KvLimits Limits { get; }

    /// <summary>The index of the last entry applied (any command, including reads and rejections).</summary>
    public long AppliedIndex { get; private set; }

    /// <summary>The store revision: <see cref="InitialRevision"/>, plus one per command that changed something.</summary>
    public long Revision { get; private set; } = InitialRevision;

    /// <summary>
    /// The revision of the last compaction (<see cref="NotCompacted"/> when none): reads below it are
    /// refused with <see cref="KvStatus.Compacted"/>.
    /// </summary>
    public long CompactRevision { get; private set; } = NotCompacted;

    /// <summary>The number of keys that exist now.</summary>
    public int Count => _liveCount;

    /// <summary>The number of key versions retained (live, past and tombstones): what compaction shrinks.</summary>
    public long VersionCount
    {
        get
        {
            long total = _byKey.Count;
            foreach (var key in _compactable)
            {
                total += key.VersionCount - 1;
            }

            return total;
        }
    }

    /// <summary>
    /// Applies the encoded <see cref="KvCommand"/> committed at <paramref name="index"/> and returns
    /// the encoded <see cref="KvResult"/> (a new array the caller owns). Empty bytes are a no-op
    /// entry; bytes that are not a command give <see cref="KvStatus.InvalidCommand"/>. Both advance
    /// <see cref="AppliedIndex"/> like any other entry.
    /// </summary>
    public byte[] Apply(long index, ReadOnlySpan<byte> command)
    {
        if (index <= AppliedIndex)
        {
            return StaleIndex(index).ToByteArray();
        }

        if (command.IsEmpty)
        {
            AppliedIndex = index;
            return new KvResult { Status = KvStatus.Ok, Revision = Revision }.ToByteArray();
        }

        KvCommand parsed;
        try
        {
            parsed = KvCommand.Parser.ParseFrom(command);
        }
        catch (InvalidProtocolBufferException e)
        {
            AppliedIndex = index;
            return new KvResult
            {
                Status = KvStatus.InvalidCommand,
                Revision = Revision,
                Error = $"Entry {index} is not a KV command ({command.Length} bytes): {e.Message}",
            }.ToByteArray();
        }

        return Apply(index, parsed).ToByteArray();
    }

    /// <summary>
    /// Applies <paramref name="command"/> committed at <paramref name="index"/> and returns its
    /// result. See <see cref="Apply(long, ReadOnlySpan{byte})"/> for the contract. The command
    /// must not be mutated afterwards: the store keeps its key and value byte strings.
    /// </summary>
    public KvResult Apply(long index, KvCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (index <= AppliedIndex)
        {
            return StaleIndex(index);
        }

        AppliedIndex = index;
        var rejection = KvCommandRules.Check(command, Limits);
        if (rejection is not null)
        {
            return rejection.ToResult(Revision);
        }

        if (AuthRefusal(command) is { } refusal)
        {
            return refusal;
        }

        BeginEvents();
        var result = command.OpCase switch
        {
            KvCommand.OpOneofCase.Put => ApplyPut(command.Put),
            KvCommand.OpOneofCase.Get => Get(command.Get.Key.Span),
            KvCommand.OpOneofCase.Delete => ApplyDelete(command.Delete),
            KvCommand.OpOneofCase.DeleteRange => ApplyDeleteRange(command.DeleteRange),
            KvCommand.OpOneofCase.Range => Range(command.Range),
            KvCommand.OpOneofCase.EtcdRange => EtcdRange(command.EtcdRange),
            KvCommand.OpOneofCase.EtcdPut => ApplyEtcdPut(command.EtcdPut),
            KvCommand.OpOneofCase.EtcdDeleteRange => ApplyEtcdDeleteRange(command.EtcdDeleteRange),
            KvCommand.OpOneofCase.EtcdTxn => ApplyEtcdTxn(command.EtcdTxn, readOnly: false),
            KvCommand.OpOneofCase.EtcdCompact => ApplyCompact(command.EtcdCompact),
            KvCommand.OpOneofCase.EtcdHashKv => HashKv(command.EtcdHashKv),
            KvCommand.OpOneofCase.LeaseGrant => ApplyLeaseGrant(command.LeaseGrant),
            KvCommand.OpOneofCase.LeaseRevoke => ApplyLeaseRevoke(command.LeaseRevoke),
            KvCommand.OpOneofCase.LeaseTimeToLive => LeaseTimeToLive(command.LeaseTimeToLive),
            KvCommand.OpOneofCase.LeaseLeases => LeaseLeases(),
            KvCommand.OpOneofCase.LeaseTable => LeaseTableQuery(),
            KvCommand.OpOneofCase.Auth => ApplyAuth(command.Auth),
            KvCommand.OpOneofCase.LeaseKeepAlive => new KvValidationError(
                KvStatus.InvalidCommand, "A lease keep-alive is served by the leader's lessor, never applied from the log.").ToResult(Revision),
            _ => throw new UnreachableException("KvCommandRules accepts only known operations."),
        };
        PublishEvents();
        AssertInvariants();
        return result;
    }

    /// <summary>Legacy put: a compare-and-set on the mod revision when expected_version is set.</summary>
    private KvResult ApplyPut(PutRequest put)
    {
        _bySpan.TryGetValue(put.Key.Span, out var history);
        var existing = history is { IsLive: true } ? history : null;
        if (put.HasExpectedVersion && put.ExpectedVersion != (existing?.Latest.ModRevision ?? 0))
        {
            return VersionMismatch(existing);
        }

        var result = new PutResult();
        if (existing is not null && put.PrevKv)
        {
            result.Previous = existing.ToKeyValue(existing.Latest, withValue: true);
        }

        Revision++;
        var written = WriteVersion(history, put.Key, put.Value, lease: 0, Revision);
        result.Current = written.ToKeyValue(written.Latest, withValue: false);
        return new KvResult { Status = KvStatus.Ok, Revision = Revision, Put = result };
    }

    /// <summary>Legacy delete of one key: a miss or a mismatch moves no revision.</summary>
    private KvResult ApplyDelete(DeleteRequest delete)
    {
        var existing = Live(delete.Key.Span);
        if (delete.HasExpectedVersion && existing is not null && delete.ExpectedVersion != existing.Latest.ModRevision)
        {
            return VersionMismatch(existing);
        }

        if (existing is null)
        {
            // "Expected version N > 0" names a key that is not there: that is a mismatch, not a
            // plain miss, so a compare-and-delete loop learns the key is gone (actual version 0).
            return delete.HasExpectedVersion && delete.ExpectedVersion != 0
                ? VersionMismatch(null)
                : new KvResult { Status = KvStatus.NotFound, Revision = Revision };
        }

        var previous = existing.ToKeyValue(existing.Latest, withValue: true);
        Revision++;
        WriteTombstone(existing, Revision);
        return new KvResult { Status = KvStatus.Ok, Revision = Revision, Delete = new DeleteResult { Previous = previous } };
    }

    /// <summary>Legacy delete by prefix: one revision for all the keys it deleted, none when it deleted nothing.</summary>
    private KvResult ApplyDeleteRange(DeleteRangeRequest request)
    {
        var doomed = new List<KvKeyHistory>();
        foreach (var key in Scan(request.Prefix, KvKeyOrder.PrefixEnd(request.Prefix.Span)))
        {
            if (key.IsLive)
            {
                doomed.Add(key);
            }
        }

        if (doomed.Count > 0)
        {
            Revision++;
            foreach (var key in doomed)
            {
                WriteTombstone(key, Revision);
            }
        }

        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            DeleteRange = new DeleteRangeResult { Deleted = (long)doomed.Count },
        };
    }

    private KvResult VersionMismatch(KvKeyHistory? existing) => new()
    {
        Status = KvStatus.VersionMismatch,
        Revision = Revision,
        ActualVersion = existing?.Latest.ModRevision ?? 0,
    };

    private KvResult StaleIndex(long index) => new()
    {
        Status = KvStatus.StaleIndex,
        Revision = Revision,
        Error = index <= 0
            ? $"Index {index} is not a log index; Raft log indexes start at 1."
            : $"Index {index} was already applied (applied index is {AppliedIndex}); an entry is applied exactly once.",
    };

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_byKey.Count == _sorted.Count, "The hash index and the sorted index hold the same keys.");
        Debug.Assert(_liveCount <= _byKey.Count, "Live keys are stored keys.");
        Debug.Assert(CompactRevision <= Revision, "Compaction never passes the store revision.");
    }
}
