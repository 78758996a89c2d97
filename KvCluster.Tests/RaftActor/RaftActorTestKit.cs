using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Raft.Serialization;
using Xunit.Abstractions;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// Akka.TestKit base of the RaftActor specs: virtual time (<see cref="TestScheduler"/>), <c>serialize-messages = on</c>
/// with <see cref="RaftWireSerializer"/> bound (a Raft message that could not cross the wire fails the spec), and
/// Akka's in-memory journal unless <paramref name="config"/> names another.
/// </summary>
public abstract class RaftActorTestKit : Akka.TestKit.Xunit2.TestKit
{
    protected RaftActorTestKit(Config? config = null, ITestOutputHelper? output = null)
        : base(SpecConfig(config), "akkakv", output)
    {
    }

    /// <summary>The virtual clock.</summary>
    public TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    /// <summary>The configuration every RaftActor spec system starts from (over <paramref name="config"/>).</summary>
    public static Config SpecConfig(Config? config = null) =>
        (config ?? Config.Empty)
            .WithFallback(ConfigurationFactory.ParseString("""
                akka.loglevel = WARNING
                akka.log-dead-letters = off
                akka.actor.serialize-messages = on
                akka.actor.serialize-creators = off
                akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
                akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
                akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
                akka.test.single-expect-default = 10s
                """))
            .WithFallback(RaftWireSerializer.Config);

    /// <summary>Advances virtual time.</summary>
    public void Advance(TimeSpan time) => Clock.Advance(time);

    /// <summary>Replays stream <paramref name="persistenceId"/> from the system's default journal into a hard state and
    /// log (which starts after its compaction point).</summary>
    internal static (HardState HardState, StoredLog Log) ReadJournal(TestKitBase kit, string persistenceId)
    {
        var hardState = HardState.Empty;
        var log = new StoredLog();
        var events = new List<(long, object)>();
        var probe = kit.CreateTestProbe();
        var journal = Akka.Persistence.Persistence.Instance.Apply(kit.Sys).JournalFor(null);
        journal.Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, persistenceId, probe.Ref), probe.Ref);
        while (true)
        {
            var message = probe.ReceiveOne(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"The journal did not replay '{persistenceId}'.");
            switch (message)
            {
                case ReplayedMessage replayed:
                    events.Add((replayed.Persistent.SequenceNr, replayed.Persistent.Payload));
                    break;
                case RecoverySuccess:
                    RaftJournalCodec.ReplayAll(events, persistenceId, ref hardState, log);
                    return (hardState, log);
                case ReplayMessagesFailure failure:
                    throw new InvalidOperationException($"Replaying '{persistenceId}' failed.", failure.Cause);
            }
        }
    }
}
