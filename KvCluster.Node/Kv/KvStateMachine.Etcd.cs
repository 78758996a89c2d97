using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;
using DeleteRangeRequest = KvCluster.Client.Etcd.DeleteRangeRequest;
using PutRequest = KvCluster.Client.Etcd.PutRequest;
using RangeRequest = KvCluster.Client.Etcd.RangeRequest;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>
    /// Serves an etcd Range from the applied state, at its revision (0 = the newest) with etcd's rules:
    /// key/range_end forms, count of every key in the range (filters and limit aside), min/max mod and
    /// create revision filters, sort (target KEY with order NONE is ascending by key; another target
    /// with NONE is ascending), limit with <c>more</c>, keys_only and count_only. A local read: see
    /// <see cref="Get"/> about linearizability. Refuses what the validator refuses, a compacted and a
    /// future revision.
    /// </summary>
    public KvResult EtcdRange(RangeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var rejection = KvEtcdRules.CheckRange(request, Limits) ?? CheckReadRevision(request.Revision);
        if (rejection is not null)
        {
            return rejection.ToResult(Revision);
        }

        return new KvResult { Status = KvStatus.Ok, Revision = Revision, EtcdRange = RangeCore(request, Revision) };
    }

    /// <summary>The answer to a range whose revision was checked; the header carries <paramref name="headerRevision"/>.</summary>
    private RangeResponse RangeCore(RangeRequest request, long headerRevision)
    {
        var at = request.Revision > 0 ? request.Revision : long.MaxValue;
        var response = new RangeResponse { Header = new ResponseHeader { Revision = headerRevision } };
        var fetchAll = request.SortOrder != RangeRequest.Types.SortOrder.None
            || request.MinModRevision != 0 || request.MaxModRevision != 0
            || request.MinCreateRevision != 0 || request.MaxCreateRevision != 0;
        long keep = request.CountOnly ? 0 : fetchAll || request.Limit <= 0 ? long.MaxValue : request.Limit + 1;
        var found = new List<KvFound>();
        long count = 0;
        foreach (var key in EtcdKeys(request.Key, request.RangeEnd))
        {
            if (!key.TryGetAt(at, out var version) || version.IsTombstone)
            {
                continue;
            }

            count++;
            if (found.Count < keep)
            {
                found.Add(new KvFound(key, version));
            }
        }

        response.Count = count;
        if (request.CountOnly)
        {
            return response;
        }

        // etcd filters after counting: count is every key in the range.
        if (request.MaxModRevision != 0)
        {
            found.RemoveAll(f => f.Version.ModRevision > request.MaxModRevision);
        }

        if (request.MinModRevision != 0)
        {
            found.RemoveAll(f => f.Version.ModRevision < request.MinModRevision);
        }

        if (request.MaxCreateRevision != 0)
        {
            found.RemoveAll(f => f.Version.CreateRevision > request.MaxCreateRevision);
        }

        if (request.MinCreateRevision != 0)
        {
            found.RemoveAll(f => f.Version.CreateRevision < request.MinCreateRevision);
        }

        found = Sort(found, request.SortTarget, request.SortOrder);
        if (request.Limit > 0 && found.Count > request.Limit)
        {
            found.RemoveRange((int)request.Limit, found.Count - (int)request.Limit);
            response.More = true;
        }

        foreach (var f in found)
        {
            response.Kvs.Add(f.Key.ToEtcd(f.Version, withValue: !request.KeysOnly));
        }

        return response;
    }

    /// <summary>etcd's sort defaults; a stable sort (ties stay in key order), so every replica answers alike.</summary>
    private static List<KvFound> Sort(List<KvFound> found, RangeRequest.Types.SortTarget target, RangeRequest.Types.SortOrder order)
    {
        if (target != RangeRequest.Types.SortTarget.Key && order == RangeRequest.Types.SortOrder.None)
        {
            order = RangeRequest.Types.SortOrder.Ascend;
        }
        else if (target == RangeRequest.Types.SortTarget.Key && order == RangeRequest.Types.SortOrder.Ascend)
        {
            order = RangeRequest.Types.SortOrder.None;
        }

        if (order == RangeRequest.Types.SortOrder.None)
        {
            return found;
        }

        IComparer<KvFound> comparer = target switch
        {
            RangeRequest.Types.SortTarget.Version => Comparer<KvFound>.Create((x, y) => x.Version.Version.CompareTo(y.Version.Version)),
            RangeRequest.Types.SortTarget.Create => Comparer<KvFound>.Create((x, y) => x.Version.CreateRevision.CompareTo(y.Version.CreateRevision)),
            RangeRequest.Types.SortTarget.Mod => Comparer<KvFound>.Create((x, y) => x.Version.ModRevision.CompareTo(y.Version.ModRevision)),
            RangeRequest.Types.SortTarget.Value => Comparer<KvFound>.Create((x, y) => KvKeyOrder.Compare(x.Version.Value!.Span, y.Version.Value!.Span)),
            _ => Comparer<KvFound>.Create((x, y) => KvKeyOrder.Compare(x.Key.Key.Span, y.Key.Key.Span)),
        };
        return order == RangeRequest.Types.SortOrder.Descend
            ? found.OrderByDescending(f => f, comparer).ToList()
            : found.OrderBy(f => f, comparer).ToList();
    }

    /// <summary>An etcd Put on its own: one revision.</summary>
    private KvResult ApplyEtcdPut(PutRequest put)
    {
        var rejection = PutError(put);
        if (rejection is not null)
        {
            return rejection.ToResult(Revision);
        }

        var scope = new WriteScope(Revision);
        var response = PutCore(put, scope);
        Commit(scope);
        return new KvResult { Status = KvStatus.Ok, Revision = Revision, EtcdPut = response };
    }

    /// <summary>An etcd DeleteRange on its own: one revision when it deleted something, none otherwise.</summary>
    private KvResult ApplyEtcdDeleteRange(DeleteRangeRequest delete)
    {
        var scope = new WriteScope(Revision);
        var response = DeleteCore(delete, scope);
        Commit(scope);
        return new KvResult { Status = KvStatus.Ok, Revision = Revision, EtcdDeleteRange = response };
    }

    /// <summary>What etcd refuses at apply time in a put (state-dependent): ignore_* on a missing key, an unknown lease.</summary>
    private KvValidationError? PutError(PutRequest put)
    {
        if ((put.IgnoreValue || put.IgnoreLease) && Live(put.Key.Span) is null)
        {
            return new KvValidationError(KvStatus.InvalidArgument, EtcdErrors.KeyNotFound);
        }

        return LeaseError(put);
    }

    private PutResponse PutCore(PutRequest put, WriteScope scope)
    {
        var response = new PutResponse();
        _bySpan.TryGetValue(put.Key.Span, out var history);
        var existing = history is { IsLive: true } ? history : null;
        if (put.PrevKv && existing is not null)
        {
            response.PrevKv = existing.ToEtcd(existing.Latest, withValue: true);
        }

        var value = put.IgnoreValue ? existing?.Latest.Value ?? ByteString.Empty : put.Value;
        var lease = put.IgnoreLease ? existing?.Latest.Lease ?? 0 : put.Lease;
        WriteVersion(history, put.Key, value, lease, scope.WriteRevision);
        scope.Changed = true;
        response.Header = new ResponseHeader { Revision = scope.WriteRevision };
        return response;
    }

    private DeleteRangeResponse DeleteCore(DeleteRangeRequest delete, WriteScope scope)
    {
        var doomed = new List<KvKeyHistory>();
        foreach (var key in EtcdKeys(delete.Key, delete.RangeEnd))
        {
            if (key.IsLive)
            {
                doomed.Add(key);
            }
        }

        var response = new DeleteRangeResponse { Deleted = doomed.Count };
        foreach (var key in doomed)
        {
            if (delete.PrevKv)
            {
                response.PrevKvs.Add(key.ToEtcd(key.Latest, withValue: true));
            }

            WriteTombstone(key, scope.WriteRevision);
        }

        scope.Changed |= doomed.Count > 0;
        response.Header = new ResponseHeader { Revision = scope.VisibleRevision };
        return response;
    }

    /// <summary>Moves <see cref="Revision"/> to the scope's write revision when something changed.</summary>
    private void Commit(WriteScope scope)
    {
        if (scope.Changed)
        {
            Revision = scope.WriteRevision;
        }
    }

    /// <summary>A key and the version of it a read found.</summary>
    private readonly record struct KvFound(KvKeyHistory Key, KvVersion Version);

    /// <summary>The revision one command writes at, and whether it has written anything yet.</summary>
    private sealed class WriteScope(long beginRevision)
    {
        /// <summary>The store revision before the command.</summary>
        public long BeginRevision { get; } = beginRevision;

        /// <summary>The revision every change of the command carries.</summary>
        public long WriteRevision => BeginRevision + 1;

        /// <summary>True once a change was made.</summary>
        public bool Changed { get; set; }

        /// <summary>The revision reads inside the command see (etcd: the write revision once something changed).</summary>
        public long VisibleRevision => Changed ? WriteRevision : BeginRevision;
    }
}
