using System.Text;
using Google.Protobuf;
using KvCluster.Client.Protocol;

namespace KvCluster.Tests.Kv;

/// <summary>Builders for KV commands in specs; keys and values given as UTF-8 text or raw bytes.</summary>
internal static class KvCommands
{
    public static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    public static ByteString B(params byte[] bytes) => ByteString.CopyFrom(bytes);

    public static KvCommand Put(string key, string value, long? expected = null) => Put(B(key), B(value), expected);

    public static KvCommand Put(ByteString key, ByteString value, long? expected = null)
    {
        var put = new PutRequest { Key = key, Value = value };
        if (expected is { } e)
        {
            put.ExpectedVersion = e;
        }

        return new KvCommand { Put = put };
    }

    public static KvCommand Get(string key) => new() { Get = new GetRequest { Key = B(key) } };

    public static KvCommand Delete(string key, long? expected = null)
    {
        var delete = new DeleteRequest { Key = B(key) };
        if (expected is { } e)
        {
            delete.ExpectedVersion = e;
        }

        return new KvCommand { Delete = delete };
    }

    public static KvCommand DeleteRange(string prefix) => new() { DeleteRange = new DeleteRangeRequest { Prefix = B(prefix) } };

    public static RangeRequest Prefix(string prefix, long limit = 0) => new() { Prefix = B(prefix), Limit = limit };

    public static RangeRequest Interval(ByteString start, ByteString end, long limit = 0) =>
        new() { Interval = new KeyInterval { Start = start, End = end }, Limit = limit };

    public static RangeRequest Interval(string start, string end, long limit = 0) => Interval(B(start), B(end), limit);

    public static string Text(ByteString bytes) => Encoding.UTF8.GetString(bytes.Span);

    public static string[] Keys(KvResult result) => result.Range.Kvs.Select(kv => Text(kv.Key)).ToArray();
}
