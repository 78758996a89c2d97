using System.CommandLine;
using System.Runtime.CompilerServices;
using System.Text;
using Grpc.Core;
using KvCluster.Client.Bench.Etcd;
using KvCluster.Client.Etcd;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// <c>kv watch key [range_end] [--prefix] [--from-key] [--rev N] [--prev-kv]</c>: etcdctl's watch. Prints every event
/// as etcdctl does (simple: the type, the previous pair with --prev-kv, then key and value, one per line; json: one
/// line per response with Header, Events, CompactRevision, Canceled, Created) until Ctrl-C (exit 130) or the server
/// cancels the watch (one line on standard error; exit 5 when the start revision was compacted, 3 otherwise). When the
/// member serving it goes away, the watch resumes on the next endpoint from the last revision seen + 1, so nothing is
/// missed or repeated.
/// </summary>
internal static class WatchCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var key = new Argument<string>("key") { Description = "The key, or with --prefix the prefix (\"\" watches every key)." };
        var rangeEnd = new Argument<string?>("range_end") { Description = "End of the range [key, range_end).", Arity = ArgumentArity.ZeroOrOne };
        var prefix = new Option<bool>("--prefix") { Description = "Watch every key that starts with the argument." };
        var fromKey = new Option<bool>("--from-key") { Description = "Watch every key greater than or equal to the argument." };
        var rev = new Option<long>("--rev") { Description = "Start at this past revision (replayed from the history); 0: from now.", HelpName = "revision" };
        var prevKv = new Option<bool>("--prev-kv") { Description = "Print each key's previous pair before the new one." };
        var command = new Command("watch", "Print the changes to a key or a range as they happen (etcdctl watch), until Ctrl-C.") { key, rangeEnd, prefix, fromKey, rev, prevKv };
        command.SetAction((parse, token) =>
        {
            var range = EtcdKeys.Resolve(parse.GetValue(key)!, parse.GetValue(rangeEnd), parse.GetValue(prefix), parse.GetValue(fromKey), out var error);
            if (range is null)
            {
                return Task.FromResult(KvCli.UsageError(parse, error!, console));
            }

            if (parse.GetValue(rev) < 0)
            {
                return Task.FromResult(KvCli.UsageError(parse, "--rev must not be negative", console));
            }

            var create = new WatchCreateRequest
            {
                Key = range.Value.Key,
                RangeEnd = range.Value.RangeEnd,
                StartRevision = parse.GetValue(rev),
                PrevKv = parse.GetValue(prevKv),
            };
            return EtcdSession.RunAsync(parse, globals, options, console, session => WatchAsync(session, create, token), token);
        });
        return command;
    }

    /// <summary>Runs the watch until cancelled or refused; resumes on the next endpoint when a member goes away.</summary>
    internal static async Task<int> WatchAsync(EtcdSession session, WatchCreateRequest create, CancellationToken token)
    {
        // The next revision to print, kept across streams (a stream that fails has moved it for what it printed).
        var next = new StrongBox<long>(create.StartRevision);
        var failures = 0;
        for (var endpoint = 0; ; endpoint = (endpoint + 1) % session.Endpoints.Count)
        {
            var before = next.Value;
            try
            {
                if (await WatchOnceAsync(session.Channel(endpoint), session, create, next, token).ConfigureAwait(false) is { } code)
                {
                    return code;
                }

                failures = 0;
            }
            catch (RpcException e) when (!token.IsCancellationRequested && e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown)
            {
                // The member went away, could not be reached, or has no leader: go on at the next one from where this
                // one stopped (a stream that delivered something counts as a success).
                failures = next.Value != before ? 1 : failures + 1;
                if (failures >= 3 * session.Endpoints.Count)
                {
                    throw;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 100 * failures)), token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// One stream to one member: returns an exit code when the watch is over; throws when the stream fails or ends, with
    /// <paramref name="next"/> moved past everything printed, so the next stream resumes there.
    /// </summary>
    private static async Task<int?> WatchOnceAsync(EtcdChannel channel, EtcdSession session, WatchCreateRequest create, StrongBox<long> next, CancellationToken token)
    {
        var request = create.Clone();
        request.StartRevision = next.Value;
        // As etcdctl: the member ends the stream when it has no leader, and the watch resumes on another member.
        using var call = channel.Watch.Watch(new CallOptions(session.Headers(EtcdRequireLeader.Headers()), cancellationToken: token));
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = request }, token).ConfigureAwait(false);
        var output = session.Console.Out;
        var json = session.Format == "json";
        while (await call.ResponseStream.MoveNext(token).ConfigureAwait(false))
        {
            var response = call.ResponseStream.Current;
            if (response.Created && next.Value == 0)
            {
                // "From now" means after the revision the member reported: a resume elsewhere must not skip or repeat.
                next.Value = response.Header.Revision + 1;
            }

            if (response.Events.Count > 0)
            {
                next.Value = response.Events[^1].Kv.ModRevision + 1;
            }

            if (json)
            {
                output.WriteLine(Json(response));
            }
            else
            {
                Print(output, response);
            }

            output.Flush();
            if (response.Canceled)
            {
                var reason = response.CompactRevision != 0
                    ? $"etcdserver: mvcc: required revision has been compacted (compact revision {response.CompactRevision})"
                    : response.CancelReason;
                session.Console.Error.WriteLine($"watch was canceled ({reason})");
                return response.CompactRevision != 0 ? ExitCodes.Rejected : ExitCodes.Unavailable;
            }
        }

        // The member ended the stream (it is stopping): resume elsewhere.
        throw new RpcException(new Status(StatusCode.Unavailable, "the watch stream ended"));
    }

    /// <summary>etcdctl's simple form of one response's events.</summary>
    internal static void Print(TextWriter output, WatchResponse response)
    {
        foreach (var e in response.Events)
        {
            output.WriteLine(e.Type == KvCluster.Client.Etcd.Mvcc.Event.Types.EventType.Delete ? "DELETE" : "PUT");
            if (e.PrevKv is { } previous)
            {
                output.WriteLine(EtcdPrinter.Text(previous.Key));
                output.WriteLine(EtcdPrinter.Text(previous.Value));
            }

            output.WriteLine(EtcdPrinter.Text(e.Kv.Key));
            output.WriteLine(EtcdPrinter.Text(e.Kv.Value));
        }
    }

    /// <summary>etcdctl's <c>-w json</c> of one response (Go's encoding of clientv3's WatchResponse).</summary>
    internal static string Json(WatchResponse response)
    {
        var text = new StringBuilder("{\"Header\":");
        text.Append(EtcdJson.Format(response.Header ?? new ResponseHeader()));
        text.Append(",\"Events\":");
        if (response.Events.Count == 0)
        {
            text.Append("null");
        }
        else
        {
            text.Append('[').AppendJoin(',', response.Events.Select(EtcdJson.Format)).Append(']');
        }

        text.Append(",\"CompactRevision\":").Append(response.CompactRevision.ToString(System.Globalization.CultureInfo.InvariantCulture));
        text.Append(",\"Canceled\":").Append(response.Canceled ? "true" : "false");
        text.Append(",\"Created\":").Append(response.Created ? "true" : "false");
        return text.Append('}').ToString();
    }
}
