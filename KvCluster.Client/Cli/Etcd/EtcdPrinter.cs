using System.Globalization;
using System.Text;
using Google.Protobuf;
using KvCluster.Client.Snapshots;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// Prints etcd responses as etcdctl 3.4 does: <c>simple</c> (keys and values on their own lines, OK, counts),
/// <c>json</c> (<see cref="EtcdJson"/>), <c>fields</c> (<c>"Name" : value</c> lines), and <c>table</c> for member
/// and endpoint listings (the others print as simple).
/// </summary>
internal sealed class EtcdPrinter
{
    private readonly TextWriter _out;

    /// <summary>Creates a printer writing to <paramref name="output"/> in <paramref name="format"/>.</summary>
    public EtcdPrinter(TextWriter output, string format)
    {
        _out = output;
        Format = format;
    }

    /// <summary>simple, json, fields or table.</summary>
    public string Format { get; }

    /// <summary>A put: <c>OK</c>, then the previous pair when asked for.</summary>
    public void Put(PutResponse response)
    {
        if (Json(response))
        {
            return;
        }

        if (Format == "fields")
        {
            Header(response.Header);
            if (response.PrevKv is { } prev)
            {
                Fields(prev, "Prev");
            }

            return;
        }

        _out.WriteLine("OK");
        if (response.PrevKv is { } previous)
        {
            Pair(previous, valueOnly: false);
        }
    }

    /// <summary>A range: every pair as key then value lines (only values with <paramref name="valueOnly"/>).</summary>
    public void Range(RangeResponse response, bool valueOnly, bool countOnly)
    {
        if (Json(response))
        {
            return;
        }

        if (Format == "fields")
        {
            Header(response.Header);
            foreach (var kv in response.Kvs)
            {
                Fields(kv, string.Empty);
            }

            _out.WriteLine($"\"More\" : {Bool(response.More)}");
            _out.WriteLine($"\"Count\" : {Num(response.Count)}");
            return;
        }

        if (countOnly)
        {
            _out.WriteLine(Num(response.Count));
            return;
        }

        foreach (var kv in response.Kvs)
        {
            Pair(kv, valueOnly);
        }
    }

    /// <summary>A delete: the number of keys deleted, then the deleted pairs when asked for.</summary>
    public void Delete(DeleteRangeResponse response)
    {
        if (Json(response))
        {
            return;
        }

        if (Format == "fields")
        {
            Header(response.Header);
            _out.WriteLine($"\"Deleted\" : {Num(response.Deleted)}");
            foreach (var kv in response.PrevKvs)
            {
                Fields(kv, "Prev");
            }

            return;
        }

        _out.WriteLine(Num(response.Deleted));
        foreach (var kv in response.PrevKvs)
        {
            Pair(kv, valueOnly: false);
        }
    }

    /// <summary>A txn: SUCCESS or FAILURE, a blank line, then each response of the branch that ran.</summary>
    public void Txn(TxnResponse response)
    {
        if (Json(response))
        {
            return;
        }

        if (Format == "fields")
        {
            Header(response.Header);
            _out.WriteLine($"\"Succeeded\" : {Bool(response.Succeeded)}");
        }
        else
        {
            _out.WriteLine(response.Succeeded ? "SUCCESS" : "FAILURE");
        }

        foreach (var op in response.Responses)
        {
            if (Format != "fields")
            {
                _out.WriteLine();
            }

            switch (op.ResponseCase)
            {
                case ResponseOp.ResponseOneofCase.ResponsePut:
                    Put(op.ResponsePut);
                    break;
                case ResponseOp.ResponseOneofCase.ResponseRange:
                    Range(op.ResponseRange, valueOnly: false, countOnly: false);
                    break;
                case ResponseOp.ResponseOneofCase.ResponseDeleteRange:
                    Delete(op.ResponseDeleteRange);
                    break;
                case ResponseOp.ResponseOneofCase.ResponseTxn:
                    Txn(op.ResponseTxn);
                    break;
            }
        }
    }

    /// <summary>A compaction: <c>compacted revision N</c>.</summary>
    public void Compact(CompactionResponse response, long revision)
    {
        if (Json(response))
        {
            return;
        }

        if (Format == "fields")
        {
            Header(response.Header);
            return;
        }

        _out.WriteLine($"compacted revision {Num(revision)}");
    }

    /// <summary>Members, one per line: <c>id, started, name, peer URLs, client URLs, is learner</c>.</summary>
    public void Members(IMessage response, ResponseHeader? header, IEnumerable<Member> members)
    {
        if (Json(response))
        {
            return;
        }

        if (Format == "fields")
        {
            Header(header);
            foreach (var m in members)
            {
                _out.WriteLine($"\"ID\" : {m.ID.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"Name\" : {Quote(m.Name)}");
                foreach (var url in m.PeerURLs)
                {
                    _out.WriteLine($"\"PeerURL\" : {Quote(url)}");
                }

                foreach (var url in m.ClientURLs)
                {
                    _out.WriteLine($"\"ClientURL\" : {Quote(url)}");
                }

                _out.WriteLine($"\"IsLearner\" : {Bool(m.IsLearner)}");
                _out.WriteLine();
            }

            return;
        }

        var rows = members.Select(m => new[]
        {
            m.ID.ToString("x", CultureInfo.InvariantCulture),
            m.Name.Length == 0 ? "unstarted" : "started",
            m.Name,
            string.Join(",", m.PeerURLs),
            string.Join(",", m.ClientURLs),
            Bool(m.IsLearner),
        }).ToList();
        Rows(["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"], rows);
    }

    /// <summary>Endpoint statuses, one per line, as <c>etcdctl endpoint status</c>.</summary>
    public void Statuses(IReadOnlyList<(string Endpoint, StatusResponse Status)> statuses)
    {
        if (Format == "json")
        {
            PerEndpointJson(statuses, "Status");
            return;
        }

        if (Format == "fields")
        {
            foreach (var (endpoint, s) in statuses)
            {
                Header(s.Header);
                _out.WriteLine($"\"Version\" : {Quote(s.Version)}");
                _out.WriteLine($"\"DBSize\" : {Num(s.DbSize)}");
                _out.WriteLine($"\"Leader\" : {s.Leader.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"IsLearner\" : {Bool(s.IsLearner)}");
                _out.WriteLine($"\"RaftIndex\" : {s.RaftIndex.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"RaftTerm\" : {s.RaftTerm.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"RaftAppliedIndex\" : {s.RaftAppliedIndex.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"Errors\" : [{string.Join(",", s.Errors.Select(Quote))}]");
                _out.WriteLine($"\"SnapshotIndex\" : {s.AkkakvSnapshotIndex.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"SnapshotTerm\" : {s.AkkakvSnapshotTerm.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"SnapshotSize\" : {Num(s.AkkakvSnapshotBytes)}");
                _out.WriteLine($"\"SnapshotTakenAtUnixMs\" : {s.AkkakvSnapshotTakenAtUnixMs.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"FirstLogIndex\" : {s.AkkakvFirstLogIndex.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"Endpoint\" : {Quote(endpoint)}");
                _out.WriteLine();
            }

            return;
        }

        var rows = statuses.Select(x => new[]
        {
            x.Endpoint,
            x.Status.Header?.MemberId.ToString("x", CultureInfo.InvariantCulture) ?? "0",
            x.Status.Version,
            Size(x.Status.DbSize),
            Bool(x.Status.Header is { } h && h.MemberId == x.Status.Leader),
            Bool(x.Status.IsLearner),
            x.Status.RaftTerm.ToString(CultureInfo.InvariantCulture),
            x.Status.RaftIndex.ToString(CultureInfo.InvariantCulture),
            x.Status.RaftAppliedIndex.ToString(CultureInfo.InvariantCulture),
            string.Join(", ", x.Status.Errors),
            x.Status.AkkakvSnapshotIndex.ToString(CultureInfo.InvariantCulture),
            x.Status.AkkakvSnapshotIndex > 0 ? KvSnapshotFigures.Size(x.Status.AkkakvSnapshotBytes) : "-",
            x.Status.AkkakvSnapshotTakenAtUnixMs > 0 ? KvSnapshotFigures.Age(DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeMilliseconds(x.Status.AkkakvSnapshotTakenAtUnixMs)) : "-",
            x.Status.AkkakvFirstLogIndex.ToString(CultureInfo.InvariantCulture),
        }).ToList();

        // etcdctl's columns first, in its order (scripts cut them by position); AkkaKv's snapshot figures after them.
        Rows(["ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS", "SNAPSHOT INDEX", "SNAPSHOT SIZE", "SNAPSHOT AGE", "FIRST LOG INDEX"], rows);
    }

    /// <summary>etcdctl's JSON of a per-endpoint command: <c>[{"Endpoint":"...","Name":{...}}]</c>.</summary>
    private void PerEndpointJson<T>(IReadOnlyList<(string Endpoint, T Answer)> answers, string name)
        where T : Google.Protobuf.IMessage =>
        _out.WriteLine("[" + string.Join(",", answers.Select(a =>
            $"{{\"Endpoint\":{System.Text.Json.JsonSerializer.Serialize(a.Endpoint)},\"{name}\":{EtcdJson.Format(a.Answer)}}}")) + "]");

    /// <summary>An alarm list, as etcdctl's <c>alarm list</c> prints it (nothing when there is no alarm).</summary>
    public void Alarms(AlarmResponse response)
    {
        if (Format == "json")
        {
            _out.WriteLine(EtcdJson.Format(response));
            return;
        }

        if (Format == "fields")
        {
            Header(response.Header);
        }

        foreach (var alarm in response.Alarms)
        {
            _out.WriteLine(Format == "fields"
                ? $"\"MemberID\" : {alarm.MemberID.ToString(CultureInfo.InvariantCulture)}\n\"Alarm\" : {alarm.Alarm.ToString().ToUpperInvariant()}"
                : $"memberID:{alarm.MemberID.ToString(CultureInfo.InvariantCulture)} alarm:{alarm.Alarm.ToString().ToUpperInvariant()}");
        }
    }

    /// <summary>Maintenance.HashKV answers, one per endpoint, as etcdctl's <c>endpoint hashkv</c> prints them.</summary>
    public void HashKvs(IReadOnlyList<(string Endpoint, HashKVResponse Hash)> hashes)
    {
        if (Format == "json")
        {
            PerEndpointJson(hashes, "HashKV");
            return;
        }

        if (Format == "fields")
        {
            foreach (var (endpoint, h) in hashes)
            {
                Header(h.Header);
                _out.WriteLine($"\"Endpoint\" : {Quote(endpoint)}");
                _out.WriteLine($"\"Hash\" : {h.Hash.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine($"\"HashRevision\" : {h.HashRevision.ToString(CultureInfo.InvariantCulture)}");
                _out.WriteLine();
            }

            return;
        }

        var rows = hashes.Select(h => new[]
        {
            h.Endpoint,
            h.Hash.Hash.ToString(CultureInfo.InvariantCulture),
            h.Hash.HashRevision.ToString(CultureInfo.InvariantCulture),
        }).ToList();
        if (Format == "table")
        {
            Rows(["ENDPOINT", "HASH", "HASH REVISION"], rows);
            return;
        }

        // etcdctl's simple form: "endpoint, hash, hash revision" per line.
        foreach (var row in rows)
        {
            _out.WriteLine(string.Join(", ", row));
        }
    }

    /// <summary>Bytes as text: UTF-8, with invalid bytes replaced.</summary>
    public static string Text(ByteString bytes) => Encoding.UTF8.GetString(bytes.Span);

    /// <summary>A string quoted as Go's %q would (close enough for printable text).</summary>
    public static string Quote(string text)
    {
        var builder = new StringBuilder("\"");
        foreach (var c in text)
        {
            builder.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                < ' ' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }

        return builder.Append('"').ToString();
    }

    private bool Json(IMessage response)
    {
        if (Format != "json")
        {
            return false;
        }

        _out.WriteLine(EtcdJson.Format(response));
        return true;
    }

    private void Header(ResponseHeader? header)
    {
        header ??= new ResponseHeader();
        _out.WriteLine($"\"ClusterID\" : {header.ClusterId.ToString(CultureInfo.InvariantCulture)}");
        _out.WriteLine($"\"MemberID\" : {header.MemberId.ToString(CultureInfo.InvariantCulture)}");
        _out.WriteLine($"\"Revision\" : {Num(header.Revision)}");
        _out.WriteLine($"\"RaftTerm\" : {header.RaftTerm.ToString(CultureInfo.InvariantCulture)}");
    }

    private void Fields(KeyValue kv, string prefix)
    {
        _out.WriteLine($"\"{prefix}Key\" : {Quote(Text(kv.Key))}");
        _out.WriteLine($"\"{prefix}CreateRevision\" : {Num(kv.CreateRevision)}");
        _out.WriteLine($"\"{prefix}ModRevision\" : {Num(kv.ModRevision)}");
        _out.WriteLine($"\"{prefix}Version\" : {Num(kv.Version)}");
        _out.WriteLine($"\"{prefix}Value\" : {Quote(Text(kv.Value))}");
        _out.WriteLine($"\"{prefix}Lease\" : {Num(kv.Lease)}");
    }

    private void Pair(KeyValue kv, bool valueOnly)
    {
        if (!valueOnly)
        {
            _out.WriteLine(Text(kv.Key));
        }

        _out.WriteLine(Text(kv.Value));
    }

    internal void Rows(string[] header, List<string[]> rows)
    {
        if (Format != "table")
        {
            foreach (var row in rows)
            {
                _out.WriteLine(string.Join(", ", row));
            }

            return;
        }

        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var rule = "+" + string.Join("+", widths.Select(w => new string('-', w + 2))) + "+";
        _out.WriteLine(rule);
        _out.WriteLine("| " + string.Join(" | ", header.Select((h, i) => h.PadLeft((widths[i] + h.Length) / 2).PadRight(widths[i]))) + " |");
        _out.WriteLine(rule);
        foreach (var row in rows)
        {
            _out.WriteLine("| " + string.Join(" | ", row.Select((c, i) => c.PadRight(widths[i]))) + " |");
        }

        _out.WriteLine(rule);
    }

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Bool(bool value) => value ? "true" : "false";

    private static string Size(long bytes) => bytes switch
    {
        >= 1_000_000 => (bytes / 1_000_000.0).ToString("0.#", CultureInfo.InvariantCulture) + " MB",
        >= 1_000 => (bytes / 1_000).ToString(CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
