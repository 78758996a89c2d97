using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>
    /// Serves a read-only etcd Txn (every operation, nested ones included, is a range) from the
    /// applied state without changing it; see <see cref="KvEtcdRules.IsReadOnly"/>. A txn with a
    /// write is refused with <see cref="KvStatus.InvalidCommand"/>: it must go through the log.
    /// </summary>
    public KvResult EtcdReadTxn(TxnRequest txn)
    {
        ArgumentNullException.ThrowIfNull(txn);
        if (!KvEtcdRules.IsReadOnly(txn))
        {
            return new KvValidationError(KvStatus.InvalidCommand, "A txn that writes cannot be served as a read; propose it.").ToResult(Revision);
        }

        var rejection = KvEtcdRules.CheckTxn(txn, Limits);
        return rejection is not null ? rejection.ToResult(Revision) : ApplyEtcdTxn(txn, readOnly: true);
    }

    /// <summary>
    /// etcd's Txn: every compare (of this txn and of the nested txns on the chosen path) is evaluated
    /// first against the state before the txn; then the state-dependent checks of the chosen
    /// operations (puts first, then ranges) may refuse the whole txn, which then changes nothing;
    /// otherwise the chosen operations run in order, reads seeing the txn's earlier writes, and all
    /// writes share one revision (none when nothing changed).
    /// </summary>
    private KvResult ApplyEtcdTxn(TxnRequest txn, bool readOnly)
    {
        var path = new List<bool>();
        ChoosePath(txn, path);
        var chosen = new List<RequestOp>();
        var at = 0;
        CollectChosen(txn, path, ref at, chosen);
        KvValidationError? rejection = null;
        if (!readOnly)
        {
            foreach (var op in chosen)
            {
                if (op.RequestCase == RequestOp.RequestOneofCase.RequestPut && (rejection = PutError(op.RequestPut)) is not null)
                {
                    break;
                }
            }
        }

        if (rejection is null)
        {
            foreach (var op in chosen)
            {
                if (op.RequestCase == RequestOp.RequestOneofCase.RequestRange
                    && (rejection = CheckReadRevision(op.RequestRange.Revision)) is not null)
                {
                    break;
                }
            }
        }

        if (rejection is not null)
        {
            return rejection.ToResult(Revision);
        }

        var scope = new WriteScope(Revision);
        at = 0;
        var response = RunTxn(txn, path, ref at, scope);
        Commit(scope);
        response.Header = new ResponseHeader { Revision = Revision };
        return new KvResult { Status = KvStatus.Ok, Revision = Revision, EtcdTxn = response };
    }

    /// <summary>Appends, in pre-order, whether each txn on the chosen path succeeds (compares against the current state).</summary>
    private void ChoosePath(TxnRequest txn, List<bool> path)
    {
        var succeeded = true;
        foreach (var compare in txn.Compare)
        {
            if (!CompareHolds(compare))
            {
                succeeded = false;
                break;
            }
        }

        path.Add(succeeded);
        foreach (var op in succeeded ? txn.Success : txn.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                ChoosePath(op.RequestTxn, path);
            }
        }
    }

    private static void CollectChosen(TxnRequest txn, List<bool> path, ref int at, List<RequestOp> chosen)
    {
        foreach (var op in path[at++] ? txn.Success : txn.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                CollectChosen(op.RequestTxn, path, ref at, chosen);
            }
            else
            {
                chosen.Add(op);
            }
        }
    }

    private TxnResponse RunTxn(TxnRequest txn, List<bool> path, ref int at, WriteScope scope)
    {
        var succeeded = path[at++];
        var response = new TxnResponse { Succeeded = succeeded };
        foreach (var op in succeeded ? txn.Success : txn.Failure)
        {
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestRange:
                    response.Responses.Add(new ResponseOp { ResponseRange = RangeCore(op.RequestRange, scope.VisibleRevision) });
                    break;
                case RequestOp.RequestOneofCase.RequestPut:
                    response.Responses.Add(new ResponseOp { ResponsePut = PutCore(op.RequestPut, scope) });
                    break;
                case RequestOp.RequestOneofCase.RequestDeleteRange:
                    response.Responses.Add(new ResponseOp { ResponseDeleteRange = DeleteCore(op.RequestDeleteRange, scope) });
                    break;
                case RequestOp.RequestOneofCase.RequestTxn:
                    // etcd sets only the top-level txn's header: a nested TxnResponse carries an empty one (revision 0).
                    var nested = RunTxn(op.RequestTxn, path, ref at, scope);
                    nested.Header = new ResponseHeader();
                    response.Responses.Add(new ResponseOp { ResponseTxn = nested });
                    break;
                default:
                    throw new InvalidOperationException("KvEtcdRules refuses a txn operation with no request.");
            }
        }

        return response;
    }

    /// <summary>
    /// etcd's compare over a key or a range at the current state: every existing key in the range
    /// must satisfy it; with no existing key, a VALUE compare fails and the others compare a key
    /// whose create, mod, version and lease are all 0.
    /// </summary>
    private bool CompareHolds(Compare compare)
    {
        var any = false;
        foreach (var key in EtcdKeys(compare.Key, compare.RangeEnd))
        {
            if (!key.IsLive)
            {
                continue;
            }

            any = true;
            if (!CompareVersion(compare, key.Latest))
            {
                return false;
            }
        }

        return any || (compare.Target != Compare.Types.CompareTarget.Value && CompareVersion(compare, default));
    }

    private static bool CompareVersion(Compare compare, in KvVersion version)
    {
        // A target_union that does not match the target compares with 0 (or the empty value), as etcd.
        var order = compare.Target switch
        {
            Compare.Types.CompareTarget.Value => KvKeyOrder.Compare(
                (version.Value ?? Google.Protobuf.ByteString.Empty).Span,
                compare.TargetUnionCase == Compare.TargetUnionOneofCase.Value ? compare.Value.Span : []),
            Compare.Types.CompareTarget.Create => version.CreateRevision.CompareTo(
                compare.TargetUnionCase == Compare.TargetUnionOneofCase.CreateRevision ? compare.CreateRevision : 0),
            Compare.Types.CompareTarget.Mod => version.ModRevision.CompareTo(
                compare.TargetUnionCase == Compare.TargetUnionOneofCase.ModRevision ? compare.ModRevision : 0),
            Compare.Types.CompareTarget.Version => version.Version.CompareTo(
                compare.TargetUnionCase == Compare.TargetUnionOneofCase.Version ? compare.Version : 0),
            Compare.Types.CompareTarget.Lease => version.Lease.CompareTo(
                compare.TargetUnionCase == Compare.TargetUnionOneofCase.Lease ? compare.Lease : 0),
            _ => 0,
        };
        return compare.Result switch
        {
            Compare.Types.CompareResult.Equal => order == 0,
            Compare.Types.CompareResult.NotEqual => order != 0,
            Compare.Types.CompareResult.Greater => order > 0,
            Compare.Types.CompareResult.Less => order < 0,
            _ => true,
        };
    }
}
