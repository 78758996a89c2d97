using System.Collections.Concurrent;
using KvCluster.Actors;

namespace KvCluster.Tests.Actors;

public sealed class ShutdownSpecs
{
    private sealed class Recorder : ReceiveActor
    {
        private readonly ConcurrentQueue<string> _log;
        private readonly string _name;

        public Recorder(ConcurrentQueue<string> log, string name, int depth)
        {
            _log = log;
            _name = name;
            if (depth > 0)
            {
                Context.ActorOf(Props.Create(() => new Recorder(log, name + "/child", depth - 1)), "child");
            }
        }

        protected override void PostStop() => _log.Enqueue(_name);
    }

    [Fact]
    public async Task Terminate_StopsChildrenBeforeParents_AndCompletesWhenTerminated()
    {
        var system = ActorSystem.Create("shutdown");
        var log = new ConcurrentQueue<string>();
        system.ActorOf(Props.Create(() => new Recorder(log, "a", 2)), "a");
        system.ActorOf(Props.Create(() => new Recorder(log, "b", 1)), "b");
        system.SystemActorOf(Props.Create(() => new Recorder(log, "sys", 0)), "sys");

        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10));

        var order = log.ToList();
        Assert.Equal(6, order.Count);
        Assert.True(order.IndexOf("a/child/child") < order.IndexOf("a/child"));
        Assert.True(order.IndexOf("a/child") < order.IndexOf("a"));
        Assert.True(order.IndexOf("b/child") < order.IndexOf("b"));
        // /system actors stop after every /user actor.
        Assert.Equal("sys", order[^1]);
        Assert.True(system.WhenTerminated.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Terminate_IsIdempotent_AndActorOfAfterwardsFails()
    {
        var system = ActorSystem.Create("shutdown2");

        var first = system.Terminate();
        var second = system.Terminate();
        await first.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Same(first, second);
        Assert.Throws<InvalidOperationException>(() => system.ActorOf(Props.Create<EchoActor>()));
    }

    [Fact]
    public async Task RegisterOnTermination_RunsAfterActorsStopped()
    {
        var system = ActorSystem.Create("shutdown3");
        var log = new ConcurrentQueue<string>();
        system.ActorOf(Props.Create(() => new Recorder(log, "a", 0)), "a");
        system.RegisterOnTermination(() => log.Enqueue("callback"));

        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["a", "callback"], log.ToArray());
    }

    [Fact]
    public void Create_InvalidName_ThrowsNamingTheProblem()
    {
        var error = Assert.Throws<ArgumentException>(() => ActorSystem.Create("bad name"));

        Assert.Contains("bad name", error.Message);
    }

    [Fact]
    public void Create_InvalidThroughput_ThrowsNamingTheSetting()
    {
        var error = Assert.Throws<ArgumentException>(() => ActorSystem.Create("s", new ActorSystemSetup { Throughput = 0 }));

        Assert.Contains("Throughput", error.Message);
    }
}
