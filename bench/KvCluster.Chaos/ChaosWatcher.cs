using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;

namespace KvCluster.Chaos;

/// <summary>One event a watcher received: its revision, type, key and value.</summary>
internal readonly record struct WatchedEvent(long Revision, bool Delete, string Key, string Value);

/// <summary>
/// One etcd watcher of the whole key space through a node's client port, as an etcd client keeps one: it starts "from
/// now" and records every event; when its node dies, pauses (no response, progress included, within the idle limit) or
/// drops the stream, it resumes on another node from its last revision + 1. A cancel for compaction ends it (the rest
/// of its stream cannot be checked); a cancel for slowness resumes like a dropped stream.
/// </summary>
internal sealed class ChaosWatcher
{
    private static readonly ByteString s_everyKey = ByteString.CopyFrom(0);

    private readonly int[] _clientPorts;
    private readonly Random _random;
    private readonly TimeSpan _idleLimit;
    private readonly List<WatchedEvent> _events = [];
    private long _next;

    public ChaosWatcher(int id, int[] clientPorts, int seed, TimeSpan idleLimit)
    {
        Id = id;
        _clientPorts = clientPorts;
        _random = new Random(seed);
        _idleLimit = idleLimit;
    }

    public int Id { get; }

    /// <summary>The header revision of the first created response: events are expected from the next one on.</summary>
    public long StartRevision { get; private set; }

    /// <summary>Streams opened after the first (a node died, paused or dropped it).</summary>
    public int Resumes { get; private set; }

    /// <summary>Why the watcher ended early (compaction), or null.</summary>
    public string? Ended { get; private set; }

    /// <summary>The revision of the last event received (0 before any).</summary>
    public long LastRevision
    {
        get
        {
            lock (_events)
            {
                return _events.Count == 0 ? 0 : _events[^1].Revision;
            }
        }
    }

    /// <summary>Every event received, in arrival order.</summary>
    public IReadOnlyList<WatchedEvent> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>True once the first stream was created (the watcher sees every later revision).</summary>
    public bool Started => StartRevision > 0;

    /// <summary>Watches until <paramref name="stop"/>; never throws for a node's failure.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        // Watchers start spread over the nodes, so a killed or paused node always has some to lose.
        var port = _clientPorts[(Id - 1) % _clientPorts.Length];
        while (!stop.IsCancellationRequested && Ended is null)
        {
            try
            {
                await WatchOnceAsync(port, stop).ConfigureAwait(false);
            }
            catch (Exception) when (!stop.IsCancellationRequested)
            {
                // The node died, paused or dropped the stream: go on elsewhere.
            }
            catch (Exception)
            {
                return;
            }

            if (Started)
            {
                Resumes++;
            }

            port = _clientPorts[(Array.IndexOf(_clientPorts, port) + 1 + _random.Next(_clientPorts.Length - 1)) % _clientPorts.Length];
            try
            {
                await Task.Delay(100, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task WatchOnceAsync(int port, CancellationToken stop)
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), UseProxy = false },
            MaxReceiveMessageSize = null,
        });
        using var call = new Watch.WatchClient(channel).Watch(cancellationToken: stop);
        var create = new WatchCreateRequest { Key = s_everyKey, RangeEnd = s_everyKey, StartRevision = _next, ProgressNotify = true };
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = create }, stop).ConfigureAwait(false);
        while (true)
        {
            // A paused node answers nothing, progress included: give up on it after the idle limit.
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(stop);
            idle.CancelAfter(_idleLimit);
            if (!await call.ResponseStream.MoveNext(idle.Token).ConfigureAwait(false))
            {
                throw new IOException("the node ended the watch stream");
            }

            var response = call.ResponseStream.Current;
            if (response.Created)
            {
                if (response.Canceled)
                {
                    throw new IOException($"watch refused: {response.CancelReason}");
                }

                if (_next == 0)
                {
                    StartRevision = response.Header.Revision;
                    _next = StartRevision + 1;
                }

                continue;
            }

            if (response.Canceled)
            {
                if (response.CompactRevision != 0)
                {
                    Ended = $"cancelled at compaction point {response.CompactRevision} while resuming from {_next}";
                    return;
                }

                throw new IOException($"watch cancelled: {response.CancelReason}");
            }

            lock (_events)
            {
                foreach (var e in response.Events)
                {
                    _events.Add(new WatchedEvent(e.Kv.ModRevision, e.Type == Event.Types.EventType.Delete, e.Kv.Key.ToStringUtf8(), e.Kv.Value.ToStringUtf8()));
                }
            }

            if (response.Events.Count > 0)
            {
                _next = response.Events[^1].Kv.ModRevision + 1;
            }
        }
    }

    /// <summary>Waits until the watcher received an event at or above <paramref name="revision"/>; false at the deadline.</summary>
    public async Task<bool> AwaitRevisionAsync(long revision, TimeSpan within)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (LastRevision < revision && Ended is null)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        return Ended is null;
    }
}
