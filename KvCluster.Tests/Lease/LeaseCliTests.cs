using System.Text.Json;
using KvCluster.Client.Cli;
using KvCluster.Tests.Client;
using static KvCluster.Tests.Client.EtcdCliIntegrationTests;

namespace KvCluster.Tests.Lease;

/// <summary>
/// <c>kv lease</c>, <c>kv lock</c> and <c>kv elect</c> against a real etcd 3.4 started by the test: the output is
/// etcdctl's, and the recipes (lowest create revision wins, waiters watch their predecessor) hold against the
/// reference server. The same commands against AkkaKv: <see cref="LeaseEtcdctlTests"/>.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LeaseCliTests : IClassFixture<EtcdProcess>
{
    private readonly EtcdProcess _etcd;

    public LeaseCliTests(EtcdProcess etcd)
    {
        _etcd = etcd;
        _etcd.Require();
    }

    [Fact]
    public async Task LeaseGrantPutTimeToLiveListRevoke_PrintAsEtcdctl()
    {
        var grant = await Ok("lease", "grant", "100");
        var id = EtcdctlRunner.LeaseIdOf(grant);
        await Ok("put", "--lease", id, "cli/a", "1");

        Assert.Matches($"^lease {id} granted with TTL\\(100s\\), remaining\\(\\d+s\\), attached keys\\(\\[cli/a\\]\\)\n$", await Ok("lease", "timetolive", id, "--keys"));
        Assert.Contains(id, Lines(await Ok("lease", "list")));
        Assert.StartsWith("found ", await Ok("lease", "list"));
        Assert.Equal($"lease {id} keepalived with TTL(100)\n", await Ok("lease", "keep-alive", "--once", id));
        Assert.Equal($"lease {id} revoked\n", await Ok("lease", "revoke", id));
        Assert.Equal($"lease {id} already expired\n", await Ok("lease", "timetolive", id));
        Assert.Equal(ExitCodes.NotFound, (await Run("get", "cli/a")).Code);
        Assert.Equal(ExitCodes.Rejected, (await Run("lease", "revoke", id)).Code);
    }

    [Fact]
    public async Task LeaseGrantJson_CarriesIdAndTtl()
    {
        using var json = JsonDocument.Parse(await Ok("lease", "grant", "30", "-w", "json"));

        Assert.NotEqual(0, json.RootElement.GetProperty("ID").GetInt64());
        Assert.Equal(30, json.RootElement.GetProperty("TTL").GetInt64());
        Assert.True(json.RootElement.GetProperty("header").GetProperty("revision").GetInt64() > 0);
    }

    [Fact]
    public async Task Lock_TwoContenders_TheSecondRunsOnlyAfterTheFirstReleases()
    {
        using var holding = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var first = RunLong(holding.Token, "lock", "cli-mutex");
        var firstKey = await first.WaitForLineAsync(l => l.StartsWith("cli-mutex/", StringComparison.Ordinal));

        using var second = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var waiter = RunLong(second.Token, "lock", "cli-mutex", "--", "sh", "-c", "echo \"held $ETCD_LOCK_KEY $ETCD_LOCK_REV\"");
        // The second contender has put its key and waits on the first's: it holds a key with a higher create revision.
        await WaitUntilAsync(async () => Keys(await Ok("get", "cli-mutex/", "--prefix", "--keys-only")).Length == 2, () => waiter.Output.ToString());
        Assert.False(waiter.Completion.IsCompleted, "the second contender ran its command while the first held the lock");

        await holding.CancelAsync();
        Assert.Equal(ExitCodes.Success, await first.Completion);
        Assert.Equal(ExitCodes.Success, await waiter.Completion);
        var line = Assert.Single(Lines(waiter.Output.ToString()), l => l.StartsWith("held ", StringComparison.Ordinal));
        Assert.NotEqual(firstKey, line.Split(' ')[1]);
        Assert.Empty(Keys(await Ok("get", "cli-mutex/", "--prefix", "--keys-only")));
    }

    [Fact]
    public async Task Elect_TheFirstCandidateLeads_AndAnObserverSeesTheNextAfterItResigns()
    {
        using var firstStop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var first = RunLong(firstStop.Token, "elect", "cli-election", "alpha");
        await first.WaitForLineAsync(l => l == "alpha");
        using var observerStop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var observer = RunLong(observerStop.Token, "elect", "cli-election", "-l");
        await observer.WaitForLineAsync(l => l == "alpha");
        using var secondStop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var second = RunLong(secondStop.Token, "elect", "cli-election", "beta");
        await WaitUntilAsync(async () => Keys(await Ok("get", "cli-election/", "--prefix", "--keys-only")).Length == 2, () => second.Output.ToString());
        Assert.DoesNotContain("beta", second.Output.ToString());

        await firstStop.CancelAsync();
        await second.WaitForLineAsync(l => l == "beta");
        await observer.WaitForLineAsync(l => l == "beta");

        await secondStop.CancelAsync();
        await observerStop.CancelAsync();
        Assert.True(await first.Completion == ExitCodes.Success, first.Output.ToString());
        Assert.True(await second.Completion == ExitCodes.Success, second.Output.ToString());
        Assert.True(await observer.Completion == ExitCodes.Success, observer.Output.ToString());
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, Func<string> context)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"the condition did not hold within 30 s: {context()}");
            await Task.Delay(50);
        }
    }

    private async Task<string> Ok(params string[] args)
    {
        var result = await Run(args);
        Assert.True(result.Code == ExitCodes.Success, $"kv {string.Join(' ', args)} exited {result.Code}: {result.Error}");
        return result.Out;
    }

    private Task<CliResult> Run(params string[] args) => RunAt(_etcd.Endpoint, null, args);

    private LongRun RunLong(CancellationToken token, params string[] args) => LongRun.Start(_etcd.Endpoint, token, args);
}

/// <summary>A long-running <c>kv</c> command in this process (lock, elect, keep-alive), stopped by its token.</summary>
internal sealed class LongRun
{
    private LongRun(SyncWriter output, Task<int> completion)
    {
        Output = output;
        Completion = completion;
    }

    /// <summary>What it printed so far.</summary>
    public SyncWriter Output { get; }

    /// <summary>Its exit code.</summary>
    public Task<int> Completion { get; }

    public static LongRun Start(string endpoints, CancellationToken token, params string[] args)
    {
        var output = new SyncWriter();
        var console = new KvConsole { Out = output, Error = output, GetEnvironmentVariable = _ => null };
        var completion = Task.Run(() => KvCli.RunAsync(["--endpoints", endpoints, .. args], console, token));
        return new LongRun(output, completion);
    }

    /// <summary>Waits (up to 30 s) until a printed line matches; returns it.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var line = Lines(Output.ToString()).FirstOrDefault(match);
            if (line is not null)
            {
                return line;
            }

            Assert.False(Completion.IsCompleted, $"the command ended ({(Completion.IsCompletedSuccessfully ? Completion.Result : -1)}) without the line: {Output}");
            Assert.True(DateTime.UtcNow < deadline, $"no matching line within 30 s: {Output}");
            await Task.Delay(50);
        }
    }
}

/// <summary>A thread-safe string writer (the command prints from its own tasks while the test reads).</summary>
internal sealed class SyncWriter : StringWriter
{
    private readonly object _gate = new();

    public override void Write(char value)
    {
        lock (_gate)
        {
            base.Write(value);
        }
    }

    public override void Write(string? value)
    {
        lock (_gate)
        {
            base.Write(value);
        }
    }

    public override void WriteLine(string? value)
    {
        lock (_gate)
        {
            base.WriteLine(value);
        }
    }

    public override string ToString()
    {
        lock (_gate)
        {
            return base.ToString();
        }
    }
}
