using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using KvCluster.Node.Kv;
using KvCluster.Client.Protocol;

namespace KvCluster.Benchmarks.Kv;

/// <summary>
/// Throughput of the KV state machine alone (no Raft, no I/O), on a store of 100,000 keys with
/// 256-byte values: applying an encoded put (decode, update, encode the result), a local get, and a
/// prefix range of 10 keys. Baselines in the same run: a plain <see cref="Dictionary{TKey, TValue}"/>
/// set and get, and the protobuf decode + encode a put costs by itself.
/// Each benchmark performs <see cref="Batch"/> operations per invocation.
/// </summary>
[MemoryDiagnoser]
public class KvStateMachineBenchmarks
{
    private const int Batch = 1000;
    private const int Keys = 100_000;

    private KvStateMachine _store = null!;
    private byte[][] _keys = null!;
    private byte[][] _putCommands = null!;
    private string[] _stringKeys = null!;
    private Dictionary<string, byte[]> _dictionary = null!;
    private byte[] _value = null!;
    private RangeRequest[] _ranges = null!;
    private long _index;
    private int _cursor;

    [GlobalSetup]
    public void Setup()
    {
        _value = new byte[256];
        new Random(1).NextBytes(_value);
        _store = new KvStateMachine();
        _keys = new byte[Keys][];
        _stringKeys = new string[Keys];
        _dictionary = new Dictionary<string, byte[]>(Keys);
        for (var i = 0; i < Keys; i++)
        {
            _stringKeys[i] = $"bench/key/{i:D6}";
            _keys[i] = System.Text.Encoding.UTF8.GetBytes(_stringKeys[i]);
            _store.Apply(++_index, new KvCommand { Put = new PutRequest { Key = ByteString.CopyFrom(_keys[i]), Value = ByteString.CopyFrom(_value) } });
            _dictionary[_stringKeys[i]] = _value;
        }

        var random = new Random(2);
        _putCommands = new byte[4096][];
        for (var i = 0; i < _putCommands.Length; i++)
        {
            var key = _keys[random.Next(Keys)];
            _putCommands[i] = new KvCommand { Put = new PutRequest { Key = ByteString.CopyFrom(key), Value = ByteString.CopyFrom(_value) } }.ToByteArray();
        }

        _ranges = Enumerable.Range(0, 256)
            .Select(_ => new RangeRequest { Prefix = ByteString.CopyFromUtf8($"bench/key/{random.Next(Keys / 10):D5}"), Limit = 10 })
            .ToArray();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ApplyPut256B()
    {
        var bytes = 0;
        for (var i = 0; i < Batch; i++)
        {
            bytes += _store.Apply(++_index, _putCommands[_cursor++ & 4095]).Length;
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int GetLocal()
    {
        var found = 0;
        for (var i = 0; i < Batch; i++)
        {
            found += (int)_store.Get(_keys[(int)((uint)(_cursor++ * 7919) % Keys)]).Status;
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int RangePrefixLimit10()
    {
        var returned = 0;
        for (var i = 0; i < Batch; i++)
        {
            returned += _store.Range(_ranges[_cursor++ & 255]).Range.Kvs.Count;
        }

        return returned;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int BaselineProtobufDecodeEncodePut()
    {
        var bytes = 0;
        for (var i = 0; i < Batch; i++)
        {
            var command = KvCommand.Parser.ParseFrom(_putCommands[_cursor++ & 4095]);
            bytes += new KvResult { Status = KvStatus.Ok, Revision = _index, Put = new PutResult { Current = new KeyValue { Key = command.Put.Key } } }.ToByteArray().Length;
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int BaselineDictionarySet()
    {
        for (var i = 0; i < Batch; i++)
        {
            _dictionary[_stringKeys[(int)((uint)(_cursor++ * 7919) % Keys)]] = _value;
        }

        return _dictionary.Count;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int BaselineDictionaryGet()
    {
        var found = 0;
        for (var i = 0; i < Batch; i++)
        {
            found += _dictionary[_stringKeys[(int)((uint)(_cursor++ * 7919) % Keys)]].Length;
        }

        return found;
    }
}
