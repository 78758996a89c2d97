using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.Transport;
using Microsoft.Extensions.Logging;

namespace KvCluster.Tests.Remote;

/// <summary>Records every message (and its sender) it receives; watches refs on request.</summary>
internal sealed class CollectorActor : ReceiveActor
{
    /// <summary>Watch <paramref name="Target"/>, then (optionally) tell it <paramref name="Then"/>:
    /// both leave over the same association, so the watch is in place before the message arrives.</summary>
    public sealed record WatchIt(IActorRef Target, object? Then = null);

    public CollectorActor(ChannelWriter<(object Message, IActorRef? Sender)> output)
    {
        Receive<WatchIt>(w =>
        {
            Context.Watch(w.Target);
            if (w.Then is { } then)
            {
                w.Target.Tell(then, Self);
            }
        });
        ReceiveAny(m => output.TryWrite((m, Sender)));
    }
}

/// <summary>Replies to every message with the same message.</summary>
internal sealed class RemoteEchoActor : ReceiveActor
{
    public RemoteEchoActor()
    {
        Receive<StringValue>(s => s.Value == "fail", _ => Sender.Tell(new Status.Failure(new InvalidOperationException("asked to fail")), Self));
        ReceiveAny(m => Sender.Tell(m, Self));
    }
}

/// <summary>Forwards every message to a target, keeping the original sender.</summary>
internal sealed class RemoteForwarderActor : ReceiveActor
{
    public RemoteForwarderActor(IActorRef target)
    {
        ReceiveAny(m => target.Forward(m));
    }
}

/// <summary>A collector actor plus the channel it writes to.</summary>
internal sealed class Collector
{
    private readonly Channel<(object Message, IActorRef? Sender)> _channel = Channel.CreateUnbounded<(object, IActorRef?)>();

    public Collector(ActorSystem system, string name)
    {
        Ref = system.ActorOf(Props.Create(() => new CollectorActor(_channel.Writer)), name);
    }

    public IActorRef Ref { get; }

    public async Task<(object Message, IActorRef? Sender)> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? RemoteTestNode.WaitTimeout);
        return await _channel.Reader.ReadAsync(cts.Token);
    }

    public async Task<T> ExpectAsync<T>()
    {
        var (message, _) = await ReceiveAsync();
        return Assert.IsType<T>(message);
    }

    public bool TryReceive(out (object Message, IActorRef? Sender) item) => _channel.Reader.TryRead(out item);
}

/// <summary>Starts remoting-enabled actor systems for tests.</summary>
internal static class RemoteSystems
{
    public static async Task<ActorSystem> StartAsync(string name, int port = 0, CapturingLoggerProvider? logs = null)
    {
        var setup = ActorSystemSetup.Default;
        if (logs is not null)
        {
            setup = setup.WithLoggerFactory(LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug)));
        }

        return await RemoteActorSystem.CreateAsync(RemoteTestNode.FastSettings(name, port), setup, RemoteTestNode.NewRegistry());
    }

    public static RemoteExtension Remote(this ActorSystem system) => RemoteExtension.Get(system);

    public static string PathOf(this ActorSystem system, string actor) => $"{system.Remote().Address}/user/{actor}";

    public static Task<IActorRef> ResolveAsync(this ActorSystem from, ActorSystem on, string actor) =>
        from.ActorSelection(on.PathOf(actor)).ResolveOne(TimeSpan.FromSeconds(10));

    /// <summary>Stops a system without a goodbye: its connections drop as if the process died.</summary>
    public static async Task CrashAsync(ActorSystem system)
    {
        await system.Remote().StopAsync(TimeSpan.Zero);
        await system.Terminate();
    }
}
