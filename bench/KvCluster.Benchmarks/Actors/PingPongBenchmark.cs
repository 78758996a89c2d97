using BenchmarkDotNet.Attributes;
using Akka.Actor;
using Akka.Configuration;

namespace KvCluster.Benchmarks.Actors;

/// <summary>
/// Ping-pong between pairs of Akka.NET actors (<see cref="ReceiveActor"/>, <see cref="ICanTell.Tell"/>) on
/// the default dispatcher (the thread pool). Each invocation exchanges
/// <see cref="TotalMessages"/> messages in total (pings + pongs, split evenly over the pairs), so
/// BenchmarkDotNet's time per operation is the time per message and "Allocated" is bytes per
/// message. The ping/pong message objects are pre-allocated and reused: any allocation reported is
/// the runtime's own. <see cref="InFlight"/> is how many pings each pair keeps outstanding
/// (1 = strict request/response; more lets a mailbox turn process several messages).
/// <see cref="ChannelBaseline"/> runs the same exchange over channels, measured in the same run.
/// </summary>
[MemoryDiagnoser]
public class PingPongBenchmark
{
    public const int TotalMessages = 2_000_000;

    private static readonly object s_ping = new Ping();
    private static readonly object s_pong = new Pong();

    private ActorSystem _system = null!;
    private IActorRef[] _pingers = [];
    private CountdownEvent _done = null!;

    [Params(1, 2, 8)]
    public int Pairs { get; set; }

    [Params(1, 16)]
    public int InFlight { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Stock settings apart from the log level: the default dispatcher, its throughput (messages per mailbox turn)
        // and the unbounded mailbox are what AkkaKv's actors run on.
        _system = ActorSystem.Create("bench", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        _done = new CountdownEvent(Pairs);
        _pingers = new IActorRef[Pairs];
        for (var i = 0; i < Pairs; i++)
        {
            var ponger = _system.ActorOf(Props.Create<Ponger>(), "ponger" + i);
            _pingers[i] = _system.ActorOf(Props.Create(() => new Pinger(ponger, _done)), "pinger" + i);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _system.Terminate().Wait(TimeSpan.FromSeconds(30));
        _done.Dispose();
    }

    /// <summary>The same exchange with async loops over channels (no actor runtime).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = TotalMessages)]
    public void ChannelBaseline() => ChannelPingPongBaseline.Run(Pairs, InFlight, TotalMessages);

    [Benchmark(OperationsPerInvoke = TotalMessages)]
    public void PingPong()
    {
        _done.Reset(Pairs);
        var roundTrips = TotalMessages / 2 / Pairs;
        var run = new Run(roundTrips, InFlight);
        foreach (var pinger in _pingers)
        {
            pinger.Tell(run, ActorRefs.NoSender);
        }
        if (!_done.Wait(TimeSpan.FromMinutes(2)))
        {
            throw new TimeoutException("Ping-pong did not finish within 2 minutes.");
        }
    }

    private sealed class Ping;

    private sealed class Pong;

    private sealed record Run(int RoundTrips, int InFlight);

    private sealed class Ponger : ReceiveActor
    {
        public Ponger()
        {
            ReceiveAny(_ => Sender.Tell(s_pong, Self));
        }
    }

    private sealed class Pinger : ReceiveActor
    {
        private readonly IActorRef _ponger;
        private int _toSend;
        private int _toReceive;

        public Pinger(IActorRef ponger, CountdownEvent done)
        {
            _ponger = ponger;
            Receive<Pong>(_ =>
            {
                if (_toSend > 0)
                {
                    _toSend--;
                    _ponger.Tell(s_ping, Self);
                }
                if (--_toReceive == 0)
                {
                    done.Signal();
                }
            });
            Receive<Run>(run =>
            {
                _toReceive = run.RoundTrips;
                var first = Math.Min(run.InFlight, run.RoundTrips);
                _toSend = run.RoundTrips - first;
                for (var i = 0; i < first; i++)
                {
                    _ponger.Tell(s_ping, Self);
                }
            });
        }
    }
}
