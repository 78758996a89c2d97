using Akka.Actor;
using Akka.Event;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;
using KvCluster.Client.Protocol;
using KvCluster.Node.Kv;
using KvCluster.Raft.Actor;

namespace KvCluster.Node.Watch;

public sealed partial class WatchHub
{
    /// <summary>etcd's cancel reason for a range whose end is not above its key (mvcc.ErrEmptyWatcherRange).</summary>
    public const string EmptyRangeReason = "mvcc: watcher range is empty";

    /// <summary>etcd's cancel reason for a watch id already used on the stream (mvcc.ErrWatcherDuplicateID).</summary>
    public const string DuplicateIdReason = "mvcc: duplicate watch ID provided on the WatchStream";

    private static readonly ByteString s_smallestKey = ByteString.CopyFrom(0);

    private void OnRequest(WatchStreamRequest message)
    {
        if (!_streams.TryGetValue(message.Output, out var stream))
        {
            return;
        }

        switch (message.Request.RequestUnionCase)
        {
            case WatchRequest.RequestUnionOneofCase.CreateRequest when message.Refusal is not null:
                Refuse(stream, message.Refusal);
                break;
            case WatchRequest.RequestUnionOneofCase.CreateRequest:
                Create(stream, message.Request.CreateRequest);
                break;
            case WatchRequest.RequestUnionOneofCase.CancelRequest:
                if (stream.Watchers.TryGetValue(message.Request.CancelRequest.WatchId, out var watcher))
                {
                    Cancel(watcher, new WatchResponse { Header = new ResponseHeader { Revision = _revision }, WatchId = watcher.Id, Canceled = true });
                    Tidy();
                }

                // etcd answers nothing for an id it does not know.
                break;
            case WatchRequest.RequestUnionOneofCase.ProgressRequest:
                stream.ProgressRequested = true;
                AnswerProgressIfSynced(stream);
                break;
            default:
                // etcd ignores a request with nothing set rather than closing the stream.
                break;
        }
    }

    private void Create(WatchStream stream, WatchCreateRequest request)
    {
        // etcd's forms: no key is the smallest key; range_end "\0" is every key from key on.
        var key = request.Key.IsEmpty ? s_smallestKey : request.Key;
        ByteString? end = request.RangeEnd.IsEmpty ? null
            : request.RangeEnd.Length == 1 && request.RangeEnd[0] == 0 ? ByteString.Empty
            : request.RangeEnd;
        if (end is { IsEmpty: false } && KvKeyOrder.Compare(key.Span, end.Span) >= 0)
        {
            Refuse(stream, EmptyRangeReason);
            return;
        }

        long id;
        if (request.WatchId != 0)
        {
            if (stream.Watchers.ContainsKey(request.WatchId))
            {
                Refuse(stream, DuplicateIdReason);
                return;
            }

            id = request.WatchId;
        }
        else
        {
            while (stream.Watchers.ContainsKey(stream.NextId))
            {
                stream.NextId++;
            }

            id = stream.NextId++;
        }

        var watcher = new Watcher(stream, id, key, end, request);
        stream.Watchers.Add(id, watcher);
        stream.Output.Enqueue(new WatchResponse { Header = new ResponseHeader { Revision = _revision }, WatchId = id, Created = true });
        var start = request.StartRevision;
        if (start == 0 || start > _revision)
        {
            watcher.Next = start == 0 ? _revision + 1 : start;
            watcher.Synced = true;
            _synced.Add(watcher);
            return;
        }

        watcher.Next = start;
        StartCatchUp(watcher);
    }

    /// <summary>A refused create: created and cancelled at once, with etcd's reason and watch id -1.</summary>
    private void Refuse(WatchStream stream, string reason) =>
        stream.Output.Enqueue(new WatchResponse
        {
            Header = new ResponseHeader { Revision = _revision },
            WatchId = InvalidWatchId,
            Created = true,
            Canceled = true,
            CancelReason = reason,
        });

    /// <summary>Moves <paramref name="watcher"/> to the catching-up state (from its <see cref="Watcher.Next"/>) and reads history.</summary>
    private void StartCatchUp(Watcher watcher)
    {
        if (watcher.Synced)
        {
            watcher.Synced = false;
            _dirty = true;
        }

        watcher.Held = [];
        watcher.HeldEvents = 0;
        watcher.HeldOverflow = false;
        _catching.Add(watcher);
        Query(watcher);
    }

    private void Query(Watcher watcher)
    {
        var sequence = watcher.QuerySequence = ++_querySequence;
        watcher.QueryHubRevision = _revision;
        if (_raft.IsNobody())
        {
            Timers.StartSingleTimer(watcher, new RetryHistory(watcher, sequence), _settings.RetryDelay);
            return;
        }

        var query = new KvCommand
        {
            WatchHistory = new WatchHistoryRequest
            {
                Key = watcher.Key,
                RangeEnd = watcher.EtcdRangeEnd,
                StartRevision = watcher.Next,
                MaxEvents = _settings.HistorySliceEvents,
            },
        };
        _raft.Ask<object>(new LocalQuery(query.ToByteArray()), _settings.QueryTimeout)
            .PipeTo(Self, success: reply => new HistoryLoaded(watcher, sequence, reply), failure: e => new HistoryLoaded(watcher, sequence, e.Message));
    }

    private void OnHistory(HistoryLoaded message)
    {
        var watcher = message.Watcher;
        if (watcher.Canceled || watcher.Synced || watcher.QuerySequence != message.Sequence)
        {
            return;
        }

        var history = message.Reply is LocalQueryReply reply ? Parse(reply) : null;
        if (history is null)
        {
            var reason = message.Reply switch
            {
                ProposeDropped dropped => dropped.Reason,
                null => message.Error ?? "no answer",
                var other => $"unexpected answer {other.GetType().Name}",
            };
            _log.Debug("Watch hub: history for watcher {0} not read ({1}); asking again.", watcher.Id, reason);
            Timers.StartSingleTimer(watcher, new RetryHistory(watcher, message.Sequence), _settings.RetryDelay);
            return;
        }

        if (watcher.Next < history.CompactRevision)
        {
            Cancel(watcher, new WatchResponse
            {
                Header = new ResponseHeader { Revision = _revision },
                WatchId = watcher.Id,
                Canceled = true,
                CompactRevision = history.CompactRevision,
            });
            Tidy();
            return;
        }

        if (history.Revision < watcher.QueryHubRevision)
        {
            // The store is behind what the hub has seen (it is replaying after a restart): ask again shortly.
            Timers.StartSingleTimer(watcher, new RetryHistory(watcher, message.Sequence), _settings.RetryDelay);
            return;
        }

        SendHistory(watcher, history);
        if (watcher.Canceled)
        {
            Tidy();
            return;
        }

        watcher.Next = Math.Max(watcher.Next, history.NextRevision);
        if (history.NextRevision <= history.Revision)
        {
            Query(watcher);
            return;
        }

        foreach (var group in watcher.Held ?? [])
        {
            if (group.Revision >= watcher.Next && !watcher.Canceled)
            {
                watcher.Next = group.Revision + 1;
                Deliver(watcher, new GroupView(group));
            }
        }

        if (watcher.Canceled)
        {
            Tidy();
            return;
        }

        if (watcher.HeldOverflow)
        {
            watcher.Held = [];
            watcher.HeldEvents = 0;
            watcher.HeldOverflow = false;
            Query(watcher);
            return;
        }

        // Every revision up to the hub's was read from the history or held: the watcher joins the live stream.
        watcher.Next = Math.Max(watcher.Next, _revision + 1);
        watcher.Held = null;
        watcher.Synced = true;
        _dirty = true;
        _synced.Add(watcher);
        Tidy();
        AnswerProgressIfSynced(watcher.Stream);
    }

    /// <summary>Sends the history events at or above the watcher's next revision that it wants, in one response.</summary>
    private void SendHistory(Watcher watcher, WatchHistoryResult history)
    {
        WatchResponse? response = null;
        foreach (var e in history.Events)
        {
            if (e.Kv.ModRevision < watcher.Next || !watcher.Wants(e))
            {
                continue;
            }

            response ??= new WatchResponse { Header = new ResponseHeader(), WatchId = watcher.Id };
            response.Events.Add(watcher.PrevKv || e.PrevKv is null ? e : new Event { Type = e.Type, Kv = e.Kv });
            response.Header.Revision = e.Kv.ModRevision;
        }

        if (response is not null)
        {
            // etcd stamps a catch-up response with the store revision it read the history at: here the last revision
            // the slice covered.
            response.Header.Revision = Math.Max(response.Header.Revision, history.NextRevision - 1);
            Send(watcher, response);
        }
    }

    private static WatchHistoryResult? Parse(LocalQueryReply reply)
    {
        try
        {
            var result = KvResult.Parser.ParseFrom(reply.Result.Span);
            return result.Status == KvStatus.Ok ? result.WatchHistory : null;
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    /// <summary>Answers a pending progress request of <paramref name="stream"/> once all its watchers are synced.</summary>
    private void AnswerProgressIfSynced(WatchStream stream)
    {
        if (!stream.ProgressRequested)
        {
            return;
        }

        foreach (var watcher in stream.Watchers.Values)
        {
            if (!watcher.Synced)
            {
                return;
            }
        }

        stream.ProgressRequested = false;
        stream.Output.Enqueue(new WatchResponse { Header = new ResponseHeader { Revision = _revision }, WatchId = InvalidWatchId });
    }

    /// <summary>The progress tick: idle synced watchers that asked for progress_notify learn the hub's revision.</summary>
    private void SendProgress()
    {
        foreach (var stream in _streams.Values)
        {
            foreach (var watcher in stream.Watchers.Values)
            {
                if (!watcher.ProgressNotify || !watcher.Synced)
                {
                    continue;
                }

                if (!watcher.SentSinceProgress && stream.Output.Pending < _settings.MaxPendingResponses)
                {
                    stream.Output.Enqueue(new WatchResponse { Header = new ResponseHeader { Revision = _revision }, WatchId = watcher.Id });
                }

                watcher.SentSinceProgress = false;
            }
        }
    }

    /// <summary>A history query's outcome: the reply (LocalQueryReply or ProposeDropped) or the failure's message.</summary>
    private sealed record HistoryLoaded(Watcher Watcher, long Sequence, object? Reply, string? Error = null) : INoSerializationVerificationNeeded
    {
        public HistoryLoaded(Watcher watcher, long sequence, string error)
            : this(watcher, sequence, null, error)
        {
        }
    }

    /// <summary>Ask the history again for a watcher (if that query is still the one awaited).</summary>
    private sealed record RetryHistory(Watcher Watcher, long Sequence) : INoSerializationVerificationNeeded;
}
