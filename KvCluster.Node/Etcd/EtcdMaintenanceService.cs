using System.Security.Cryptography;
using Akka.Actor;
using Google.Protobuf;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Client.Snapshots;
using KvCommand = KvCluster.Client.Protocol.KvCommand;
using KvResult = KvCluster.Client.Protocol.KvResult;
using KvStatus = KvCluster.Client.Protocol.KvStatus;
using KvRequest = KvCluster.Client.Protocol.KvRequest;
using KvResponse = KvCluster.Client.Protocol.KvResponse;
using ReadConsistency = KvCluster.Client.Protocol.ReadConsistency;
using ResponseCode = KvCluster.Client.Protocol.ResponseCode;
using KvCluster.Node.Hosting;
using KvCluster.Node.Kv;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Raft.Persistence;
using Microsoft.Data.Sqlite;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's <c>Maintenance</c> service, mapped onto what an AkkaKv node has:
/// <list type="bullet">
/// <item><c>Status</c>: this node's Raft status (leader, term, commit index as raftIndex, applied index), the size of
/// its journal (<c>raft.db</c> and its WAL) as dbSize, learner or not, and the store revision in the header.</item>
/// <item><c>Alarm</c>: AkkaKv raises no alarms; GET and DEACTIVATE answer an empty list, ACTIVATE is refused.</item>
/// <item><c>HashKV</c>: the state machine's hash of its key-value history up to a revision, as a local query (it
/// describes the node asked); <c>Hash</c>: the same at the newest revision.</item>
/// <item><c>MoveLeader</c>: Raft leadership transfer (thesis §3.10) on the leader; waits until the target leads, and
/// starts the transfer again when the leader abandoned it (after an election timeout) while the deadline allows.</item>
/// <item><c>Defragment</c>: a SQLite WAL checkpoint (TRUNCATE) of the journal: the WAL's pages go into raft.db and the
/// WAL file is emptied. Nothing else to reclaim.</item>
/// <item><c>Snapshot</c>: this node's state-machine snapshot (the KV store with its history, at its applied index),
/// streamed in chunks, then its SHA-256 as a last 32-byte chunk, as etcd sends its database and digest;
/// <c>kv snapshot restore</c> seeds a new data directory from it (docs/OPERATIONS.md).</item>
/// </list>
/// </summary>
internal sealed class EtcdMaintenanceService : Maintenance.MaintenanceBase
{
    /// <summary>The "etcd version" AkkaKv reports (etcd clients and etcdctl 3.4 accept it).</summary>
    public const string EtcdVersion = "3.4.0";

    /// <summary>Bytes per Snapshot message (etcd sends 32 KiB).</summary>
    private const int SnapshotChunkBytes = 32 * 1024;

    private readonly EtcdGateway _gateway;

    /// <summary>Creates the service over the node's gateway.</summary>
    public EtcdMaintenanceService(EtcdGateway gateway)
    {
        _gateway = gateway;
    }

    private KvNode Node => _gateway.Node;

    /// <summary>The journal database of <paramref name="node"/>.</summary>
    internal static string JournalPath(KvNode node) => RaftJournalConfig.DatabasePath(node.DataDirectory, new RaftJournalOptions());

    /// <summary>The journal's size on disk: the database and its WAL.</summary>
    internal static long JournalBytes(KvNode node)
    {
        var path = JournalPath(node);
        return FileSize(path) + FileSize(path + "-wal");
    }

    /// <inheritdoc />
    public override async Task<StatusResponse> Status(StatusRequest request, ServerCallContext context)
    {
        var status = await _gateway.RaftStatusAsync(context.CancellationToken).ConfigureAwait(false);
        var size = JournalBytes(Node);
        var response = new StatusResponse
        {
            Header = _gateway.NewHeader(await RevisionAsync(context).ConfigureAwait(false)),
            Version = EtcdVersion,
            DbSize = size,
            DbSizeInUse = size,
            Leader = status.Leader,
            RaftIndex = (ulong)Math.Max(0, status.Commit),
            RaftTerm = (ulong)Math.Max(0, status.Term),
            RaftAppliedIndex = (ulong)Math.Max(0, status.Applied),
            IsLearner = status.Learners.Contains(status.NodeId),
            AkkakvSnapshotIndex = status.SnapshotIndex,
            AkkakvSnapshotTerm = status.SnapshotTerm,
            AkkakvSnapshotBytes = status.SnapshotBytes,
            AkkakvSnapshotTakenAtUnixMs = status.SnapshotTakenAt is { } takenAt ? new DateTimeOffset(DateTime.SpecifyKind(takenAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds() : 0,
            AkkakvFirstLogIndex = status.FirstLogIndex,
        };
        if (status.Recovering)
        {
            response.Errors.Add("the Raft node is still replaying its journal");
        }
        else if (status.Leader == 0)
        {
            response.Errors.Add("etcdserver: no leader");
        }

        return response;
    }

    /// <inheritdoc />
    public override Task<AlarmResponse> Alarm(AlarmRequest request, ServerCallContext context)
    {
        if (request.Action == AlarmRequest.Types.AlarmAction.Activate)
        {
            throw EtcdErrors.New(StatusCode.Unimplemented, "etcdserver: AkkaKv raises no alarms (no space quota, no corruption check); there is nothing to activate");
        }

        return Task.FromResult(new AlarmResponse { Header = _gateway.NewHeader() });
    }

    /// <inheritdoc />
    /// <remarks>etcd hashes its whole database file; AkkaKv answers the hash of its key-value history at the newest
    /// revision (HashKV with revision 0), which serves the same purpose: replicas that applied the same log agree.</remarks>
    public override async Task<HashResponse> Hash(HashRequest request, ServerCallContext context)
    {
        var hash = await HashKvAsync(new HashKVRequest(), context).ConfigureAwait(false);
        return new HashResponse { Header = hash.Header, Hash = hash.Hash };
    }

    /// <inheritdoc />
    public override Task<HashKVResponse> HashKV(HashKVRequest request, ServerCallContext context) => HashKvAsync(request, context);

    /// <summary>HashKV as a local query of this node's state machine (it describes the node asked, as etcd's does).</summary>
    private async Task<HashKVResponse> HashKvAsync(HashKVRequest request, ServerCallContext context)
    {
        var result = await _gateway.ExecuteAsync(new KvCommand { EtcdHashKv = request }, serializable: true, isWrite: false, context).ConfigureAwait(false);
        var response = result.EtcdHashKv ?? throw EtcdErrors.New(StatusCode.Unimplemented, "etcdserver: this node's state machine answered no HashKV response");
        _gateway.Fill(response.Header ??= new ResponseHeader { Revision = result.Revision });
        return response;
    }

    /// <inheritdoc />
    public override async Task<MoveLeaderResponse> MoveLeader(MoveLeaderRequest request, ServerCallContext context)
    {
        var status = await _gateway.RaftStatusAsync(context.CancellationToken).ConfigureAwait(false);
        if (status.Role != RaftRole.Leader)
        {
            throw EtcdErrors.NotLeader();
        }

        if (request.TargetID == status.NodeId)
        {
            return new MoveLeaderResponse { Header = _gateway.NewHeader() };
        }

        if (!status.Voters.Contains(request.TargetID))
        {
            throw EtcdErrors.BadLeaderTransferee();
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromMilliseconds(Math.Max(Node.Options.RequestTimeoutMs, Node.Options.TickMs * Node.Options.ElectionTicksMax * 2));
        var reply = await Node.Raft.Ask<object>(new TransferLeadership(request.TargetID), TimeSpan.FromSeconds(5), context.CancellationToken).ConfigureAwait(false);
        switch (reply)
        {
            case TransferLeadershipStarted:
                break;
            case NotLeader:
                throw EtcdErrors.NotLeader();
            case ProposeDropped dropped:
                throw EtcdErrors.New(StatusCode.FailedPrecondition, $"etcdserver: bad leader transferee ({dropped.Reason})");
            default:
                throw EtcdErrors.New(StatusCode.Unknown, $"etcdserver: the Raft node answered {reply.GetType().Name}");
        }

        // etcd's MoveLeader returns once the target leads (or fails after a timeout): poll this node's view. The leader
        // abandons a transfer that has not ended within an election timeout (thesis §3.10: so that proposals resume),
        // and one whose TimeoutNow or catch-up was lost ends that way; while this node still leads and time remains,
        // the transfer is started again (a transfer still in progress ignores the repeat).
        var retryEvery = TimeSpan.FromMilliseconds(Node.Options.TickMs * (long)Node.Options.ElectionTicksMin);
        var retryAt = DateTime.UtcNow + retryEvery;
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(10, Node.Options.TickMs)), context.CancellationToken).ConfigureAwait(false);
            status = await _gateway.RaftStatusAsync(context.CancellationToken).ConfigureAwait(false);
            if (status.Leader == request.TargetID)
            {
                return new MoveLeaderResponse { Header = _gateway.NewHeader() };
            }

            if (DateTime.UtcNow >= retryAt && status.Role == RaftRole.Leader)
            {
                retryAt = DateTime.UtcNow + retryEvery;
                await Node.Raft.Ask<object>(new TransferLeadership(request.TargetID), TimeSpan.FromSeconds(5), context.CancellationToken).ConfigureAwait(false);
            }
        }

        throw EtcdErrors.New(StatusCode.Unavailable, "etcdserver: request timed out, leader transfer took too long");
    }

    /// <inheritdoc />
    public override async Task<DefragmentResponse> Defragment(DefragmentRequest request, ServerCallContext context)
    {
        await using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = JournalPath(Node), Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString()))
        {
            await connection.OpenAsync(context.CancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout = 5000; PRAGMA wal_checkpoint(TRUNCATE);";
            await command.ExecuteNonQueryAsync(context.CancellationToken).ConfigureAwait(false);
        }

        return new DefragmentResponse { Header = _gateway.NewHeader() };
    }

    /// <inheritdoc />
    /// <remarks>
    /// Streams this node's state-machine snapshot (<see cref="KvSnapshotCapture"/>, format 3): the RaftActor captures the
    /// store on its turn (a local query, so the node asked describes itself, as etcd's does), the image is serialized here
    /// off that turn, sent in <see cref="SnapshotChunkBytes"/> chunks with the bytes remaining, zero-padded to a multiple of
    /// 512 bytes, then the SHA-256 of all that as a last 32-byte chunk (etcd's convention, which etcdctl 3.4 checks by the
    /// saved file's length: <see cref="KvSnapshotEnvelope.StreamLayout"/>).
    /// <c>kv snapshot restore</c> seeds a data directory from such a file (docs/OPERATIONS.md).
    /// </remarks>
    public override async Task Snapshot(SnapshotRequest request, IServerStreamWriter<SnapshotResponse> responseStream, ServerCallContext context)
    {
        var id = Guid.NewGuid();
        var reply = await Node.Raft.Ask<object>(new LocalQuery(KvSnapshotExchange.Request(id)), TimeSpan.FromMilliseconds(Node.Options.RequestTimeoutMs), context.CancellationToken).ConfigureAwait(false);
        if (reply is ProposeDropped dropped)
        {
            throw EtcdErrors.New(StatusCode.Unavailable, $"etcdserver: {dropped.Reason}");
        }

        if (reply is not LocalQueryReply || !Node.SnapshotExchange.TryTake(id, out var capture))
        {
            throw EtcdErrors.New(StatusCode.Internal, $"etcdserver: the state machine answered the snapshot capture with {reply.GetType().Name} and no capture");
        }

        var (image, padded, digest) = await Task.Run(
            () =>
            {
                var bytes = capture.Serialize();
                var (length, sha) = KvSnapshotEnvelope.StreamLayout(bytes);
                return (bytes, length, sha);
            },
            context.CancellationToken).ConfigureAwait(false);
        var header = _gateway.NewHeader(capture.Revision);
        var sent = 0;
        while (sent < padded)
        {
            var length = Math.Min(SnapshotChunkBytes, padded - sent);
            var blob = new byte[length];
            image.AsSpan(Math.Min(sent, image.Length), Math.Clamp(image.Length - sent, 0, length)).CopyTo(blob);
            var message = new SnapshotResponse { RemainingBytes = (ulong)(padded - sent - length), Blob = UnsafeByteOperations.UnsafeWrap(blob) };
            if (sent == 0)
            {
                message.Header = header;
                message.Version = EtcdVersion;
            }

            sent += length;
            await responseStream.WriteAsync(message, context.CancellationToken).ConfigureAwait(false);
        }

        await responseStream.WriteAsync(new SnapshotResponse { Header = header, RemainingBytes = 0, Blob = ByteString.CopyFrom(digest) }, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>The store revision, from a serializable count of one key; 0 when the state machine cannot tell.</summary>
    private async Task<long> RevisionAsync(ServerCallContext context)
    {
        try
        {
            var probe = new RangeRequest { Key = ByteString.CopyFrom(0), CountOnly = true, Serializable = true };
            var result = await _gateway.ExecuteAsync(new KvCommand { EtcdRange = probe }, serializable: true, isWrite: false, context, asClient: false).ConfigureAwait(false);
            return result.EtcdRange?.Header?.Revision ?? result.Revision;
        }
        catch (RpcException)
        {
            return 0;
        }
    }

    private static long FileSize(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : 0;
    }
}
