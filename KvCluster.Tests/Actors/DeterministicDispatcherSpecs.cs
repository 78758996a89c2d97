using KvCluster.Actors;

namespace KvCluster.Tests.Actors;

/// <summary>The manual dispatcher: turns wait in a FIFO and run only on the test's thread, so a seeded run repeats exactly.</summary>
public sealed class DeterministicDispatcherSpecs
{
    /// <summary>Appends "name:message" to a shared log and, for a <see cref="Relay"/>, passes a message on.</summary>
    private sealed class Recorder : ReceiveActor
    {
        public Recorder(string name, List<string> log)
        {
            Receive<Relay>(r =>
            {
                log.Add($"{name}:{r.Text}");
                if (r.Hops > 0)
                {
                    r.Next[r.Hops % r.Next.Count].Tell(r with { Hops = r.Hops - 1, Text = $"{r.Text}>{name}" });
                }
            });
            Receive<string>(s => log.Add($"{name}:{s}"));
        }
    }

    private sealed record Relay(string Text, int Hops, IReadOnlyList<IActorRef> Next);

    /// <summary>Bounces a message between two actors forever.</summary>
    private sealed class PingPong : ReceiveActor
    {
        public PingPong()
        {
            Receive<IActorRef>(other => other.Tell(Self));
        }
    }

    private static (ActorSystem System, DeterministicDispatcher Dispatcher, TestScheduler Scheduler) CreateSystem(int throughput = 50)
    {
        var dispatcher = new DeterministicDispatcher();
        var scheduler = new TestScheduler();
        var system = ActorSystem.Create("det", ActorSystemSetup.Default.WithScheduler(scheduler).WithDispatcher(dispatcher) with { Throughput = throughput });
        dispatcher.RunUntilIdle();
        return (system, dispatcher, scheduler);
    }

    [Fact]
    public void Tell_WithoutRunning_ProcessesNothingUntilRunUntilIdle()
    {
        var (system, dispatcher, _) = CreateSystem();
        var log = new List<string>();
        var actor = system.ActorOf(Props.Create(() => new Recorder("a", log)));
        actor.Tell("hello");

        Assert.Empty(log);
        Assert.True(dispatcher.Pending > 0);

        dispatcher.RunUntilIdle();

        Assert.Equal(["a:hello"], log);
        Assert.Equal(0, dispatcher.Pending);
    }

    [Fact]
    public void RunOne_SeveralActorsScheduled_RunsTheirTurnsInSchedulingOrder()
    {
        var (system, dispatcher, _) = CreateSystem();
        var log = new List<string>();
        var actors = new[] { "a", "b", "c" }.Select(n => system.ActorOf(Props.Create(() => new Recorder(n, log)), n)).ToArray();
        dispatcher.RunUntilIdle(); // creation turns

        actors[2].Tell("1");
        actors[0].Tell("2");
        actors[1].Tell("3");
        var ran = 0;
        while (dispatcher.RunOne())
        {
            ran++;
        }

        Assert.Equal(3, ran);
        Assert.Equal(["c:1", "a:2", "b:3"], log);
    }

    [Fact]
    public void RunUntilIdle_MailboxWithMoreThanThroughput_RequeuesItBehindOthers()
    {
        var (system, dispatcher, _) = CreateSystem(throughput: 1);
        var log = new List<string>();
        var a = system.ActorOf(Props.Create(() => new Recorder("a", log)), "a");
        var b = system.ActorOf(Props.Create(() => new Recorder("b", log)), "b");
        dispatcher.RunUntilIdle();

        a.Tell("1");
        a.Tell("2");
        b.Tell("3");
        dispatcher.RunUntilIdle();

        Assert.Equal(["a:1", "b:3", "a:2"], log);
    }

    [Fact]
    public void RunUntilIdle_ActorsMessagingForever_ThrowsAfterMaxTurns()
    {
        var (system, dispatcher, _) = CreateSystem();
        var ping = system.ActorOf(Props.Create(() => new PingPong()), "ping");
        var pong = system.ActorOf(Props.Create(() => new PingPong()), "pong");
        ping.Tell(pong);

        var error = Assert.Throws<InvalidOperationException>(() => dispatcher.RunUntilIdle(maxTurns: 100));

        Assert.Contains("100 turns", error.Message);
    }

    [Fact]
    public void SeededScenario_RunTwice_ProducesIdenticalTraces()
    {
        var first = RunScenario(seed: 42);
        var second = RunScenario(seed: 42);
        var other = RunScenario(seed: 43);

        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
    }

    /// <summary>Five actors relay seeded messages to each other, some after virtual-time delays; returns the processing log.</summary>
    private static List<string> RunScenario(int seed)
    {
        var (system, dispatcher, scheduler) = CreateSystem(throughput: 3);
        var random = new Random(seed);
        var log = new List<string>();
        var actors = Enumerable.Range(0, 5).Select(i => system.ActorOf(Props.Create(() => new Recorder($"n{i}", log)), $"n{i}")).ToArray();
        dispatcher.RunUntilIdle();
        for (var round = 0; round < 20; round++)
        {
            var target = actors[random.Next(actors.Length)];
            var relay = new Relay($"r{round}", random.Next(0, 6), actors);
            if (random.NextDouble() < 0.5)
            {
                target.Tell(relay);
            }
            else
            {
                system.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(random.Next(1, 50)), target, relay, null);
            }

            if (random.NextDouble() < 0.3)
            {
                scheduler.Advance(TimeSpan.FromMilliseconds(20));
                dispatcher.RunUntilIdle();
            }
        }

        scheduler.Advance(TimeSpan.FromSeconds(1));
        dispatcher.RunUntilIdle();
        Assert.Equal(20, log.Count(l => !l.Contains('>')));
        return log;
    }
}
