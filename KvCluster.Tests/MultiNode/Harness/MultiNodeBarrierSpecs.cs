using System.Collections.Concurrent;
using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Harness;

/// <summary>The harness's RunOn and EnterBarrier, on three inbox nodes over TCP (real time).</summary>
[Trait("Category", "Integration")]
public sealed class MultiNodeBarrierSpecs
{
    private readonly MultiNodeConfig _config = new();
    private readonly RoleName _first;
    private readonly RoleName _second;
    private readonly RoleName _third;

    public MultiNodeBarrierSpecs()
    {
        _first = _config.Role("node1");
        _second = _config.Role("node2");
        _third = _config.Role("node3");
    }

    [Fact]
    public async Task RunOn_TwoOfThreeRoles_RunsExactlyOnThoseRoles()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), Options());
        var ran = new ConcurrentBag<RoleName>();
        var ranAsync = new ConcurrentBag<RoleName>();

        await spec.RunAsync(async node =>
        {
            node.RunOn(() => ran.Add(node.Myself), _first, _third);
            await node.RunOnAsync(async () =>
            {
                await Task.Yield();
                ranAsync.Add(node.Node.Role);
            }, _second);
            await node.EnterBarrierAsync("done");
        });

        Assert.Equal([_first, _third], ran.OrderBy(r => r.Name));
        Assert.Equal([_second], ranAsync);
    }

    [Fact]
    public async Task EnterBarrier_OneRoleLate_NoRolePassesBeforeEveryRoleArrived()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), Options());
        var events = new ConcurrentQueue<string>();
        var othersBefore = Enumerable.Range(0, 3).Select(_ => new SemaphoreSlim(0)).ToArray();

        await spec.RunAsync(async node =>
        {
            for (var round = 0; round < 3; round++)
            {
                if (node.IsNode(_third))
                {
                    // The last to arrive, every round: it waits until both others are on their way into the barrier.
                    await othersBefore[round].WaitAsync();
                    await othersBefore[round].WaitAsync();
                }

                events.Enqueue($"before{round}");
                if (!node.IsNode(_third))
                {
                    othersBefore[round].Release();
                }

                await node.EnterBarrierAsync($"round-{round}");
                events.Enqueue($"after{round}");
            }
        });

        // Every "before" of a round precedes every "after" of that round.
        var order = events.ToArray();
        for (var round = 0; round < 3; round++)
        {
            var lastBefore = Array.LastIndexOf(order, $"before{round}");
            var firstAfter = Array.IndexOf(order, $"after{round}");
            Assert.True(lastBefore < firstAfter, $"round {round}: a role passed the barrier before all arrived: {string.Join(" ", order)}");
            Assert.Equal(3, order.Count(e => e == $"before{round}"));
            Assert.Equal(3, order.Count(e => e == $"after{round}"));
        }
    }

    [Fact]
    public async Task EnterBarrier_RoleNeverArrives_FailsNamingTheMissingRole()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), Options() with { BarrierTimeout = TimeSpan.FromSeconds(3) });

        var failure = await Assert.ThrowsAsync<MultiNodeSpecException>(() => spec.RunAsync(async node =>
        {
            if (!node.IsNode(_third))
            {
                await node.EnterBarrierAsync("everyone");
            }
        }));

        var barrier = Assert.IsType<MultiNodeBarrierException>(failure.InnerException);
        Assert.Equal("everyone", barrier.Barrier);
        Assert.Equal([_third], barrier.Missing);
        Assert.Contains("node3 did not arrive", barrier.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnterBarrier_RolesEnterDifferentBarriers_FailsNamingBoth()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), Options());
        var othersBefore = new SemaphoreSlim(0);

        var failure = await Assert.ThrowsAsync<MultiNodeSpecException>(() => spec.RunAsync(async node =>
        {
            if (node.IsNode(_second))
            {
                // The last to arrive: it waits until both others are on their way into their barrier.
                await othersBefore.WaitAsync();
                await othersBefore.WaitAsync();
                await node.EnterBarrierAsync("other");
            }
            else
            {
                othersBefore.Release();
                await node.EnterBarrierAsync("expected");
            }
        }));

        var text = failure.ToString();
        Assert.Contains("'other'", text, StringComparison.Ordinal);
        Assert.Contains("'expected'", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_RoleThrows_WaitingRolesAreAbortedAndTheFailureNamesTheRole()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), Options() with { BarrierTimeout = TimeSpan.FromMinutes(2) });
        var aborted = new ConcurrentBag<RoleName>();
        var othersBefore = new SemaphoreSlim(0);

        var failure = await Assert.ThrowsAsync<MultiNodeSpecException>(() => spec.RunAsync(async node =>
        {
            if (node.IsNode(_second))
            {
                // Throw once both others are on their way into the barrier.
                await othersBefore.WaitAsync();
                await othersBefore.WaitAsync();
                throw new InvalidOperationException("boom on node2");
            }

            othersBefore.Release();
            try
            {
                await node.EnterBarrierAsync("never-complete");
            }
            catch (MultiNodeBarrierException e) when (e.Message.Contains("boom on node2", StringComparison.Ordinal))
            {
                // Either aborted while waiting, or (when node2 failed before this role got there) failed at once on
                // entering: both name the cause, and neither waits for the barrier timeout.
                aborted.Add(node.Myself);
                throw;
            }
        }));

        Assert.Equal(_second, failure.Role);
        Assert.Contains("boom on node2", failure.Message, StringComparison.Ordinal);
        Assert.Equal([_first, _third], aborted.OrderBy(r => r.Name));
    }

    [Fact]
    public async Task RunAsync_RoleExceedsDeadline_FailsNamingTheUnfinishedRole()
    {
        await using var spec = await MultiNodeSpec<InboxNode>.StartAsync(_config, new InboxNodeFactory(), Options() with { RunTimeout = TimeSpan.FromSeconds(2) });

        var failure = await Assert.ThrowsAsync<MultiNodeSpecException>(() => spec.RunAsync(async node =>
        {
            await node.EnterBarrierAsync("started");
            if (node.IsNode(_first))
            {
                await Task.Delay(Timeout.Infinite, node.CancellationToken);
            }
        }));

        Assert.Null(failure.Role);
        Assert.Contains("node1 (last barrier: started)", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("node2 (", failure.Message, StringComparison.Ordinal);
    }

    internal static MultiNodeSpecOptions Options() => new() { BarrierTimeout = TimeSpan.FromSeconds(20), RunTimeout = TimeSpan.FromSeconds(60) };
}
