using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// Writes an etcd response as etcdctl's <c>-w json</c> does (Go's encoding/json over the generated structs): the
/// proto field names (<c>cluster_id</c>, <c>create_revision</c>, <c>peerURLs</c>) in declaration order, zero values
/// left out, 64-bit integers as JSON numbers, bytes in base64, enums as numbers.
/// </summary>
internal static class EtcdJson
{
    /// <summary>The response as one line of JSON.</summary>
    public static string Format(IMessage message)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            WriteMessage(json, message);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteMessage(Utf8JsonWriter json, IMessage message)
    {
        json.WriteStartObject();
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            var value = field.Accessor.GetValue(message);
            if (field.IsRepeated)
            {
                var list = (System.Collections.IList)value;
                if (list.Count == 0)
                {
                    continue;
                }

                json.WriteStartArray(field.Name);
                foreach (var item in list)
                {
                    WriteValue(json, field, item);
                }

                json.WriteEndArray();
            }
            else if (!IsDefault(field, value))
            {
                json.WritePropertyName(field.Name);
                WriteValue(json, field, value);
            }
        }

        json.WriteEndObject();
    }

    private static bool IsDefault(FieldDescriptor field, object? value) => value switch
    {
        null => true,
        long l => l == 0,
        ulong u => u == 0,
        int i => i == 0,
        uint u => u == 0,
        bool b => !b,
        string s => s.Length == 0,
        ByteString bytes => bytes.IsEmpty,
        Enum e => Convert.ToInt32(e, System.Globalization.CultureInfo.InvariantCulture) == 0,
        _ => field.FieldType != FieldType.Message && value.Equals(Activator.CreateInstance(value.GetType())),
    };

    private static void WriteValue(Utf8JsonWriter json, FieldDescriptor field, object? value)
    {
        switch (value)
        {
            case IMessage message:
                WriteMessage(json, message);
                break;
            case long l:
                json.WriteNumberValue(l);
                break;
            case ulong u:
                json.WriteNumberValue(u);
                break;
            case int i:
                json.WriteNumberValue(i);
                break;
            case uint u:
                json.WriteNumberValue(u);
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            case ByteString bytes:
                json.WriteBase64StringValue(bytes.Span);
                break;
            case Enum e:
                json.WriteNumberValue(Convert.ToInt32(e, System.Globalization.CultureInfo.InvariantCulture));
                break;
            default:
                json.WriteNullValue();
                break;
        }
    }
}
