using Akka.Actor;
using Akka.Event;

namespace KvCluster.Pbm;

/// <summary>
/// Counts the dead letters of an actor system (messages to stopped or unknown actors) for
/// <c>actor system</c>. Akka publishes each one on the event stream but keeps no count, so a
/// system actor subscribes and counts from the moment the extension is first asked for
/// (<see cref="CommandHost"/> asks when it is created).
/// </summary>
public sealed class DeadLetterCounter : IExtension
{
    private long _count;

    internal DeadLetterCounter(ExtendedActorSystem system)
    {
        var counter = system.SystemActorOf(Props.Create(() => new CountingActor(this)), "pbm-dead-letter-counter");
        system.EventStream.Subscribe(counter, typeof(DeadLetter));
    }

    /// <summary>Dead letters published since the counter started; thread-safe.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>The counter of <paramref name="system"/>, started on first use.</summary>
    public static DeadLetterCounter Get(ActorSystem system) => system.WithExtension<DeadLetterCounter, DeadLetterCounterProvider>();

    private void Increment() => Interlocked.Increment(ref _count);

    /// <summary>Creates the one counter per system.</summary>
    private sealed class DeadLetterCounterProvider : ExtensionIdProvider<DeadLetterCounter>
    {
        public override DeadLetterCounter CreateExtension(ExtendedActorSystem system) => new(system);
    }

    /// <summary>Receives the dead letters of the event stream.</summary>
    private sealed class CountingActor : ReceiveActor
    {
        public CountingActor(DeadLetterCounter counter)
        {
            Receive<DeadLetter>(_ => counter.Increment());
        }
    }
}
