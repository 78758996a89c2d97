using Google.Protobuf;
using KvCluster.Node.Kv;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>
/// The KV state machine behind a RaftActor: <see cref="IStateMachine.Apply"/> applies encoded <see cref="KvCommand"/>s
/// to a <see cref="KvStateMachine"/>, <see cref="IStateMachine.Query"/> answers encoded Get commands. A lock makes the
/// test thread's local reads safe while the actor applies.
/// </summary>
internal sealed class KvStateMachineAdapter : IStateMachine
{
    private readonly Lock _gate = new();
    private readonly KvStateMachine _machine = new();

    public ReadOnlyMemory<byte> Apply(long index, ReadOnlyMemory<byte> command)
    {
        lock (_gate)
        {
            return _machine.Apply(index, command.Span);
        }
    }

    public ReadOnlyMemory<byte> Query(ReadOnlyMemory<byte> query)
    {
        var command = KvCommand.Parser.ParseFrom(query.Span);
        lock (_gate)
        {
            return command.OpCase == KvCommand.OpOneofCase.Get
                ? _machine.Get(command.Get.Key.Span).ToByteArray()
                : new KvResult { Status = KvStatus.InvalidCommand, Error = $"only Get is a query, not {command.OpCase}" }.ToByteArray();
        }
    }

    public IStateMachineSnapshot CaptureSnapshot()
    {
        lock (_gate)
        {
            return new ImageStateMachineSnapshot(_machine.AppliedIndex, _machine.Snapshot());
        }
    }

    public void RestoreSnapshot(long index, ReadOnlyMemory<byte> image)
    {
        lock (_gate)
        {
            try
            {
                _machine.Restore(image.Span);
            }
            catch (KvSnapshotFormatException e)
            {
                throw new InvalidDataException($"KV snapshot at index {index}: {e.Message}", e);
            }
        }
    }

    /// <summary>A local read of <paramref name="key"/> from the applied state.</summary>
    public KvResult Get(string key)
    {
        lock (_gate)
        {
            return _machine.Get(ByteString.CopyFromUtf8(key).Span);
        }
    }
}
