using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;

namespace KvCluster.Chaos;

/// <summary>
/// Checks the lock-holder workload against the store. The guarded writes that took effect are read back (each has a key
/// of its own, so its create revision is the revision it committed at, whatever its holder saw). A violation is:
/// <list type="bullet">
/// <item>a guarded write with token T committed at revision R while another holder had acquired the lock with a token
/// above T at a revision below R (a fenced-off holder's write succeeded after the next holder acquired);</item>
/// <item>guarded writes whose tokens go down as their revisions go up (two holders' writes interleaved);</item>
/// <item>a write its holder saw succeed that is missing, or one it saw refused that took effect.</item>
/// </list>
/// </summary>
internal static class LockChecker
{
    /// <summary>Reads the writes back (retrying across nodes for up to 30 s) and checks them; null when they could not be read.</summary>
    public static async Task<LockVerdict?> CheckAsync(IReadOnlyList<int> clientPorts, LockLog log)
    {
        var stored = await ReadWritesAsync(clientPorts).ConfigureAwait(false);
        if (stored is null)
        {
            return null;
        }

        var violations = new List<string>();
        foreach (var write in log.Writes)
        {
            var present = stored.ContainsKey(write.Key);
            if (write.Outcome == LockOutcome.Succeeded && !present)
            {
                violations.Add($"holder {write.Holder}'s guarded write {write.Key} (token {write.Token}) was acknowledged but is missing");
            }
            else if (write.Outcome == LockOutcome.Refused && present)
            {
                violations.Add($"holder {write.Holder}'s guarded write {write.Key} (token {write.Token}) was refused but took effect");
            }
        }

        var acquisitions = log.Acquisitions.OrderBy(a => a.Revision).ToArray();
        foreach (var (key, (token, revision)) in stored)
        {
            foreach (var later in acquisitions.Where(a => a.Token > token && a.Revision < revision))
            {
                violations.Add($"guarded write {key} with token {token} committed at revision {revision}, after holder {later.Holder} acquired the lock with token {later.Token} (read at revision {later.Revision})");
            }
        }

        var highest = 0L;
        foreach (var (key, (token, revision)) in stored.OrderBy(w => w.Value.Revision))
        {
            if (token < highest)
            {
                violations.Add($"guarded write {key} with token {token} committed at revision {revision}, after a write with token {highest}");
            }

            highest = Math.Max(highest, token);
        }

        return new LockVerdict(log.Acquisitions.Count, log.Writes, stored.Count, violations);
    }

    private static async Task<Dictionary<string, (long Token, long Revision)>?> ReadWritesAsync(IReadOnlyList<int> clientPorts)
    {
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        for (var attempt = 0; Stopwatch.GetTimestamp() < deadline; attempt++)
        {
            using var channel = GrpcChannel.ForAddress(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{clientPorts[attempt % clientPorts.Count]}"));
            try
            {
                var response = await new KV.KVClient(channel).RangeAsync(
                    new RangeRequest { Key = ByteString.CopyFromUtf8(LockHolder.WritesPrefix), RangeEnd = ByteString.CopyFromUtf8("chaos-lock-writes0") },
                    deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync.ConfigureAwait(false);
                return response.Kvs.ToDictionary(
                    kv => kv.Key.ToStringUtf8(),
                    kv => (long.Parse(kv.Value.ToStringUtf8(), CultureInfo.InvariantCulture), kv.CreateRevision));
            }
            catch (RpcException)
            {
                await Task.Delay(200).ConfigureAwait(false);
            }
        }

        return null;
    }
}

/// <summary>The lock check's result.</summary>
internal sealed record LockVerdict(int Acquisitions, IReadOnlyList<LockWrite> Writes, int Stored, IReadOnlyList<string> Violations)
{
    /// <summary>The summary lines.</summary>
    public void Print(TextWriter output)
    {
        var succeeded = Writes.Count(w => w.Outcome == LockOutcome.Succeeded);
        var refused = Writes.Count(w => w.Outcome == LockOutcome.Refused);
        var indeterminate = Writes.Count(w => w.Outcome == LockOutcome.Indeterminate);
        var staleRefused = Writes.Count(w => w.Stale && w.Outcome == LockOutcome.Refused);
        var stale = Writes.Count(w => w.Stale);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"lock holders:      {Acquisitions} acquisitions; {Writes.Count} guarded writes: {succeeded} succeeded, {refused} refused by the fence, {indeterminate} indeterminate; {Stored} in the store"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stalled holders:   {stale} writes after stalling past the lease, {staleRefused} of them refused"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lock check:        {(Violations.Count == 0 ? "mutual exclusion held (no guarded write after a later holder acquired)" : $"{Violations.Count} VIOLATIONS")}"));
        foreach (var violation in Violations.Take(20))
        {
            output.WriteLine("  " + violation);
        }
    }
}
