using Google.Protobuf;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Kv;

/// <summary>
/// The <see cref="IStateMachine"/> the node's RaftActor drives: committed entries go to a <see cref="KvStateMachine"/>
/// in log order; queries (linearizable reads after ReadIndex, serializable reads) are encoded <see cref="KvCommand"/>s
/// holding a read (<see cref="KvStateMachine.Query"/>) and are answered from the applied state without changing it. Called only by the
/// RaftActor, one call at a time.
/// </summary>
public sealed class KvRaftStateMachine : IStateMachine
{
    /// <summary>Creates the adapter over an empty store.</summary>
    /// <param name="limits">Key and value limits enforced at apply time too.</param>
    public KvRaftStateMachine(KvLimits limits)
    {
        Store = new KvStateMachine(limits);
    }

    /// <summary>The store (owned by the RaftActor's thread of execution; read it only from there or after it stopped).</summary>
    public KvStateMachine Store { get; }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Apply(long index, ReadOnlyMemory<byte> command) => Store.Apply(index, command.Span);

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Query(ReadOnlyMemory<byte> query)
    {
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
            ? Rejected(KvStatus.InvalidCommand, $"only get, range, etcd range, a read-only etcd txn and etcd HashKV can be queried, not {command.OpCase}")
            : result.ToByteArray();
    }

    /// <inheritdoc />
    /// <remarks>Serializes the whole store on the RaftActor's turn (<see cref="KvStateMachine.Snapshot"/>): correct, not
    /// yet cheap.</remarks>
    public IStateMachineSnapshot CaptureSnapshot() => new ImageStateMachineSnapshot(Store.AppliedIndex, Store.Snapshot());

    /// <inheritdoc />
    public void RestoreSnapshot(long index, ReadOnlyMemory<byte> image)
    {
        try
        {
            Store.Restore(image.Span);
        }
        catch (KvSnapshotFormatException e)
        {
            throw new InvalidDataException($"The KV snapshot image at index {index} is refused: {e.Message}", e);
        }
    }

    private ReadOnlyMemory<byte> Rejected(KvStatus status, string error) =>
        new KvResult { Status = status, Revision = Store.Revision, Error = error }.ToByteArray();
}
