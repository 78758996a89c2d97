using System.Diagnostics;
using Google.Protobuf;
using KvCluster.Client.Snapshots;

namespace KvCluster.Node.Kv;

/// <summary>
/// Snapshots of the store: <see cref="CaptureSnapshot"/> on the owner's turn (cheap), <see cref="KvSnapshotCapture.Serialize"/>
/// anywhere later, <see cref="Restore"/> to replace the whole store. The image is <see cref="KvSnapshotEnvelope"/>'s format 3:
/// a head (applied index, revision, compaction point), sections, a SHA-256.
/// <para>
/// The keys section (<see cref="KvSnapshotSection.Keys"/>): key count, then per key in key order: key length, key,
/// version count, and per version oldest first: mod revision, a flag byte (0 put, 1 tombstone) and, for a put, create
/// revision, version, lease (the 64 bits as unsigned), value length, value. All integers unsigned LEB128 varints.
/// </para>
/// <para>
/// The lease section (<see cref="KvSnapshotSection.Leases"/>, present when a lease exists; issue 16): lease count, then per
/// lease by ascending id: the id (64 bits as unsigned), the TTL in seconds. The keys attached are not written: the restored
/// versions carry their lease.
/// </para>
/// <para>
/// The auth section (<see cref="KvSnapshotSection.Auth"/>, present once the auth store changed): an <c>AuthImage</c>
/// protobuf (users with their password hashes, roles, the enabled flag, the auth revision, the token key).
/// </para>
/// <para>
/// Adding a section: capture it in <see cref="CaptureSnapshot"/> as a
/// <see cref="KvSnapshotSectionCapture"/> (copy references, not contents), and read it in <see cref="ReadSection"/>
/// into a staged part that <see cref="Restore"/> installs only after every section was read (all or nothing).
/// </para>
/// </summary>
public sealed partial class KvStateMachine
{
    /// <summary>Version flag byte: a put (with create revision, version, lease and value).</summary>
    internal const byte PutFlag = 0;

    /// <summary>Version flag byte: a tombstone (nothing follows).</summary>
    internal const byte TombstoneFlag = 1;

    /// <summary>
    /// Raised on the owner's turn right after <see cref="Restore"/> replaced the store (a follower installed a leader's
    /// snapshot, or a node recovered from one). Whatever follows the store incrementally (a watch hub) must resync from
    /// the new state: the changes between its last revision and <see cref="KvRestored.Revision"/> are not replayed, and
    /// revisions below <see cref="KvRestored.CompactRevision"/> are gone (a watcher that needs them gets etcd's compacted
    /// error). The automatic compactor needs nothing: it reads the revision afresh at every check.
    /// </summary>
    public event Action<KvRestored>? Restored;

    /// <summary>
    /// Captures the store as it is now, for serialization later on any thread (see <see cref="KvSnapshotCapture"/> for
    /// why that is safe while the store goes on). Cost on this turn: O(stored keys) reference copies, no value bytes.
    /// The keys are taken in key order from the sorted index, so the image needs no sort afterwards: at 100,000 keys the
    /// walk of the sorted index costs about 20 ms more CPU on this turn than a pass over the hash index, and the sort it
    /// replaces cost 75-95 ms (and about 45% of a snapshot's CPU in a profile; issue 15, docs/BENCHMARKS.md).
    /// </summary>
    public KvSnapshotCapture CaptureSnapshot()
    {
        var keys = new KvCapturedKey[_sorted.Count];
        var i = 0;
        foreach (var history in _sorted)
        {
            var older = history.OlderList;
            keys[i++] = new KvCapturedKey(history.Key, older, older?.Count ?? 0, history.Latest);
        }

        return new KvSnapshotCapture(AppliedIndex, Revision, CompactRevision, keys, _liveCount, [.. CaptureLeases(), .. CaptureAuth()]);
    }

    /// <summary>The whole store as a snapshot image (<see cref="CaptureSnapshot"/> then <see cref="KvSnapshotCapture.Serialize"/>).</summary>
    public byte[] Snapshot() => CaptureSnapshot().Serialize();

    /// <summary>
    /// Replaces the whole store with the one in <paramref name="snapshot"/> (from <see cref="Snapshot"/>, possibly on another
    /// node), history and compaction point included, so reads at past revisions answer as they did; then raises
    /// <see cref="Restored"/>. All or nothing: when the snapshot is rejected the store is unchanged.
    /// </summary>
    /// <exception cref="KvSnapshotFormatException">
    /// The bytes are not a snapshot, are truncated or corrupted (digest mismatch), use an unknown format version or
    /// section type, or describe an impossible store; the message says which and where.
    /// </exception>
    /// <param name="snapshot">The image.</param>
    /// <param name="atIndex">The log index the image is installed at, when a Raft node restores it: an image that
    /// reflects a later index is refused (the log after <paramref name="atIndex"/> would apply twice). Null: no check.</param>
    public void Restore(ReadOnlySpan<byte> snapshot, long? atIndex = null)
    {
        KvSnapshotHeader header;
        try
        {
            header = KvSnapshotEnvelope.Read(snapshot);
        }
        catch (InvalidDataException e)
        {
            throw new KvSnapshotFormatException(e.Message, e);
        }

        if (header.Revision < InitialRevision || header.CompactRevision > header.Revision)
        {
            throw new KvSnapshotFormatException(
                $"The snapshot's revision {header.Revision} and compaction point {header.CompactRevision} are impossible " +
                $"(the revision is at least {InitialRevision} and the compaction point at most the revision).");
        }

        if (header.AppliedIndex > atIndex)
        {
            throw new KvSnapshotFormatException(
                $"The snapshot reflects applied index {header.AppliedIndex}, past index {atIndex.Value} it is installed at.");
        }

        StagedKeys? keys = null;
        SortedDictionary<long, LeaseRecord>? leases = null;
        KvAuthState? auth = null;
        foreach (var section in header.Sections)
        {
            var bytes = snapshot.Slice(section.Offset, section.Length);
            try
            {
                ReadSection(section.Type, bytes, header, ref keys, ref leases, ref auth);
            }
            catch (InvalidDataException e)
            {
                throw new KvSnapshotFormatException($"Section {(KvSnapshotSection)section.Type} at offset {section.Offset}: {e.Message}", e);
            }
        }

        if (keys is null)
        {
            throw new KvSnapshotFormatException($"The snapshot has no keys section (type {(ulong)KvSnapshotSection.Keys}); every snapshot has one.");
        }

        leases ??= [];
        AttachLeaseKeys(leases, keys.Sorted);

        _byKey = keys.ByKey;
        _bySpan = keys.ByKey.GetAlternateLookup<ReadOnlySpan<byte>>();
        _sorted = keys.Sorted;
        _compactable = keys.Compactable;
        _liveCount = keys.Live;
        AppliedIndex = header.AppliedIndex;
        Revision = header.Revision;
        CompactRevision = header.CompactRevision;
        InstallLeases(leases);
        InstallAuth(auth ?? KvAuthState.Initial);
        AssertInvariants();
        Restored?.Invoke(new KvRestored(AppliedIndex, Revision, CompactRevision));
        PublishRestored();
    }

    /// <summary>Reads one section into its staged part; the switch every new section type joins.</summary>
    private static void ReadSection(ulong type, ReadOnlySpan<byte> bytes, KvSnapshotHeader header, ref StagedKeys? keys, ref SortedDictionary<long, LeaseRecord>? leases, ref KvAuthState? auth)
    {
        switch (type)
        {
            case (ulong)KvSnapshotSection.Keys when keys is null:
                keys = ReadKeys(bytes, header.Revision);
                break;
            case (ulong)KvSnapshotSection.Keys:
                throw new KvSnapshotFormatException("The snapshot has two keys sections; it has exactly one.");
            case (ulong)KvSnapshotSection.Leases when leases is null:
                leases = ReadLeaseSection(bytes);
                break;
            case (ulong)KvSnapshotSection.Leases:
                throw new KvSnapshotFormatException("The snapshot has two lease sections; it has at most one.");
            case (ulong)KvSnapshotSection.Auth when auth is null:
                auth = ReadAuthSection(bytes);
                break;
            case (ulong)KvSnapshotSection.Auth:
                throw new KvSnapshotFormatException("The snapshot has two auth sections; it has at most one.");
            default:
                throw new KvSnapshotFormatException(
                    $"The snapshot holds a section of unknown type {type} ({bytes.Length} bytes); this build knows types 1 (keys), 2 (leases) and 3 (auth). " +
                    "It was probably written by a newer AkkaKv; restore it with that version.");
        }
    }

    private static StagedKeys ReadKeys(ReadOnlySpan<byte> bytes, long revision)
    {
        var reader = new KvSnapshotReader(bytes);
        var count = reader.ReadInt64("key count");

        // A key takes at least 4 bytes (length, a byte, version count, mod revision): no bigger table than that allows.
        var capacity = (int)Math.Min(count, bytes.Length / 4);
        var byKey = new Dictionary<ByteString, KvKeyHistory>(capacity, KvKeyEqualityComparer.Instance);
        var inOrder = new List<KvKeyHistory>(capacity);
        var compactable = new HashSet<KvKeyHistory>(ReferenceEqualityComparer.Instance);
        var live = 0;
        KvKeyHistory? previous = null;
        for (long i = 0; i < count; i++)
        {
            var key = ByteString.CopyFrom(reader.ReadBytes($"key {i}"));
            var versions = reader.ReadInt64($"version count of key {i}");
            if (key.IsEmpty || versions < 1)
            {
                throw new KvSnapshotFormatException(
                    $"Key {i} ({KvKeyOrder.Describe(key.Span)}) is impossible: {key.Length} bytes long with {versions} versions.");
            }

            KvKeyHistory? history = null;
            for (long v = 0; v < versions; v++)
            {
                var version = ReadVersion(ref reader, i, key, revision, history);
                if (history is null)
                {
                    history = new KvKeyHistory(key, version);
                    history.ReserveOlder((int)Math.Min(versions - 1, reader.Remaining / 4));
                }
                else
                {
                    history.Append(version);
                }
            }

            if (previous is not null && KvKeyHistoryComparer.Instance.Compare(previous, history!) >= 0)
            {
                throw new KvSnapshotFormatException(
                    $"Key {i} ({KvKeyOrder.Describe(key.Span)}) is out of order; snapshot keys are strictly ascending.");
            }

            byKey.Add(key, history!);
            inOrder.Add(history!);
            if (history!.HasHistory)
            {
                compactable.Add(history);
            }

            if (history.IsLive)
            {
                live++;
            }

            previous = history;
        }

        if (!reader.AtEnd)
        {
            throw new KvSnapshotFormatException($"The keys section has {reader.Remaining} unexpected bytes after its {count} keys.");
        }

        // Built from the whole (already ordered) list at once: a balanced tree in one pass instead of n insertions.
        return new StagedKeys(byKey, new SortedSet<KvKeyHistory>(inOrder, KvKeyHistoryComparer.Instance), compactable) { Live = live };
    }

    /// <summary>Reads one version of key <paramref name="i"/> and checks it against the ones before.</summary>
    private static KvVersion ReadVersion(ref KvSnapshotReader reader, long i, ByteString key, long revision, KvKeyHistory? before)
    {
        var mod = reader.ReadInt64($"mod revision of key {i}");
        var flag = reader.ReadByte($"version flag of key {i}");
        KvVersion version;
        if (flag == TombstoneFlag)
        {
            version = KvVersion.Tombstone(mod);
        }
        else if (flag == PutFlag)
        {
            var create = reader.ReadInt64($"create revision of key {i}");
            var number = reader.ReadInt64($"version of key {i}");
            var lease = (long)reader.ReadUInt64($"lease of key {i}");
            var value = ByteString.CopyFrom(reader.ReadBytes($"value of key {i}"));
            version = new KvVersion(mod, create, number, lease, value);
        }
        else
        {
            throw new KvSnapshotFormatException($"Key {i} ({KvKeyOrder.Describe(key.Span)}) has a version with unknown flag {flag}.");
        }

        var previous = before?.Latest;
        var possible = mod > InitialRevision && mod <= revision
            && (previous is null || mod > previous.Value.ModRevision)
            && (version.IsTombstone
                ? previous is { IsTombstone: false }
                : version.CreateRevision > InitialRevision && version.CreateRevision <= mod && version.Version >= 1
                    && (previous is { IsTombstone: false } p
                        ? version.CreateRevision == p.CreateRevision && version.Version == p.Version + 1
                        : previous is null || (version.CreateRevision == mod && version.Version == 1)));
        if (!possible)
        {
            throw new KvSnapshotFormatException(
                $"Key {i} ({KvKeyOrder.Describe(key.Span)}) has an impossible version: mod revision {mod}, create revision " +
                $"{version.CreateRevision}, version {version.Version}{(version.IsTombstone ? " (tombstone)" : string.Empty)}, " +
                $"after {(previous is null ? "nothing" : $"mod revision {previous.Value.ModRevision}")}, store revision {revision}.");
        }

        return version;
    }

    /// <summary>The keys section read but not installed yet.</summary>
    private sealed class StagedKeys(Dictionary<ByteString, KvKeyHistory> byKey, SortedSet<KvKeyHistory> sorted, HashSet<KvKeyHistory> compactable)
    {
        public Dictionary<ByteString, KvKeyHistory> ByKey { get; } = byKey;

        public SortedSet<KvKeyHistory> Sorted { get; } = sorted;

        public HashSet<KvKeyHistory> Compactable { get; } = compactable;

        public int Live { get; set; }
    }
}

/// <summary>What <see cref="KvStateMachine.Restored"/> reports: the store now reflects this point.</summary>
/// <param name="AppliedIndex">The Raft index the restored state reflects.</param>
/// <param name="Revision">The store revision after the restore.</param>
/// <param name="CompactRevision">The compaction point after the restore (<see cref="KvStateMachine.NotCompacted"/>: none).</param>
public sealed record KvRestored(long AppliedIndex, long Revision, long CompactRevision);
