using System.Diagnostics;
using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

/// <summary>
/// The replicated key-value state machine: applies committed Raft entries in log order and
/// answers reads from the applied state.
/// <para>
/// Contract for the caller (the node's KV actor, after Raft commits an entry):
/// <list type="bullet">
/// <item><see cref="Apply(long, ReadOnlySpan{byte})"/> is deterministic: every node that applies
/// the same entries at the same indexes reaches the same state, produces the same results and the
/// same <see cref="Snapshot"/> bytes. Nothing here reads a clock, a random source or the machine.</item>
/// <item>Exactly once per index: an index at or below <see cref="AppliedIndex"/> is refused with
/// <see cref="KvStatus.StaleIndex"/> and changes nothing. Indexes may skip (entries that are not
/// KV commands, such as configuration changes, need not be passed here).</item>
/// <item>A change records its index as the key's <c>mod_index</c> (the version that
/// compare-and-set checks) and as the store's <see cref="Revision"/>.</item>
/// <item>Not thread-safe: one owner (an actor) calls every member, including reads.</item>
/// </list>
/// </para>
/// Keys are kept twice: a hash index for point operations and a sorted set, ordered as unsigned
/// bytes, for range scans and snapshots. Both always hold the same entries.
/// </summary>
public sealed partial class KvStateMachine
{
    private Dictionary<ByteString, KvEntry> _byKey;
    private Dictionary<ByteString, KvEntry>.AlternateLookup<ReadOnlySpan<byte>> _bySpan;
    private SortedSet<KvEntry> _sorted;

    /// <summary>Creates an empty store (applied index and revision 0).</summary>
    /// <param name="limits">Key and value limits; <see cref="KvLimits.Default"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public KvStateMachine(KvLimits? limits = null)
    {
        Limits = limits ?? KvLimits.Default;
        Limits.EnsureValid();
        _byKey = new Dictionary<ByteString, KvEntry>(KvKeyEqualityComparer.Instance);
        _bySpan = _byKey.GetAlternateLookup<ReadOnlySpan<byte>>();
        _sorted = new SortedSet<KvEntry>(KvEntryKeyComparer.Instance);
    }

    /// <summary>The limits enforced (defensively) at apply time.</summary>
    public KvLimits Limits { get; }

    /// <summary>The index of the last entry applied (any command, including reads and rejections).</summary>
    public long AppliedIndex { get; private set; }

    /// <summary>The index of the last entry that changed the store (0 for a store never changed).</summary>
    public long Revision { get; private set; }

    /// <summary>The number of keys stored.</summary>
    public int Count => _byKey.Count;

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

        var result = command.OpCase switch
        {
            KvCommand.OpOneofCase.Put => ApplyPut(index, command.Put),
            KvCommand.OpOneofCase.Get => Get(command.Get.Key.Span),
            KvCommand.OpOneofCase.Delete => ApplyDelete(index, command.Delete),
            KvCommand.OpOneofCase.DeleteRange => ApplyDeleteRange(index, command.DeleteRange),
            KvCommand.OpOneofCase.Range => Range(command.Range),
            _ => throw new UnreachableException("KvCommandRules accepts only known operations."),
        };
        AssertInvariants();
        return result;
    }

    private KvResult ApplyPut(long index, PutRequest put)
    {
        _bySpan.TryGetValue(put.Key.Span, out var existing);
        if (put.HasExpectedVersion && put.ExpectedVersion != (existing?.ModIndex ?? 0))
        {
            return VersionMismatch(existing);
        }

        var result = new PutResult();
        if (existing is not null)
        {
            if (put.PrevKv)
            {
                result.Previous = existing.ToKeyValue(withValue: true);
            }

            existing.Value = put.Value;
            existing.ModIndex = index;
            existing.Version++;
        }
        else
        {
            existing = new KvEntry(put.Key, put.Value, index, index, 1);
            _byKey.Add(existing.Key, existing);
            _sorted.Add(existing);
        }

        Revision = index;
        result.Current = existing.ToKeyValue(withValue: false);
        return new KvResult { Status = KvStatus.Ok, Revision = Revision, Put = result };
    }

    private KvResult ApplyDelete(long index, DeleteRequest delete)
    {
        _bySpan.TryGetValue(delete.Key.Span, out var existing);
        if (delete.HasExpectedVersion && existing is not null && delete.ExpectedVersion != existing.ModIndex)
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

        Remove(existing);
        Revision = index;
        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            Delete = new DeleteResult { Previous = existing.ToKeyValue(withValue: true) },
        };
    }

    private KvResult ApplyDeleteRange(long index, DeleteRangeRequest request)
    {
        var doomed = new List<KvEntry>();
        foreach (var entry in Scan(request.Prefix, KvKeyOrder.PrefixEnd(request.Prefix.Span)))
        {
            doomed.Add(entry);
        }

        foreach (var entry in doomed)
        {
            Remove(entry);
        }

        if (doomed.Count > 0)
        {
            Revision = index;
        }

        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            DeleteRange = new DeleteRangeResult { Deleted = (long)doomed.Count },
        };
    }

    private void Remove(KvEntry entry)
    {
        _byKey.Remove(entry.Key);
        _sorted.Remove(entry);
    }

    private KvResult VersionMismatch(KvEntry? existing) => new()
    {
        Status = KvStatus.VersionMismatch,
        Revision = Revision,
        ActualVersion = existing?.ModIndex ?? 0,
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
        Debug.Assert(_byKey.Count == _sorted.Count, "The hash index and the sorted index hold the same entries.");
        Debug.Assert(Revision <= AppliedIndex, "A change is an applied entry.");
    }
}
