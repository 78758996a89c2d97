using System.Diagnostics;
using KvCluster.Testing.MultiNode;
using ThrottleDirection = Akka.Remote.Transport.ThrottleTransportAdapter.Direction;

namespace KvCluster.Tests.MultiNode.Harness;

/// <summary>
/// The conductor's faults, crashes and restarts on three inbox nodes: Akka actor systems talking over Akka.Remote TCP
/// on 127.0.0.1, faults set through Akka.Remote's throttler (real time).
/// </summary>
[Trait("Category", "Integration")]
public sealed class MultiNodeConductorSpecs
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private readonly MultiNodeConfig _config = new();
    private readonly RoleName _a;
    private readonly RoleName _b;
    private readonly RoleName _c;

    public MultiNodeConductorSpecs()
    {
        _a = _config.Role("node1");
        _b = _config.Role("node2");
        _c = _config.Role("node3");
    }

    [Fact]
    public async Task Blackhole_OneWay_StopsOnlyThatDirectionAndHealRestoresIt()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var b = spec.Node(_b);
        await DeliverAsync(a, b, "warm-ab");
        await DeliverAsync(b, a, "warm-ba");

        await spec.Conductor.BlackholeAsync(_a, _b, ThrottleDirection.Send);
        a.Send(b.Address, "lost");

        // The other direction keeps working while a -> b is cut: five round trips' worth of b -> a traffic.
        for (var i = 0; i < 5; i++)
        {
            b.Send(a.Address, $"ping-{i}");
            Assert.Equal($"ping-{i}", await a.ReceiveAsync(Wait));
        }

        Assert.DoesNotContain("lost", b.Drain());
        Assert.True(spec.Conductor.IsFaulty(_a, _b));
        Assert.False(spec.Conductor.IsFaulty(_b, _a));

        await spec.Conductor.PassThroughAsync(_a, _b, ThrottleDirection.Send);
        a.Send(b.Address, "after");

        // Messages between two systems keep their order: a "lost" held back would arrive before "after".
        var seen = await ReceiveUntilAsync(b, "after");
        Assert.DoesNotContain("lost", seen);
    }

    [Fact]
    public async Task Blackhole_BothWays_StopsBothDirectionsUntilHealAll()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var b = spec.Node(_b);
        var c = spec.Node(_c);
        await DeliverAsync(a, b, "warm-ab");
        await DeliverAsync(b, a, "warm-ba");

        spec.Conductor.Partition([_a]);
        a.Send(b.Address, "lost-ab");
        b.Send(a.Address, "lost-ba");

        // c is on b's side: its traffic to b still flows, and marks a point after both sends.
        await DeliverAsync(c, b, "from-c");
        await DeliverAsync(b, c, "to-c");
        Assert.DoesNotContain("lost-ba", a.Drain());
        Assert.DoesNotContain("lost-ab", b.Drain());

        spec.Conductor.HealAll();
        Assert.False(spec.Conductor.IsFaulty(_a, _b));
        await DeliverAsync(a, b, "healed-ab");
        await DeliverAsync(b, a, "healed-ba");
    }

    [Fact]
    public async Task Drop_AllFramesOneWay_LosesThemUntilPassThrough()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var b = spec.Node(_b);
        await DeliverAsync(a, b, "warm-ab");
        await DeliverAsync(b, a, "warm-ba");

        spec.Conductor.Drop(_b, _a, ThrottleDirection.Receive, fraction: 1.0, seed: 7); // node1 -> node2, seen from node2
        a.Send(b.Address, "dropped");
        await DeliverAsync(b, a, "reverse-still-flows");
        Assert.True(spec.Conductor.IsFaulty(_a, _b));
        Assert.DoesNotContain("dropped", b.Drain());

        spec.Conductor.PassThrough(_b, _a, ThrottleDirection.Both);
        a.Send(b.Address, "after");

        Assert.DoesNotContain("dropped", await ReceiveUntilAsync(b, "after"));
    }

    [Fact]
    public async Task Drop_HalfOfTheTime_LosesSomeMessagesAndDeliversTheRestInOrder()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var b = spec.Node(_b);
        await DeliverAsync(a, b, "warm");

        await spec.Conductor.DropAsync(_a, _b, ThrottleDirection.Send, fraction: 0.5, seed: 42);
        using (var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(10)))
        {
            for (var i = 0; i < 150; i++) // 1.5 s: about 30 slices of 50 ms
            {
                a.Send(b.Address, $"m{i}");
                await pace.WaitForNextTickAsync();
            }
        }

        await spec.Conductor.PassThroughAsync(_a, _b, ThrottleDirection.Both);
        a.Send(b.Address, "end");
        var received = (await ReceiveUntilAsync(b, "end")).Where(m => m.StartsWith('m')).Select(m => int.Parse(m[1..], System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        Assert.InRange(received.Length, 15, 135);
        Assert.Equal(received.Order(), received);
    }

    [Fact]
    public async Task Delay_IdleLink_HoldsAMessageAboutTheDelay()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var b = spec.Node(_b);
        await DeliverAsync(a, b, "warm");
        var delay = TimeSpan.FromMilliseconds(300);

        await spec.Conductor.DelayAsync(_a, _b, ThrottleDirection.Send, delay);
        var clock = Stopwatch.StartNew();
        a.Send(b.Address, "slow");
        Assert.Equal("slow", await b.ReceiveAsync(Wait));
        var slow = clock.Elapsed;

        await spec.Conductor.PassThroughAsync(_a, _b, ThrottleDirection.Send);
        clock.Restart();
        a.Send(b.Address, "fast");
        Assert.Equal("fast", await b.ReceiveAsync(Wait));

        Assert.True(slow >= delay * 0.9, $"held {slow.TotalMilliseconds:0} ms, expected about {delay.TotalMilliseconds:0} ms");
        Assert.True(clock.Elapsed < slow, $"after healing: {clock.Elapsed.TotalMilliseconds:0} ms, delayed: {slow.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task Throttle_Link_StillDeliversEveryMessageInOrder()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var b = spec.Node(_b);
        await DeliverAsync(a, b, "warm");

        await spec.Conductor.ThrottleAsync(_a, _b, ThrottleDirection.Send, rateMBit: 0.05); // ~6 KB/s
        var payload = new string('x', 2000);
        for (var i = 0; i < 5; i++)
        {
            a.Send(b.Address, $"m{i}{payload}");
        }

        a.Send(b.Address, "end");
        var received = (await ReceiveUntilAsync(b, "end")).Where(m => m.StartsWith('m')).Select(m => m[..2]).ToArray();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"m{i}"), received);
    }

    [Fact]
    public async Task NodeConfig_Override_ReachesOnlyThatNodesFactoryCall()
    {
        _config.CommonConfig("greeting", "hello").NodeConfig(_c, "greeting", "hi");
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());

        Assert.Equal("hello", spec.Node(_a).Config["greeting"]);
        Assert.Equal("hi", spec.Node(_c).Config["greeting"]);
        Assert.Equal("hi", (await spec.Conductor.CrashAndRestartAsync(_c)).Config["greeting"]);
    }

    [Fact]
    public async Task Delay_Link_StillDeliversEveryMessageInOrder()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var b = spec.Node(_b);
        await DeliverAsync(a, b, "warm");

        spec.Conductor.Delay(_a, _b, ThrottleDirection.Both, TimeSpan.FromMilliseconds(50));
        for (var i = 0; i < 10; i++)
        {
            a.Send(b.Address, $"m{i}");
        }

        var received = (await ReceiveUntilAsync(b, "m9")).Where(m => m.StartsWith('m')).ToArray();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}"), received);
    }

    [Fact]
    public async Task CrashAndRestart_Node_KeepsItsAddressAndDataDirectoryAndReceivesAgain()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var before = spec.Node(_b);
        await DeliverAsync(a, before, "before-crash");

        await spec.Conductor.CrashAsync(_b);

        Assert.False(spec.IsRunning(_b));
        Assert.Throws<InvalidOperationException>(() => spec.Node(_b));
        Assert.True(before.System.WhenTerminated.IsCompleted);
        await Assert.ThrowsAsync<InvalidOperationException>(() => spec.Conductor.CrashAsync(_b));

        var after = await spec.Conductor.RestartAsync(_b);

        Assert.Equal(before.Address, after.Address);
        Assert.Equal(spec.AddressOf(_b), after.Address);
        Assert.Equal("akka.trttl.tcp", after.Address.Protocol);
        Assert.NotEqual(before.Uid, after.Uid);
        Assert.Equal(2, spec.IncarnationOf(_b));
        Assert.Equal(["1", "2"], File.ReadAllLines(Path.Combine(spec.DataDirectoryOf(_b), "starts.txt")));
        await DeliverAsync(a, after, "after-restart");
        await DeliverAsync(after, a, "back");
    }

    [Fact]
    public async Task StopAndRestart_Node_RestartsGracefullyStoppedNodeOnSameAddress()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var address = spec.AddressOf(_c);

        await spec.Conductor.StopAsync(_c);
        var restarted = await spec.Conductor.RestartAsync(_c);

        Assert.Equal(address, restarted.Address);
        await DeliverAsync(spec.Node(_a), restarted, "hello");
    }

    [Fact]
    public async Task Restart_BehindBlackhole_ComesBackStillCutOff()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), MultiNodeBarrierSpecs.Options());
        var a = spec.Node(_a);
        var c = spec.Node(_c);
        spec.Conductor.Blackhole(_a, _b, ThrottleDirection.Both);

        var b = await spec.Conductor.CrashAndRestartAsync(_b);
        a.Send(b.Address, "lost-ab");
        b.Send(a.Address, "lost-ba");
        await DeliverAsync(c, b, "from-c");
        await DeliverAsync(b, c, "to-c");
        await DeliverAsync(c, a, "c-to-a");

        Assert.DoesNotContain("lost-ab", b.Drain());
        Assert.DoesNotContain("lost-ba", a.Drain());

        spec.Conductor.PassThrough(_a, _b, ThrottleDirection.Both);
        await DeliverAsync(a, b, "healed-ab");
        await DeliverAsync(b, a, "healed-ba");
    }

    /// <summary>
    /// Sends <paramref name="text"/> from <paramref name="from"/> to <paramref name="to"/> until it arrives (a fresh
    /// connection may lose the first message to a restarted node); fails when it never does within the wait. Other
    /// messages read meanwhile (late copies of earlier sends) are discarded.
    /// </summary>
    private static async Task DeliverAsync(InboxNode from, InboxNode to, string text)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            from.Send(to.Address, text);
            var got = await to.ReceiveAsync(TimeSpan.FromMilliseconds(500));
            if (got == text)
            {
                return;
            }
        }

        Assert.Fail($"{text}: {from.Role} -> {to.Role} was never delivered within {Wait.TotalSeconds} s.");
    }

    /// <summary>Reads <paramref name="node"/>'s inbox until <paramref name="last"/> arrives; returns everything read, it included.</summary>
    private static async Task<List<string>> ReceiveUntilAsync(InboxNode node, string last)
    {
        var seen = new List<string>();
        while (true)
        {
            var got = await node.ReceiveAsync(Wait) ?? throw new Xunit.Sdk.XunitException($"{last} never reached {node.Role}; it received: {string.Join(", ", seen)}");
            seen.Add(got);
            if (got == last)
            {
                return seen;
            }
        }
    }
}
