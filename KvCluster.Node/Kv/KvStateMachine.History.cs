using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>
    /// etcd's Compact(revision): refused with <see cref="KvStatus.Compacted"/> at or below the current
    /// compaction point and with <see cref="KvStatus.FutureRevision"/> above the store revision;
    /// otherwise every key keeps only what reads at or above the revision can see (its newest version
    /// at or below it, unless that is a tombstone, and everything newer). Compaction moves no revision.
    /// Cost: O(keys changed since they were last compacted), not O(keys).
    /// </summary>
    private KvResult ApplyCompact(CompactionRequest request)
    {
        var revision = request.Revision;
        if (revision <= CompactRevision)
        {
            return new KvValidationError(KvStatus.Compacted, EtcdErrors.Compacted).ToResult(Revision);
        }

        if (revision > Revision)
        {
            return new KvValidationError(KvStatus.FutureRevision, EtcdErrors.FutureRevision).ToResult(Revision);
        }

        Compact(revision);
        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            EtcdCompact = new CompactionResponse { Header = new ResponseHeader { Revision = Revision } },
        };
    }

    private void Compact(long revision)
    {
        CompactRevision = revision;
        List<KvKeyHistory>? emptied = null;
        List<KvKeyHistory>? settled = null;
        foreach (var key in _compactable)
        {
            if (key.Compact(revision))
            {
                (emptied ??= []).Add(key);
            }
            else if (!key.HasHistory)
            {
                (settled ??= []).Add(key);
            }
        }

        foreach (var key in emptied ?? [])
        {
            _compactable.Remove(key);
            _byKey.Remove(key.Key);
            _sorted.Remove(key);
        }

        foreach (var key in settled ?? [])
        {
            _compactable.Remove(key);
        }
    }
}
