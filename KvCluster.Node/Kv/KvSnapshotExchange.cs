using System.Collections.Concurrent;

namespace KvCluster.Node.Kv;

/// <summary>
/// Hands a snapshot capture from the RaftActor's turn to whoever asked for it (etcd's <c>Maintenance.Snapshot</c>):
/// the asker sends the RaftActor a <c>LocalQuery</c> holding <see cref="Request"/>'s bytes; <see cref="KvRaftStateMachine"/>
/// captures the store on that turn (cheap, see <see cref="KvSnapshotCapture"/>) and leaves the capture here under the
/// request's id; the asker takes it (<see cref="TryTake"/>) and serializes it on its own thread. One per node; thread-safe.
/// </summary>
public sealed class KvSnapshotExchange
{
    /// <summary>The marker that starts a capture query: 0xFF (wire type 7, never a valid protobuf tag, so never a
    /// <c>KvCommand</c>) then "AKVS-CAPTURE".</summary>
    private static ReadOnlySpan<byte> Marker => [0xFF, (byte)'A', (byte)'K', (byte)'V', (byte)'S', (byte)'-', (byte)'C', (byte)'A', (byte)'P', (byte)'T', (byte)'U', (byte)'R', (byte)'E'];

    private readonly ConcurrentDictionary<Guid, KvSnapshotCapture> _captures = new();

    /// <summary>The query bytes that ask for a capture stored under <paramref name="id"/>.</summary>
    public static byte[] Request(Guid id)
    {
        var bytes = new byte[Marker.Length + 16];
        Marker.CopyTo(bytes);
        id.TryWriteBytes(bytes.AsSpan(Marker.Length));
        return bytes;
    }

    /// <summary>True (with its id) when <paramref name="query"/> is a capture request.</summary>
    public static bool IsRequest(ReadOnlySpan<byte> query, out Guid id)
    {
        if (query.Length == Marker.Length + 16 && query.StartsWith(Marker))
        {
            id = new Guid(query[Marker.Length..]);
            return true;
        }

        id = Guid.Empty;
        return false;
    }

    /// <summary>Leaves <paramref name="capture"/> for the asker of <paramref name="id"/>.</summary>
    public void Put(Guid id, KvSnapshotCapture capture) => _captures[id] = capture;

    /// <summary>Takes the capture left under <paramref name="id"/>, if any.</summary>
    public bool TryTake(Guid id, out KvSnapshotCapture capture) => _captures.TryRemove(id, out capture!);
}
