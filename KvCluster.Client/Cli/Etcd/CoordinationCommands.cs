using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Mvcc;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// <c>kv lock &lt;name&gt; [command args...]</c> and <c>kv elect &lt;name&gt; [proposal]</c>, as etcdctl 3.4's: a
/// session lease kept alive, the key <c>name/&lt;lease id&gt;</c>, the lowest create revision under <c>name/</c> wins,
/// waiters watch their predecessor. The key is printed (then its value) once held; with a command, the lock is held
/// while it runs (its environment has ETCD_LOCK_KEY and ETCD_LOCK_REV, the fencing token) and released after.
/// </summary>
internal static class CoordinationCommands
{
    /// <summary>The <c>lock</c> command.</summary>
    public static Command Lock(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var name = new Argument<string>("name") { Description = "The lock's name (keys live under name/)." };
        var exec = new Argument<string[]>("command") { Description = "A command to run while holding the lock (its exit code is kv's).", Arity = ArgumentArity.ZeroOrMore };
        var ttl = new Option<long>("--ttl") { Description = "The session lease's TTL in seconds.", DefaultValueFactory = _ => 10 };
        var command = new Command("lock", "Acquire a distributed lock (etcd's concurrency.Mutex); hold it until interrupted, or while a command runs.") { name, exec, ttl };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, async session =>
        {
            var cluster = new EtcdCoordination(session, LeaseCommands.CallTimeout(session));
            await using var keeper = await cluster.NewSessionAsync(parse.GetValue(ttl), token).ConfigureAwait(false);
            try
            {
                var (key, revision) = await cluster.LockAsync(parse.GetValue(name)!, keeper.Id, token).ConfigureAwait(false);
                var args = (parse.GetValue(exec) ?? []).Concat(parse.UnmatchedTokens).ToArray();
                if (args.Length > 0)
                {
                    var exit = await RunHoldingAsync(console, args, key, revision, token).ConfigureAwait(false);
                    await cluster.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
                    return exit;
                }

                console.Out.WriteLine(key);
                console.Out.WriteLine();
                console.Out.Flush();
                return await HoldAsync(console, cluster, keeper, key, token).ConfigureAwait(false);
            }
            finally
            {
                await cluster.RevokeQuietlyAsync(keeper.Id).ConfigureAwait(false);
            }
        }, token));
        return command;
    }

    /// <summary>The <c>elect</c> command.</summary>
    public static Command Elect(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var name = new Argument<string>("name") { Description = "The election's name (keys live under name/)." };
        var proposal = new Argument<string?>("proposal") { Description = "This candidate's value, shown while it leads.", Arity = ArgumentArity.ZeroOrOne };
        var listen = new Option<bool>("--listen", "-l") { Description = "Observe: print every new leader (key, then value) until interrupted." };
        var ttl = new Option<long>("--ttl") { Description = "The session lease's TTL in seconds.", DefaultValueFactory = _ => 60 };
        var command = new Command("elect", "Campaign in an election (etcd's concurrency.Election) and print the key once leader, or observe it with -l.") { name, proposal, listen, ttl };
        command.SetAction((parse, token) =>
        {
            if (!parse.GetValue(listen) && parse.GetValue(proposal) is null)
            {
                return Task.FromResult(KvCli.UsageError(parse, "give a proposal to campaign, or -l to observe", console));
            }

            return EtcdSession.RunAsync(parse, globals, options, console, async session =>
            {
                var cluster = new EtcdCoordination(session, LeaseCommands.CallTimeout(session));
                if (parse.GetValue(listen))
                {
                    return await ObserveAsync(console, cluster, parse.GetValue(name)! + "/", token).ConfigureAwait(false);
                }

                await using var keeper = await cluster.NewSessionAsync(parse.GetValue(ttl), token).ConfigureAwait(false);
                try
                {
                    var (key, _) = await cluster.CampaignAsync(parse.GetValue(name)!, parse.GetValue(proposal)!, keeper.Id, token).ConfigureAwait(false);
                    console.Out.WriteLine(key);
                    console.Out.WriteLine(parse.GetValue(proposal));
                    console.Out.Flush();
                    return await HoldAsync(console, cluster, keeper, key, token).ConfigureAwait(false);
                }
                finally
                {
                    await cluster.RevokeQuietlyAsync(keeper.Id).ConfigureAwait(false);
                }
            }, token);
        });
        return command;
    }

    /// <summary>Holds the key until interrupted (then releases it: exit 0) or the session is lost (exit 3).</summary>
    private static async Task<int> HoldAsync(KvConsole console, EtcdCoordination cluster, LeaseKeeper keeper, string key, CancellationToken token)
    {
        try
        {
            await keeper.Lost.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            await cluster.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        return CliSession.Fail(console, "unavailable", $"session expired: lease {LeaseCommands.Hex(keeper.Id)} was not kept alive", ExitCodes.Unavailable);
    }

    /// <summary>Runs <paramref name="args"/> with the lock's key and revision in its environment; returns its exit code.</summary>
    private static async Task<int> RunHoldingAsync(KvConsole console, string[] args, string key, long revision, CancellationToken token)
    {
        var info = new ProcessStartInfo(args[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["ETCD_LOCK_KEY"] = key;
        info.Environment["ETCD_LOCK_REV"] = revision.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"'{args[0]}' could not be started");
        var output = process.StandardOutput.BaseStream.CopyToAsync(new WriterStream(console.Out), token);
        var error = process.StandardError.BaseStream.CopyToAsync(new WriterStream(console.Error), token);
        try
        {
            await process.WaitForExitAsync(token).ConfigureAwait(false);
            await Task.WhenAll(output, error).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            return ExitCodes.Interrupted;
        }

        return process.ExitCode;
    }

    /// <summary>Prints the leader (key, then value) whenever it changes, until interrupted.</summary>
    private static async Task<int> ObserveAsync(KvConsole console, EtcdCoordination cluster, string prefix, CancellationToken token)
    {
        var prefixBytes = ByteString.CopyFromUtf8(prefix);
        (ByteString Key, long ModRevision)? shown = null;
        try
        {
            while (true)
            {
                var (first, header) = await cluster.FirstAsync(prefix, token).ConfigureAwait(false);
                if (first is not null && (shown is null || !shown.Value.Key.Equals(first.Key) || shown.Value.ModRevision != first.ModRevision))
                {
                    console.Out.WriteLine(first.Key.ToStringUtf8());
                    console.Out.WriteLine(first.Value.ToStringUtf8());
                    console.Out.Flush();
                    shown = (first.Key, first.ModRevision);
                }

                // Wait for any change under the prefix (a new candidate, a proclamation, a resignation), then look again.
                if (!await cluster.WatchForAsync(prefixBytes, EtcdKeys.PrefixEnd(prefixBytes), header.Revision + 1, _ => true, token).ConfigureAwait(false))
                {
                    await Task.Delay(250, token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or Grpc.Core.RpcException && token.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }
    }

    /// <summary>Writes bytes a child process printed to a <see cref="TextWriter"/> as UTF-8 text.</summary>
    private sealed class WriterStream(TextWriter writer) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => writer.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            writer.Write(System.Text.Encoding.UTF8.GetString(buffer, offset, count));
            writer.Flush();
        }
    }
}
