using Akka.Actor;
using Akka.Cluster.Tools.Client;
using KvCluster.Client.Protocol;

namespace KvCluster.Client;

public sealed partial class KvClient
{
    /// <summary>Time left for the node to answer before the client's own deadline: the router answers TIMEOUT first.</summary>
    private static readonly TimeSpan s_answerMargin = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a request waits for the leader's lane to finish its probe rather than go through a follower.</summary>
    private static readonly TimeSpan s_leaderProbeWait = TimeSpan.FromMilliseconds(200);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>One attempt of a request through one lane. Throws <see cref="RetryableAttemptException"/> when nothing took effect.</summary>
    private async ValueTask<KvResult> AttemptAsync(AttemptState state, CancellationToken cancellationToken)
    {
        var preferLeader = state.IsWrite || state.Consistency != ReadConsistency.Serializable;
        if (preferLeader && await AwaitLiveLeaderAsync(state.Deadline, cancellationToken).ConfigureAwait(false) is { } dead)
        {
            // Held to the end: nothing was sent, so it is safe to retry.
            throw state.Fail(new RetryableAttemptException(AttemptFailure.NotLeader, $"no live leader: the nodes that answer still name {dead}, whose connection failed", null));
        }

        var lane = PickLane(preferLeader);
        var remaining = state.Deadline - DateTime.UtcNow;
        if (remaining <= TimeSpan.Zero)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        if (preferLeader && (lane is null || lane.Node != Leader)
            && await AwaitLeaderLaneAsync(Min(remaining / 4, s_leaderProbeWait), cancellationToken).ConfigureAwait(false) is { } leaderLane)
        {
            lane = leaderLane;
        }

        if (lane is null)
        {
            // No lane is known to work: ask every one at once (a read-only probe), and take the first that answers.
            // A dead node costs nothing here: its probe fails when its connection does, or when the others win.
            var probeBudget = remaining < _options.AttemptTimeout ? remaining : _options.AttemptTimeout;
            (lane, _) = await ProbeManyAsync(Volatile.Read(ref _lanes), probeBudget, cancellationToken).ConfigureAwait(false);
            if (lane is null)
            {
                throw state.Fail(new RetryableAttemptException(AttemptFailure.Unavailable, $"no node answered: {Failures()}", null));
            }

            lane = PickLane(preferLeader) ?? lane;
            remaining = state.Deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }

        if (lane.Current is not { } incarnation || incarnation.Lost.IsCancellationRequested)
        {
            throw state.Fail(new RetryableAttemptException(AttemptFailure.Unavailable, lane.LastError ?? $"{lane} is not connected", null));
        }

        // A read that goes unanswered is retried elsewhere; a write is sent once and waits for its whole deadline.
        var wait = state.IsWrite || remaining < _options.AttemptTimeout ? remaining : _options.AttemptTimeout;
        var request = new KvRequest
        {
            Command = state.Command,
            Consistency = state.Consistency,
            TimeoutMs = Math.Max(1, (long)(wait - s_answerMargin).TotalMilliseconds),
        };
        KvResponse response;
        var answered = false;
        lane.RequestStarted();
        state.WriteSent |= state.IsWrite;
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, incarnation.Lost.Token) : null;
        try
        {
            response = await _inbox.SendAsync(incarnation.Client, KvWireTypes.RouterPath, request, wait, linked?.Token ?? incarnation.Lost.Token).ConfigureAwait(false);
            answered = true;
        }
        catch (TimeoutException ex)
        {
            lane.Silent(incarnation, $"{lane} did not answer within {wait.TotalMilliseconds:0} ms");
            Demote(lane);
            if (state.IsWrite)
            {
                throw new KvTimeoutException($"{lane} did not answer the write within {wait.TotalMilliseconds:0} ms; it may or may not have been committed.", ex);
            }

            throw state.Fail(new RetryableAttemptException(AttemptFailure.Timeout, $"{lane} did not answer the read within {wait.TotalMilliseconds:0} ms", null));
        }
        catch (OperationCanceledException) when (incarnation.Lost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var reason = lane.LastError ?? $"the connection to {lane} was lost";
            if (state.IsWrite)
            {
                throw new KvUnavailableException($"{reason} while the write was in flight; it may or may not have been committed.", indeterminate: true);
            }

            throw state.Fail(new RetryableAttemptException(AttemptFailure.Unavailable, reason, null));
        }
        finally
        {
            lane.RequestEnded(answered);
        }

        NoteLeader(response.LeaderEndpoint);
        switch (response.Code)
        {
            case ResponseCode.Ok:
                return response.Result ?? new KvResult();
            case ResponseCode.BadRequest:
                throw new KvBadRequestException(response.Error);
            case ResponseCode.NotLeader:
                if (string.IsNullOrEmpty(response.LeaderEndpoint))
                {
                    Demote(lane);
                }

                throw state.Fail(new RetryableAttemptException(AttemptFailure.NotLeader, response.Error, response.LeaderEndpoint));
            case ResponseCode.Busy:
                throw state.Fail(new RetryableAttemptException(AttemptFailure.Busy, response.Error, null));
            case ResponseCode.Timeout when state.IsWrite:
                throw new KvTimeoutException($"{lane}: {response.Error}");
            case ResponseCode.Timeout:
                throw state.Fail(new RetryableAttemptException(AttemptFailure.Timeout, response.Error, null));
            case ResponseCode.Unavailable when state.IsWrite && response.Indeterminate:
                throw new KvUnavailableException($"{lane}: {response.Error}", indeterminate: true);
            default:
                Demote(lane);
                throw state.Fail(new RetryableAttemptException(AttemptFailure.Unavailable, $"{lane}: {response.Error}", response.LeaderEndpoint));
        }
    }

    /// <summary>What one request carries through its attempts.</summary>
    private sealed class AttemptState(KvCommand command, ReadConsistency consistency, bool isWrite, DateTime deadline)
    {
        public KvCommand Command { get; } = command;

        public ReadConsistency Consistency { get; } = consistency;

        public bool IsWrite { get; } = isWrite;

        public DateTime Deadline { get; } = deadline;

        /// <summary>True once a write went out: from then on its outcome may be unknown, never "not taken".</summary>
        public bool WriteSent { get; set; }

        /// <summary>The last retryable failure, reported when the deadline ends the retries.</summary>
        public RetryableAttemptException? LastFailure { get; private set; }

        public RetryableAttemptException Fail(RetryableAttemptException failure)
        {
            LastFailure = failure;
            return failure;
        }
    }

    /// <summary>A boxed endpoint, so the leader hint can be swapped atomically.</summary>
    private sealed record EndpointBox(KvEndpoint Endpoint);
}

/// <summary>Why an attempt proved nothing took effect.</summary>
internal enum AttemptFailure
{
    NotLeader,
    Unavailable,
    Busy,
    Timeout,
}

/// <summary>An attempt that failed without effect; the client retries it until the deadline.</summary>
internal sealed class RetryableAttemptException(AttemptFailure kind, string message, string? leaderEndpoint) : Exception(message)
{
    public AttemptFailure Kind { get; } = kind;

    /// <summary>The public error this failure becomes when the retries end.</summary>
    public KvClientException ToPublic() => Kind switch
    {
        AttemptFailure.NotLeader => new KvNotLeaderException(Message, leaderEndpoint),
        AttemptFailure.Busy => new KvBusyException(Message),
        AttemptFailure.Timeout => new KvTimeoutException(Message),
        _ => new KvUnavailableException(Message),
    };
}
