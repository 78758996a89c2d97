using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using KvCluster.Testing.Linearizability;
using KvCluster.Client;
using KvCluster.Client.Protocol;

namespace KvCluster.Chaos;

/// <summary>Counts of the outcomes the clients saw, shared by all clients.</summary>
internal sealed class OutcomeCounters
{
    private long _ok;
    private long _fail;
    private long _info;
    private long _unexpected;

    public long Ok => Interlocked.Read(ref _ok);

    public long Fail => Interlocked.Read(ref _fail);

    public long Info => Interlocked.Read(ref _info);

    public long Unexpected => Interlocked.Read(ref _unexpected);

    public void CountOk() => Interlocked.Increment(ref _ok);

    public void CountFail() => Interlocked.Increment(ref _fail);

    public void CountInfo() => Interlocked.Increment(ref _info);

    public void CountUnexpected() => Interlocked.Increment(ref _unexpected);
}

/// <summary>
/// One closed-loop client: random put, get, cas and delete on a bounded key set, each recorded with its
/// invocation and completion and its outcome: ok, fail (surely no effect) or info (unknown outcome).
/// Successful writes are also logged with their completion time, for the time-to-first-write figures.
/// </summary>
internal sealed class ChaosClient
{
    private readonly int _id;
    private readonly KvClient _client;
    private readonly HistoryRecorder<KvInput, KvOutput> _recorder;
    private readonly OutcomeCounters _counters;
    private readonly string[] _keys;
    private readonly Random _random;
    private readonly ReadConsistency _reads;
    private readonly Dictionary<string, long> _lastVersion = [];
    private readonly List<(long Call, long Return)> _okWrites = [];
    private long _sequence;

    public ChaosClient(int id, KvClient client, HistoryRecorder<KvInput, KvOutput> recorder, OutcomeCounters counters, string[] keys, int seed, ReadConsistency reads)
    {
        _reads = reads;
        _id = id;
        _client = client;
        _recorder = recorder;
        _counters = counters;
        _keys = keys;
        _random = new Random(seed);
    }

    /// <summary>Successful writes (put, cas that swapped, delete that removed): Stopwatch ticks of invocation and completion.</summary>
    public IReadOnlyList<(long Call, long Return)> OkWrites => _okWrites;

    /// <summary>Runs operations until <paramref name="stop"/> fires; the operation in flight then completes (bounded by the request timeout).</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var key = _keys[_random.Next(_keys.Length)];
            var roll = _random.Next(100);
            var value = string.Create(CultureInfo.InvariantCulture, $"c{_id}-{++_sequence}");
            KvInput input = roll switch
            {
                < 35 => KvInput.Get(key),
                < 65 => KvInput.Put(key, value),
                < 90 => KvInput.Cas(key, _lastVersion.GetValueOrDefault(key), value),
                _ => KvInput.Delete(key),
            };
            await ExecuteAsync(input).ConfigureAwait(false);
        }
    }

    private async Task ExecuteAsync(KvInput input)
    {
        var pending = _recorder.Invoke(_id, input);
        var call = pending.Call;
        var keyBytes = ByteString.CopyFromUtf8(input.Key);
        try
        {
            var command = input.Kind switch
            {
                KvOperationKind.Get => new KvCommand { Get = new GetRequest { Key = keyBytes } },
                KvOperationKind.Put => new KvCommand { Put = new PutRequest { Key = keyBytes, Value = ByteString.CopyFromUtf8(input.Value!) } },
                KvOperationKind.Cas => new KvCommand { Put = new PutRequest { Key = keyBytes, Value = ByteString.CopyFromUtf8(input.Value!), ExpectedVersion = input.ExpectedVersion } },
                _ => new KvCommand { Delete = new DeleteRequest { Key = keyBytes } },
            };
            var result = await _client.ExecuteAsync(command, _reads).ConfigureAwait(false);
            var output = Interpret(input, result);
            if (output is null)
            {
                // A status the model does not know: treat as unknown rather than guess.
                _counters.CountUnexpected();
                pending.Info();
                _counters.CountInfo();
                return;
            }

            pending.Ok(output);
            _counters.CountOk();
            if (input.Kind != KvOperationKind.Get && output.Ok)
            {
                _okWrites.Add((call, Stopwatch.GetTimestamp()));
            }
        }
        catch (KvTimeoutException)
        {
            Unknown(pending, input);
        }
        catch (KvUnavailableException e) when (e.Indeterminate)
        {
            Unknown(pending, input);
        }
        catch (Exception e) when (e is KvNotLeaderException or KvUnavailableException or KvBadRequestException)
        {
            // KvBusyException is a KvUnavailableException that is never indeterminate.
            pending.Fail();
            _counters.CountFail();
        }
        catch (Exception)
        {
            _counters.CountUnexpected();
            Unknown(pending, input);
        }
    }

    private void Unknown(PendingOperation<KvInput, KvOutput> pending, KvInput input)
    {
        if (input.Kind == KvOperationKind.Get)
        {
            // A read has no effect whatever happened to it.
            pending.Fail();
            _counters.CountFail();
            return;
        }

        _lastVersion.Remove(input.Key);
        pending.Info();
        _counters.CountInfo();
    }

    private KvOutput? Interpret(KvInput input, KvResult result)
    {
        switch (input.Kind)
        {
            case KvOperationKind.Get when result.Status == KvStatus.Ok:
                _lastVersion[input.Key] = result.Get.Kv.ModIndex;
                return KvOutput.Found(result.Get.Kv.Value.ToStringUtf8(), result.Get.Kv.ModIndex);
            case KvOperationKind.Get when result.Status == KvStatus.NotFound:
                _lastVersion[input.Key] = 0;
                return KvOutput.NotFound;
            case KvOperationKind.Put or KvOperationKind.Cas when result.Status == KvStatus.Ok:
                _lastVersion[input.Key] = result.Put.Current.ModIndex;
                return KvOutput.Written(result.Put.Current.ModIndex);
            case KvOperationKind.Cas when result.Status == KvStatus.VersionMismatch:
                _lastVersion[input.Key] = result.ActualVersion;
                return KvOutput.Mismatch;
            case KvOperationKind.Delete when result.Status == KvStatus.Ok:
                _lastVersion[input.Key] = 0;
                return KvOutput.Written();
            case KvOperationKind.Delete when result.Status == KvStatus.NotFound:
                _lastVersion[input.Key] = 0;
                return KvOutput.NotFound;
            default:
                return null;
        }
    }
}
