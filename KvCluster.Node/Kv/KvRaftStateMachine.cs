using Google.Protobuf;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Kv;

/// <summary>
/// The <see cref="IStateMachine"/> the node's RaftActor drives: committed entries go to a <see cref="KvStateMachine"/>
/// in log order; queries (linearizable reads after ReadIndex, serializable reads) are encoded <see cref="KvCommand"/>s
/// holding a read (<see cref="KvStateMachine.Query"/>) and are answered from the applied state without changing it. Called only by the
/// RaftActor, one call at a time. Snapshots: <see cref="CaptureSnapshot"/> is the store's cheap capture, serialized later
/// off the actor's turn; <see cref="RestoreSnapshot"/> replaces the store. A query holding
/// <see cref="KvSnapshotExchange.Request"/> captures the store for etcd's <c>Maintenance.Snapshot</c>.
/// </summary>
public sealed class KvRaftStateMachine : IStateMachine
{
    private readonly KvSnapshotExchange? _exchange;

    /// <summary>Creates the adapter over an empty store.</summary>
    /// <param name="limits">Key and value limits enforced at apply time too.</param>
    /// <param name="exchange">Where capture queries leave their captures (null: such queries are refused).</param>
    public KvRaftStateMachine(KvLimits limits, KvSnapshotExchange? exchange = null)
    {
        Store = new KvStateMachine(limits);
        _exchange = exchange;
    }

    /// <summary>The store (owned by the RaftActor's thread of execution; read it only from there or after it stopped).</summary>
    public KvStateMachine Store { get; }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Apply(long index, ReadOnlyMemory<byte> command) => Store.Apply(index, command.Span);

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Query(ReadOnlyMemory<byte> query)
    {
        if (KvSnapshotExchange.IsRequest(query.Span, out var id))
        {
            if (_exchange is null)
            {
                return Rejected(KvStatus.InvalidCommand, "this node's state machine has no snapshot exchange");
            }

            _exchange.Put(id, Store.CaptureSnapshot());
            return new KvResult { Status = KvStatus.Ok, Revision = Store.Revision }.ToByteArray();
        }

        KvCommand command;
        try
        {
            command = KvCommand.Parser.ParseFrom(query.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            return Rejected(KvStatus.InvalidCommand, $"the query is not a KV command: {e.Message}");
        }

        var result = Store.Query(command);
        return result is null
            ? Rejected(KvStatus.InvalidCommand, $"only get, range, etcd range, a read-only etcd txn, etcd HashKV, the lease reads and the auth reads can be queried, not {command.OpCase}")
            : result.ToByteArray();
    }

    /// <inheritdoc />
    /// <remarks>O(keys) reference copies on this turn, no value bytes; see <see cref="KvSnapshotCapture"/>.</remarks>
    public IStateMachineSnapshot CaptureSnapshot() => Store.CaptureSnapshot();

    /// <inheritdoc />
    /// <remarks>Also refused: an image that reflects an index past <paramref name="index"/>. The message names the index
    /// and the problem; the store is unchanged.</remarks>
    public void RestoreSnapshot(long index, ReadOnlyMemory<byte> image)
    {
        try
        {
            Store.Restore(image.Span, index);
        }
        catch (KvSnapshotFormatException e)
        {
            throw new InvalidDataException($"The KV snapshot at index {index} ({image.Length} bytes) is refused: {e.Message}", e);
        }
    }

    private ReadOnlyMemory<byte> Rejected(KvStatus status, string error) =>
        new KvResult { Status = status, Revision = Store.Revision, Error = error }.ToByteArray();
}
