using Google.Protobuf;
using KvCluster.Testing.Linearizability;
using KvCluster.Testing.MultiNode;
using KvCluster.Client.Protocol;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>The recorded outcome of one client operation.</summary>
/// <param name="Outcome">Ok (answered), Fail (surely not applied) or Info (unknown).</param>
/// <param name="Output">The answer when <see cref="OperationOutcome.Ok"/>.</param>
internal sealed record KvOpResult(OperationOutcome Outcome, KvOutput? Output)
{
    public bool IsOk => Outcome == OperationOutcome.Ok;
}

/// <summary>
/// One KV client of a spec: finds the leader (following <see cref="KvReplyKind.NotLeader"/> hints, trying other nodes
/// when one is down), and records every operation in a shared <see cref="HistoryRecorder{TInput, TOutput}"/> for the
/// linearizability checker. A write is never re-sent after an attempt whose fate is unknown (it could apply twice):
/// it is recorded as indeterminate instead. A write is recorded as failed only when every attempt surely did not apply
/// (not the leader, node down). Reads have no effect, so they are retried until answered or the deadline passes.
/// Not thread-safe: one client per task.
/// </summary>
internal sealed class KvClusterClient
{
    private readonly MultiNodeSpec<IKvNode> _spec;
    private readonly HistoryRecorder<KvInput, KvOutput> _history;
    private readonly int _clientId;
    private RoleName? _leader;
    private int _next;

    public KvClusterClient(MultiNodeSpec<IKvNode> spec, HistoryRecorder<KvInput, KvOutput> history, int clientId)
    {
        _spec = spec;
        _history = history;
        _clientId = clientId;
        _next = clientId;
    }

    /// <summary>How long one attempt against one node may take.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long one operation may take over all its attempts.</summary>
    public TimeSpan OperationDeadline { get; init; } = TimeSpan.FromSeconds(10);

    public Task<KvOpResult> PutAsync(string key, string value, params RoleName[] via) =>
        WriteAsync(KvInput.Put(key, value), new KvCommand { Put = new PutRequest { Key = Bytes(key), Value = Bytes(value) } }, via);

    public Task<KvOpResult> CasAsync(string key, long expectedVersion, string value, params RoleName[] via) =>
        WriteAsync(KvInput.Cas(key, expectedVersion, value), new KvCommand { Put = new PutRequest { Key = Bytes(key), Value = Bytes(value), ExpectedVersion = expectedVersion } }, via);

    public Task<KvOpResult> DeleteAsync(string key, params RoleName[] via) =>
        WriteAsync(KvInput.Delete(key), new KvCommand { Delete = new DeleteRequest { Key = Bytes(key) } }, via);

    /// <summary>A linearizable read of <paramref name="key"/>.</summary>
    public async Task<KvOpResult> GetAsync(string key, params RoleName[] via)
    {
        var pending = _history.Invoke(_clientId, KvInput.Get(key));
        var deadline = DateTime.UtcNow + OperationDeadline;
        while (DateTime.UtcNow < deadline)
        {
            var (role, node) = Pick(via);
            if (node is null)
            {
                await Task.Delay(20);
                continue;
            }

            var reply = await node.ReadAsync(new GetRequest { Key = Bytes(key) }, AttemptTimeout);
            if (reply.Kind == KvReplyKind.Applied)
            {
                _leader = role;
                var output = ToGetOutput(reply.Result!);
                pending.Ok(output);
                return new KvOpResult(OperationOutcome.Ok, output);
            }

            await FollowAsync(reply);
        }

        pending.Fail(); // a read that was never answered changed nothing
        return new KvOpResult(OperationOutcome.Fail, null);
    }

    private async Task<KvOpResult> WriteAsync(KvInput input, KvCommand command, RoleName[] via)
    {
        var pending = _history.Invoke(_clientId, input);
        var deadline = DateTime.UtcNow + OperationDeadline;
        while (DateTime.UtcNow < deadline)
        {
            var (role, node) = Pick(via);
            if (node is null)
            {
                await Task.Delay(20);
                continue;
            }

            var reply = await node.ProposeAsync(command, AttemptTimeout);
            switch (reply.Kind)
            {
                case KvReplyKind.Applied:
                    _leader = role;
                    var output = ToWriteOutput(input, reply);
                    pending.Ok(output);
                    return new KvOpResult(OperationOutcome.Ok, output);
                case KvReplyKind.Unknown:
                    _leader = null;
                    pending.Info();
                    return new KvOpResult(OperationOutcome.Info, null);
                default:
                    await FollowAsync(reply);
                    break;
            }
        }

        pending.Fail(); // every attempt was refused before it reached a log
        return new KvOpResult(OperationOutcome.Fail, null);
    }

    /// <summary>The node to try next: the known leader, else the next running node in turn (within <paramref name="via"/> when given).</summary>
    private (RoleName Role, IKvNode? Node) Pick(RoleName[] via)
    {
        var allowed = via.Length > 0 ? via : _spec.Roles.ToArray();
        if (_leader is { } leader && allowed.Contains(leader) && _spec.NodeOrNull(leader) is { } known)
        {
            return (leader, known);
        }

        for (var i = 0; i < allowed.Length; i++)
        {
            var role = allowed[_next++ % allowed.Length];
            if (_spec.NodeOrNull(role) is { } node)
            {
                return (role, node);
            }
        }

        return (allowed[0], null);
    }

    private async Task FollowAsync(KvReply reply)
    {
        _leader = reply.Kind == KvReplyKind.NotLeader && reply.LeaderHint is > 0 && (int)reply.LeaderHint <= _spec.Members.Count
            ? _spec.Members[(int)reply.LeaderHint - 1].Role
            : null;

        // Pace the retries: with no leader known an election is under way; a hint may name a node outside `via`.
        await Task.Delay(_leader is null ? 20 : 5);
    }

    private static KvOutput ToWriteOutput(KvInput input, KvReply reply)
    {
        var result = reply.Result!;
        return (input.Kind, result.Status) switch
        {
            (KvOperationKind.Put or KvOperationKind.Cas, KvStatus.Ok) => KvOutput.Written(result.Put.Current.ModIndex),
            (KvOperationKind.Cas, KvStatus.VersionMismatch) => KvOutput.Mismatch,
            (KvOperationKind.Delete, KvStatus.Ok) => KvOutput.Written(),
            (KvOperationKind.Delete, KvStatus.NotFound) => KvOutput.NotFound,
            _ => throw new InvalidOperationException($"Unexpected result {result.Status} for {input}: {result.Error}"),
        };
    }

    private static KvOutput ToGetOutput(KvResult result) => result.Status switch
    {
        KvStatus.Ok => KvOutput.Found(result.Get.Kv.Value.ToStringUtf8(), result.Get.Kv.ModIndex),
        KvStatus.NotFound => KvOutput.NotFound,
        _ => throw new InvalidOperationException($"Unexpected read result {result.Status}: {result.Error}"),
    };

    private static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);
}
