using KvCluster.Actors;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Demo;

/// <summary>A ping carrying its sequence number.</summary>
internal sealed record Ping(long Sequence);

/// <summary>The reply to <see cref="Ping"/>.</summary>
internal sealed record Pong(long Sequence);

/// <summary>Answers every <see cref="Ping"/> with a <see cref="Pong"/>.</summary>
internal sealed class Ponger : ReceiveActor
{
    public Ponger()
    {
        Receive<Ping>(ping => Sender.Tell(new Pong(ping.Sequence)));
    }
}

/// <summary>Pings the ponger on a periodic timer and logs each round trip.</summary>
internal sealed class Pinger : ReceiveActor
{
    private sealed record Tick;

    private readonly ILogger _log;
    private long _sequence;

    public Pinger(IActorRef ponger, TimeSpan interval)
    {
        _log = Context.GetLogger();
        Receive<Tick>(_ => ponger.Tell(new Ping(++_sequence)));
        Receive<Pong>(pong => _log.LogInformation("pong {Sequence} from {Ponger}", pong.Sequence, Sender.Path));
        Timers.StartPeriodicTimer("tick", new Tick(), interval);
    }

    protected override void PostStop() => _log.LogInformation("pinger stopped after {Count} pings", _sequence);
}
