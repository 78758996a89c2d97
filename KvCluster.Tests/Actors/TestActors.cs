using KvCluster.Actors;

namespace KvCluster.Tests.Actors;

/// <summary>Replies to every message with the same message.</summary>
internal sealed class EchoActor : ReceiveActor
{
    public EchoActor()
    {
        ReceiveAny(m => Sender.Tell(m, Self));
    }
}

/// <summary>Forwards every message to a target, keeping the sender.</summary>
internal sealed class ForwardingActor : ReceiveActor
{
    public ForwardingActor(IActorRef target)
    {
        ReceiveAny(m => target.Forward(m));
    }
}

/// <summary>Reports lifecycle hooks to a probe as strings "name:hook".</summary>
internal sealed class LifecycleActor : ReceiveActor
{
    private readonly IActorRef _probe;
    private readonly string _name;
    private int _count;

    public LifecycleActor(IActorRef probe, string name)
    {
        _probe = probe;
        _name = name;
        Receive<string>(s => s == "count", _ => Sender.Tell(++_count, Self));
        Receive<string>(s => s == "state", _ => Sender.Tell(_count, Self));
        Receive<string>(s => s == "throw", _ => throw new InvalidOperationException("boom"));
        Receive<string>(s => s == "fail-arg", _ => throw new ArgumentException("bad"));
        Receive<string>(s => s.StartsWith("child:", StringComparison.Ordinal), s =>
            Sender.Tell(Context.ActorOf(Props.Create(() => new LifecycleActor(_probe, s[6..])), s[6..]), Self));
    }

    protected override void PreStart() => _probe.Tell($"{_name}:PreStart", Self);

    protected override void PostStop() => _probe.Tell($"{_name}:PostStop", Self);

    protected override void PreRestart(Exception reason, object? message)
    {
        _probe.Tell($"{_name}:PreRestart:{message}", Self);
        base.PreRestart(reason, message);
    }

    protected override void PostRestart(Exception reason)
    {
        _probe.Tell($"{_name}:PostRestart", Self);
        base.PostRestart(reason);
    }
}

/// <summary>A parent with a given strategy that creates children on request ("make:name") and relays their refs.</summary>
internal sealed class SupervisorActor : ReceiveActor
{
    private readonly SupervisorStrategy _strategy;

    public SupervisorActor(SupervisorStrategy strategy, IActorRef probe)
    {
        _strategy = strategy;
        Receive<string>(s => s.StartsWith("make:", StringComparison.Ordinal), s =>
            Sender.Tell(Context.ActorOf(Props.Create(() => new LifecycleActor(probe, s[5..])), s[5..]), Self));
    }

    protected override SupervisorStrategy SupervisorStrategy() => _strategy;
}

/// <summary>Creates children on request (a <see cref="SpawnChild"/>) and supervises them with the given strategy.</summary>
internal sealed class Spawner : ReceiveActor
{
    private readonly SupervisorStrategy _strategy;

    public Spawner(SupervisorStrategy strategy)
    {
        _strategy = strategy;
        Receive<SpawnChild>(s => Sender.Tell(Context.ActorOf(s.Props, s.Name)));
    }

    protected override SupervisorStrategy SupervisorStrategy() => _strategy;
}

/// <summary>Asks a <see cref="Spawner"/> to create a child and reply with its ref.</summary>
internal sealed record SpawnChild(Props Props, string Name);
