using KvCluster.Actors;
using KvCluster.Client.Protocol;

namespace KvCluster.Client;

public sealed partial class KvClient
{
    /// <summary>Time left for the node to answer before the client's own deadline: the router answers TIMEOUT first.</summary>
    private static readonly TimeSpan s_answerMargin = TimeSpan.FromMilliseconds(50);

    /// <summary>One attempt of a request at one endpoint. Throws <see cref="RetryableAttemptException"/> when nothing took effect.</summary>
    private async ValueTask<KvResult> AttemptAsync(AttemptState state, CancellationToken cancellationToken)
    {
        var endpoint = PickEndpoint(preferLeader: state.IsWrite || state.Consistency != ReadConsistency.Serializable);
        var remaining = state.Deadline - DateTime.UtcNow;
        if (remaining <= TimeSpan.Zero)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        if (!_transport.IsConnected(RemoteAddressOf(endpoint)))
        {
            // Never hand a write to a node we cannot reach: probe with a read-only request first.
            if (await ProbeAsync(endpoint, cancellationToken).ConfigureAwait(false) is { } failure)
            {
                Demote(endpoint);
                throw state.Fail(new RetryableAttemptException(AttemptFailure.Unavailable, failure, null));
            }
        }

        var request = new KvRequest
        {
            Command = state.Command,
            Consistency = state.Consistency,
            TimeoutMs = Math.Max(1, (long)(remaining - s_answerMargin).TotalMilliseconds),
        };
        KvResponse response;
        try
        {
            response = await ReceptionistOf(endpoint).Ask<KvResponse>(request, remaining, cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException ex)
        {
            Demote(endpoint);
            if (state.IsWrite)
            {
                throw new KvTimeoutException($"{endpoint} did not answer the write within {remaining.TotalMilliseconds:0} ms; it may or may not have been committed.", ex);
            }

            throw state.Fail(new RetryableAttemptException(AttemptFailure.Timeout, $"{endpoint} did not answer the read within {remaining.TotalMilliseconds:0} ms", null));
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
                    Demote(endpoint);
                }

                throw state.Fail(new RetryableAttemptException(AttemptFailure.NotLeader, response.Error, response.LeaderEndpoint));
            case ResponseCode.Busy:
                throw state.Fail(new RetryableAttemptException(AttemptFailure.Busy, response.Error, null));
            case ResponseCode.Timeout when state.IsWrite:
                throw new KvTimeoutException($"{endpoint}: {response.Error}");
            case ResponseCode.Timeout:
                throw state.Fail(new RetryableAttemptException(AttemptFailure.Timeout, response.Error, null));
            case ResponseCode.Unavailable when state.IsWrite && response.Indeterminate:
                throw new KvUnavailableException($"{endpoint}: {response.Error}", indeterminate: true);
            default:
                Demote(endpoint);
                throw state.Fail(new RetryableAttemptException(AttemptFailure.Unavailable, $"{endpoint}: {response.Error}", response.LeaderEndpoint));
        }
    }

    /// <summary>What one request carries through its attempts.</summary>
    private sealed class AttemptState(KvCommand command, ReadConsistency consistency, bool isWrite, DateTime deadline)
    {
        public KvCommand Command { get; } = command;

        public ReadConsistency Consistency { get; } = consistency;

        public bool IsWrite { get; } = isWrite;

        public DateTime Deadline { get; } = deadline;

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
