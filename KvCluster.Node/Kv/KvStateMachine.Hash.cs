using System.Buffers.Binary;
using KvCluster.Client.Etcd;
using KvCluster.Client.Protocol;

namespace KvCluster.Node.Kv;

public sealed partial class KvStateMachine
{
    /// <summary>
    /// etcd's HashKV(revision): a CRC-32C over every retained key-version at or below the revision
    /// (0 = the newest), in key order then revision order, each as key, mod revision, create revision,
    /// version, lease, tombstone flag and value; then the compaction point. Two replicas that applied
    /// the same log give the same hash. Not etcd's byte layout (its hash covers its own storage), so
    /// compare AkkaKv replicas with each other, not with etcd. A read: it changes nothing.
    /// </summary>
    public KvResult HashKv(HashKVRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var rejection = CheckReadRevision(request.Revision);
        if (rejection is not null)
        {
            return rejection.ToResult(Revision);
        }

        var upTo = request.Revision > 0 ? request.Revision : Revision;
        var crc = new KvCrc32C();
        Span<byte> number = stackalloc byte[8];
        foreach (var key in _sorted)
        {
            foreach (var version in key.Versions())
            {
                if (version.ModRevision > upTo)
                {
                    break;
                }

                WriteInt64(ref crc, number, key.Key.Length);
                crc.Append(key.Key.Span);
                WriteInt64(ref crc, number, version.ModRevision);
                WriteInt64(ref crc, number, version.CreateRevision);
                WriteInt64(ref crc, number, version.Version);
                WriteInt64(ref crc, number, version.Lease);
                WriteInt64(ref crc, number, version.IsTombstone ? -1 : version.Value!.Length);
                if (!version.IsTombstone)
                {
                    crc.Append(version.Value!.Span);
                }
            }
        }

        WriteInt64(ref crc, number, CompactRevision);
        return new KvResult
        {
            Status = KvStatus.Ok,
            Revision = Revision,
            EtcdHashKv = new HashKVResponse
            {
                Header = new ResponseHeader { Revision = Revision },
                Hash = crc.Value,
                CompactRevision = CompactRevision,
                HashRevision = upTo,
            },
        };
    }

    private static void WriteInt64(ref KvCrc32C crc, Span<byte> buffer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buffer, value);
        crc.Append(buffer);
    }
}

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum etcd's HashKV uses. Written
/// here rather than taken from System.IO.Hashing (served by our registry) because adding a package
/// means editing KvCluster.Node.csproj and Directory.Packages.props, which other work owns right now;
/// swapping in System.IO.Hashing.Crc32C later changes no hash value.
/// </summary>
internal struct KvCrc32C
{
    private static readonly uint[] Table = BuildTable();

    private uint _state;

    /// <summary>Creates a checksum over nothing yet.</summary>
    public KvCrc32C()
    {
        _state = 0xFFFFFFFFu;
    }

    /// <summary>The checksum of everything appended so far.</summary>
    public readonly uint Value => ~_state;

    /// <summary>Adds <paramref name="bytes"/> to the checksum.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        var state = _state;
        foreach (var b in bytes)
        {
            state = Table[(state ^ b) & 0xFF] ^ (state >> 8);
        }

        _state = state;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var entry = i;
            for (var bit = 0; bit < 8; bit++)
            {
                entry = (entry & 1) != 0 ? (entry >> 1) ^ 0x82F63B78u : entry >> 1;
            }

            table[i] = entry;
        }

        return table;
    }
}
