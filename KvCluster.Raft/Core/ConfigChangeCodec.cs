using Google.Protobuf;

namespace KvCluster.Raft.Core;

/// <summary>
/// The payload of an <see cref="EntryType.ConfigChange"/> entry: the change and the whole configuration it produces,
/// so a node adopts the configuration of the latest such entry in its log without replaying earlier ones (and a
/// joining node, which starts with an empty configuration, needs no history). The bytes are the protobuf message
/// <c>akkakv.raft.v1.ConfigChangeEntry</c> of <c>raft.proto</c>, written with the protobuf library's coded streams so the
/// core stays free of generated wire types; a test checks both agree.
/// </summary>
public static class ConfigChangeCodec
{
    private const int TypeField = 1;
    private const int NodeIdField = 2;
    private const int VotersField = 3;
    private const int LearnersField = 4;
    private const int PromoteField = 5;
    private const int PromotingField = 6;

    /// <summary>Encodes a change and the configuration it produces.</summary>
    /// <param name="change">The change.</param>
    /// <param name="result">The configuration after the change.</param>
    /// <returns>New bytes owned by the caller.</returns>
    public static byte[] Encode(ConfigChange change, Membership result)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(result);
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        output.WriteTag(TypeField, WireFormat.WireType.Varint);
        output.WriteEnum((int)change.Type);
        output.WriteTag(NodeIdField, WireFormat.WireType.Varint);
        output.WriteUInt64(change.NodeId);
        WritePacked(output, VotersField, result.Voters);
        WritePacked(output, LearnersField, result.Learners);
        if (change.PromoteWhenCaughtUp)
        {
            output.WriteTag(PromoteField, WireFormat.WireType.Varint);
            output.WriteBool(true);
        }

        WritePacked(output, PromotingField, result.Promoting);
        output.Flush();
        return buffer.ToArray();
    }

    /// <summary>Decodes an entry payload written by <see cref="Encode"/> (or by the generated wire type).</summary>
    /// <param name="data">The entry's data.</param>
    /// <returns>The change and the configuration it produces.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a valid configuration change (bad protobuf, unknown type,
    /// node id 0, or an invalid resulting configuration).</exception>
    public static (ConfigChange Change, Membership Result) Decode(ReadOnlyMemory<byte> data)
    {
        int type = 0;
        ulong nodeId = 0;
        var voters = new List<ulong>();
        var learners = new List<ulong>();
        var promoting = new List<ulong>();
        var promote = false;
        try
        {
            var input = new CodedInputStream(data.ToArray());
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                var field = WireFormat.GetTagFieldNumber(tag);
                var wireType = WireFormat.GetTagWireType(tag);
                switch (field)
                {
                    case TypeField when wireType == WireFormat.WireType.Varint:
                        type = input.ReadEnum();
                        break;
                    case NodeIdField when wireType == WireFormat.WireType.Varint:
                        nodeId = input.ReadUInt64();
                        break;
                    case VotersField:
                        ReadRepeated(input, wireType, voters);
                        break;
                    case LearnersField:
                        ReadRepeated(input, wireType, learners);
                        break;
                    case PromoteField when wireType == WireFormat.WireType.Varint:
                        promote = input.ReadBool();
                        break;
                    case PromotingField:
                        ReadRepeated(input, wireType, promoting);
                        break;
                    default:
                        input.SkipLastField();
                        break;
                }
            }
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"A configuration change entry is not valid protobuf: {ex.Message}", ex);
        }

        if (!Enum.IsDefined((ConfigChangeType)type))
        {
            throw new InvalidDataException($"A configuration change entry has unknown change type {type}.");
        }

        if (nodeId == 0)
        {
            throw new InvalidDataException("A configuration change entry names node 0.");
        }

        Membership result;
        try
        {
            result = new Membership(voters, learners, promoting);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"A configuration change entry carries an invalid configuration: {ex.Message}", ex);
        }

        return (new ConfigChange((ConfigChangeType)type, nodeId, promote), result);
    }

    private static void WritePacked(CodedOutputStream output, int field, IReadOnlyList<ulong> ids)
    {
        if (ids.Count == 0)
        {
            return;
        }

        var length = 0;
        foreach (var id in ids)
        {
            length += CodedOutputStream.ComputeUInt64Size(id);
        }

        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteLength(length);
        foreach (var id in ids)
        {
            output.WriteUInt64(id);
        }
    }

    private static void ReadRepeated(CodedInputStream input, WireFormat.WireType wireType, List<ulong> into)
    {
        if (wireType == WireFormat.WireType.Varint)
        {
            into.Add(input.ReadUInt64());
            return;
        }

        if (wireType != WireFormat.WireType.LengthDelimited)
        {
            throw new InvalidDataException($"A configuration change entry has a member list of wire type {wireType}.");
        }

        var bytes = input.ReadBytes().ToByteArray();
        var packed = new CodedInputStream(bytes);
        while (!packed.IsAtEnd)
        {
            into.Add(packed.ReadUInt64());
        }
    }
}
