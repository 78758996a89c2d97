using System.Text;
using Akka.Actor;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCommand = KvCluster.Client.Protocol.KvCommand;
using KvResult = KvCluster.Client.Protocol.KvResult;
using KvStatus = KvCluster.Client.Protocol.KvStatus;
using KvRequest = KvCluster.Client.Protocol.KvRequest;
using KvResponse = KvCluster.Client.Protocol.KvResponse;
using ReadConsistency = KvCluster.Client.Protocol.ReadConsistency;
using ResponseCode = KvCluster.Client.Protocol.ResponseCode;
using KvCluster.Node.Hosting;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Etcd;

/// <summary>
/// What the etcd services share on one node: the way into Raft (the router, <c>/user/kv-router</c>), etcd's
/// <see cref="ResponseHeader"/> fields (cluster id, member id, raft term), this node's latest <see cref="RaftStatus"/>
/// (kept fresh by <see cref="EtcdServer"/>), and the mapping of the router's outcomes onto etcd's gRPC errors.
/// Thread-safe: the services call it from many requests at once.
/// </summary>
internal sealed class EtcdGateway
{
    /// <summary>How much longer than the router's own deadline an Ask waits (the router answers TIMEOUT first).</summary>
    private static readonly TimeSpan s_askSlack = TimeSpan.FromSeconds(1);

    /// <summary>Serializes <see cref="Observe"/> (a leader change is counted once).</summary>
    private readonly object _observeLock = new();

    /// <summary>The latest Raft status seen (null before the first).</summary>
    private volatile RaftStatus? _status;

    /// <summary>Creates the gateway of <paramref name="node"/>.</summary>
    public EtcdGateway(KvNode node, EtcdMetrics metrics)
    {
        Node = node;
        Metrics = metrics;
        ClusterId = ClusterIdOf(node.Options);
        LeaderMonitor = new EtcdLeaderMonitor(TimeSpan.FromMilliseconds((double)node.Options.TickMs * node.Options.ElectionTicksMin));
    }

    /// <summary>The streams that require a leader, cancelled when the node has been without one too long.</summary>
    public EtcdLeaderMonitor LeaderMonitor { get; }

    /// <summary>The node served.</summary>
    public KvNode Node { get; }

    /// <summary>The node's Prometheus metrics.</summary>
    public EtcdMetrics Metrics { get; }

    /// <summary>etcd's cluster id: a stable 64-bit hash of the actor system and cluster names (the cluster's identity).</summary>
    public ulong ClusterId { get; }

    /// <summary>etcd's member id: the Raft node id.</summary>
    public ulong MemberId => Node.NodeId;

    /// <summary>The latest Raft status seen, or null before the first.</summary>
    public RaftStatus? LastStatus => _status;

    /// <summary>The cluster id of a node with <paramref name="options"/>: FNV-1a over "akkakv/system/cluster".</summary>
    public static ulong ClusterIdOf(NodeOptions options)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes($"akkakv/{options.SystemName}/{options.ClusterName}"))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash == 0 ? 1 : hash;
    }

    /// <summary>Records a status (metrics, leader changes, the term of the headers).</summary>
    public void Observe(RaftStatus status)
    {
        lock (_observeLock)
        {
            var previous = _status;
            _status = status;
            Metrics.Observe(status, previous);
            LeaderMonitor.Observe(status);
        }
    }

    /// <summary>Asks the local RaftActor for its status (and records it).</summary>
    public async Task<RaftStatus> RaftStatusAsync(CancellationToken cancellationToken)
    {
        var status = await Node.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        Observe(status);
        return status;
    }

    /// <summary>
    /// Why this node is not healthy, in etcd's words for /health (<c>RAFT NO LEADER</c>; AkkaKv's own
    /// <c>RAFT RECOVERING</c> and <c>RAFT NOT ANSWERING</c>), or null while it knows a leader. /health and the gRPC
    /// health service both answer from it.
    /// </summary>
    public async Task<string?> UnhealthyReasonAsync(CancellationToken cancellationToken)
    {
        try
        {
            var status = await RaftStatusAsync(cancellationToken).ConfigureAwait(false);
            return status.Recovering ? "RAFT RECOVERING" : status.Leader == 0 ? "RAFT NO LEADER" : null;
        }
        catch (AskTimeoutException)
        {
            return "RAFT NOT ANSWERING";
        }
    }

    /// <summary>Asks for a fresh status; a Raft node that does not answer leaves the last one in place.</summary>
    private async Task RefreshQuietlyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RaftStatusAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
        }
    }

    /// <summary>A new header with this node's cluster id, member id and raft term.</summary>
    public ResponseHeader NewHeader(long revision = 0) => Fill(new ResponseHeader { Revision = revision });

    /// <summary>
    /// Fills cluster id, member id and raft term into <paramref name="header"/> (a new one when null), and a revision
    /// left 0 with this node's applied revision, as etcd's server fills every header.
    /// </summary>
    public ResponseHeader Fill(ResponseHeader? header)
    {
        header ??= new ResponseHeader();
        header.ClusterId = ClusterId;
        header.MemberId = MemberId;
        header.RaftTerm = (ulong)Math.Max(0, _status?.Term ?? 0);
        if (header.Revision == 0)
        {
            header.Revision = Node.AppliedRevision;
        }

        return header;
    }

    /// <summary>Refuses a request whose encoding is over <see cref="NodeOptions.MaxRequestBytes"/>, as etcd does.</summary>
    public void CheckSize(Google.Protobuf.IMessage request)
    {
        if (request.CalculateSize() > Node.Options.MaxRequestBytes)
        {
            throw EtcdErrors.RequestTooLarge();
        }
    }

    /// <summary>
    /// Sends <paramref name="command"/> through the router (the one way into Raft) and returns its result, or throws
    /// etcd's error for the outcome: compacted and future revisions OutOfRange, a refused request InvalidArgument, no
    /// leader / stopping / timeout Unavailable, a full node ResourceExhausted.
    /// </summary>
    /// <param name="command">The command (one of the etcd_* ops).</param>
    /// <param name="serializable">True for a read served from this node's copy.</param>
    /// <param name="isWrite">True when the command may change the store (counted as a proposal).</param>
    /// <param name="context">The call: its deadline bounds the request, its cancellation abandons the wait.</param>
    /// <param name="asClient">True (the default) for the client's own request: marked as an etcd client's, with the user
    /// the call's token named, for the auth store's checks. False for a probe the service makes for itself.</param>
    public async Task<KvResult> ExecuteAsync(KvCommand command, bool serializable, bool isWrite, ServerCallContext context, bool asClient = true)
    {
        var timeout = TimeSpan.FromMilliseconds(Node.Options.RequestTimeoutMs);
        if (context.Deadline != DateTime.MaxValue)
        {
            var remaining = context.Deadline.ToUniversalTime() - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.DeadlineExceeded, "the call's deadline passed before it was served"));
            }

            timeout = remaining < timeout ? remaining : timeout;
        }

        if (asClient)
        {
            command.EtcdClient = true;
            if (Node.Auth.Enabled && EtcdAuthInterceptor.IdentityOf(context) is { } identity)
            {
                command.AuthUser = identity.User;
                command.AuthRevision = identity.Revision;
            }
        }

        var request = new KvRequest
        {
            Command = command,
            Consistency = serializable ? ReadConsistency.Serializable : ReadConsistency.Linearizable,
            TimeoutMs = Math.Max(1, (long)timeout.TotalMilliseconds),
        };
        KvResponse response;
        if (isWrite)
        {
            Metrics.ProposalsPending.Inc();
        }

        try
        {
            response = await Node.Router.Ask<KvResponse>(request, timeout + s_askSlack, context.CancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            response = new KvResponse { Code = ResponseCode.Timeout, Error = "the router did not answer in time" };
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "the client cancelled the call"));
        }
        finally
        {
            if (isWrite)
            {
                Metrics.ProposalsPending.Dec();
            }
        }

        if (response.Code != ResponseCode.Ok && isWrite)
        {
            Metrics.ProposalsFailed.Inc();
        }

        switch (response.Code)
        {
            case ResponseCode.Ok:
                if (_status is null or { Leader: 0 })
                {
                    // Served, so a leader exists, but the view is older than the election: refresh the headers' term.
                    await RefreshQuietlyAsync(context.CancellationToken).ConfigureAwait(false);
                }

                return Outcome(response.Result);
            case ResponseCode.BadRequest:
                throw EtcdErrors.InvalidArgument(response.Error);
            case ResponseCode.Busy:
                throw EtcdErrors.TooManyRequests();
            case ResponseCode.Timeout:
                throw _status is { Leader: 0 } ? EtcdErrors.NoLeader() : EtcdErrors.Timeout();
            case ResponseCode.Unavailable when response.Error.Contains("shutting down", StringComparison.Ordinal):
                throw EtcdErrors.Stopped();
            case ResponseCode.NotLeader:
            case ResponseCode.Unavailable:
                throw EtcdErrors.NoLeader();
            default:
                throw EtcdErrors.New(StatusCode.Unknown, $"etcdserver: the node answered {response.Code}: {response.Error}");
        }
    }

    /// <summary>The result when the command was served; etcd's error for a refused one.</summary>
    private static KvResult Outcome(KvResult? result)
    {
        if (result is null)
        {
            throw EtcdErrors.New(StatusCode.Internal, "etcdserver: the node answered without a result");
        }

        return result.Status switch
        {
            KvStatus.Ok => result,
            KvStatus.Compacted => throw EtcdErrors.Compacted(),
            KvStatus.FutureRevision => throw EtcdErrors.FutureRevision(),
            KvStatus.InvalidArgument when EtcdLeaseService.ErrorFor(result.Error) is { } leaseError => throw leaseError,
            KvStatus.InvalidArgument when EtcdErrors.ForAuth(result.Error) is { } authError => throw authError,
            KvStatus.InvalidArgument or KvStatus.InvalidCommand => throw EtcdErrors.InvalidArgument(result.Error.Length > 0 ? result.Error : "etcdserver: invalid request"),
            _ => throw EtcdErrors.New(StatusCode.Unknown, $"etcdserver: unexpected outcome {result.Status}{(result.Error.Length > 0 ? ": " + result.Error : string.Empty)}"),
        };
    }
}
