using Akka.Actor;
using Akka.Event;
using Google.Protobuf;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Router;

public sealed partial class KvRouter
{
    /// <summary>Runs one admitted request to its answer and returns <see cref="RequestDone"/> for the router. Never throws.</summary>
    private async Task<RequestDone> ServeAsync(KvRequest request, DateTimeOffset deadline, IActorRef replyTo, IActorRef self)
    {
        KvResponse response;
        try
        {
            response = await RouteAsync(request, deadline).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Router: request {Op} failed unexpectedly.", request.Command.OpCase);
            response = Error(ResponseCode.Unavailable, $"the node failed to serve the request: {ex.Message}", IsWrite(request));
        }

        if (response.LeaderEndpoint.Length == 0 && LeaderEndpoint() is { } leader)
        {
            response.LeaderEndpoint = leader;
        }

        replyTo.Tell(Answering(request, response), self);
        return RequestDone.Instance;
    }

    private async Task<KvResponse> RouteAsync(KvRequest request, DateTimeOffset deadline)
    {
        var path = KvRequestClassifier.Classify(request);
        var isWrite = path == KvRequestPath.Write;
        var toLessor = path == KvRequestPath.Lessor;
        var serializable = path == KvRequestPath.LocalRead;
        var payload = request.Command.ToByteArray();
        var lastWait = "no leader is known yet (an election is in progress, or a quorum is missing)";
        while (true)
        {
            var remaining = deadline - _scheduler.Now;
            if (remaining <= TimeSpan.Zero)
            {
                // Only reached between attempts that proved nothing was proposed (waits for a leader).
                return TimedOut(isWrite, proposed: false, lastWait);
            }

            var leader = (ulong)Interlocked.Read(ref _leader);
            if ((isWrite || toLessor) && leader != 0 && leader != _selfId && request.Hops < MaxHops)
            {
                var forwarded = await ForwardAsync(request, leader, remaining, abandonWhenTheLeaderMoves: toLessor).ConfigureAwait(false);
                if (forwarded is null)
                {
                    return TimedOut(isWrite, proposed: true, $"the leader (node {leader}) did not answer");
                }

                if (!IsRetryable(forwarded))
                {
                    return forwarded;
                }

                // The leader moved on: drop the hint (the refresh or the next NotLeader brings the new one).
                if (Interlocked.CompareExchange(ref _leader, 0, (long)leader) == (long)leader)
                {
                    SignalLeaderMoved();
                }

                lastWait = forwarded.Error;
                continue;
            }

            object reply;
            var lessor = _lessor;
            if (toLessor && lessor is null)
            {
                return Error(ResponseCode.Unavailable, $"node {_selfId} runs no lessor; lease keep-alives and time-to-live are not served here");
            }

            try
            {
                object ask = toLessor ? new Kv.LessorRequest(request.Command)
                    : serializable ? new LocalQuery(payload) : isWrite ? new Propose(payload) : new ReadIndex(payload);
                reply = await (toLessor ? lessor! : _raft).Ask<object>(ask, remaining).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                return TimedOut(isWrite, proposed: isWrite, "the Raft node did not answer in time");
            }

            switch (reply)
            {
                case ProposeApplied applied:
                    NoteLeader(_selfId);
                    return Ok(applied.Result);
                case ReadIndexReply read:
                    return Ok(read.Result);
                case LocalQueryReply local:
                    return Ok(local.Result);
                case Kv.LessorReply fromLessor:
                    return new KvResponse { Code = ResponseCode.Ok, Result = fromLessor.Result };
                case NotLeader notLeader when notLeader.LeaderHint != 0 && notLeader.LeaderHint != _selfId && _peers.ContainsKey(notLeader.LeaderHint):
                    NoteLeader(notLeader.LeaderHint);
                    if (request.Hops >= MaxHops)
                    {
                        return Error(ResponseCode.NotLeader, $"node {_selfId} is not the leader: {notLeader.Reason}");
                    }

                    continue;
                case NotLeader notLeader:
                    NoteLeader(0);
                    lastWait = notLeader.Reason;
                    break;
                case ProposeDropped { Indeterminate: true } dropped:
                    return Error(ResponseCode.Unavailable, dropped.Reason, indeterminate: true);
                case ProposeDropped dropped:
                    lastWait = dropped.Reason;
                    break;
                default:
                    return Error(ResponseCode.Unavailable, $"the Raft node answered {reply.GetType().Name}");
            }

            await DelayAsync(_settings.LeaderWaitInterval).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Asks the leader's router; null when it did not answer in time. With <paramref name="abandonWhenTheLeaderMoves"/>
    /// the wait ends as soon as this node believes another leader (or none): the answer is then a retryable NOT_LEADER
    /// and the request goes to the next leader; a crashed leader would otherwise hold it to its deadline.
    /// </summary>
    private async Task<KvResponse?> ForwardAsync(KvRequest request, ulong leader, TimeSpan remaining, bool abandonWhenTheLeaderMoves)
    {
        var forwarded = request.Clone();
        forwarded.Hops = request.Hops + 1;
        forwarded.TimeoutMs = Math.Max(1, (long)remaining.TotalMilliseconds);

        // The signal is taken before the leader is read again, so a change between the two is never missed.
        var moved = Volatile.Read(ref _leaderMoved).Task;
        if (abandonWhenTheLeaderMoves && Interlocked.Read(ref _leader) != (long)leader)
        {
            return LeaderMoved(leader);
        }

        var answer = _peers[leader].Router.Ask<KvResponse>(forwarded, remaining);
        if (abandonWhenTheLeaderMoves && await Task.WhenAny(answer, moved).ConfigureAwait(false) != answer)
        {
            // The abandoned Ask ends by its own timeout; observe it so its fault is not reported as unobserved.
            _ = answer.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
            return LeaderMoved(leader);
        }

        try
        {
            return await answer.ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    private KvResponse LeaderMoved(ulong leader) =>
        Error(ResponseCode.NotLeader, $"node {leader} stopped leading (in node {_selfId}'s view) before it answered; sent to the next leader");

    /// <summary>Waits on the system scheduler (virtual time in tests).</summary>
    private Task DelayAsync(TimeSpan delay)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _scheduler.Advanced.ScheduleOnce(delay, () => done.TrySetResult());
        return done.Task;
    }

    private string? LeaderEndpoint()
    {
        var leader = (ulong)Interlocked.Read(ref _leader);
        return leader != 0 && _peers.TryGetValue(leader, out var peer) ? peer.Endpoint.ToString() : null;
    }

    /// <summary>True for answers that prove nothing took effect and a leader change may fix.</summary>
    private static bool IsRetryable(KvResponse response) =>
        response.Code is ResponseCode.NotLeader || (response.Code is ResponseCode.Unavailable && !response.Indeterminate);

    private static bool IsWrite(KvRequest request) => KvRequestClassifier.Classify(request) == KvRequestPath.Write;

    private static KvResponse Ok(ReadOnlyMemory<byte> result) =>
        new() { Code = ResponseCode.Ok, Result = KvResult.Parser.ParseFrom(result.Span) };

    private static KvResponse TimedOut(bool isWrite, bool proposed, string why) => new()
    {
        Code = ResponseCode.Timeout,
        Error = $"the deadline passed: {why}" + (isWrite && proposed ? "; the write may or may not have been committed" : string.Empty),
        Indeterminate = isWrite && proposed,
    };

    private static KvResponse Error(ResponseCode code, string error, bool indeterminate = false) =>
        new() { Code = code, Error = error, Indeterminate = indeterminate };
}
