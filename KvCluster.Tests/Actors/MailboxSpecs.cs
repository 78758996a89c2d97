using System.Collections.Concurrent;
using KvCluster.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Actors;

public sealed class MailboxSpecs : TestKit
{
    private sealed record Numbered(int Sender, int Sequence);

    private sealed class OrderChecker : ReceiveActor
    {
        public OrderChecker(int senders, int perSender, IActorRef probe)
        {
            var last = new int[senders];
            Array.Fill(last, -1);
            var received = 0;
            Receive<Numbered>(n =>
            {
                if (n.Sequence != last[n.Sender] + 1)
                {
                    probe.Tell($"out of order: sender {n.Sender} sent {n.Sequence} after {last[n.Sender]}");
                }
                last[n.Sender] = n.Sequence;
                if (++received == senders * perSender)
                {
                    probe.Tell("all received");
                }
            });
        }
    }

    [Fact]
    public async Task Tell_ConcurrentSenders_PreservesOrderPerSender()
    {
        const int Senders = 4;
        const int PerSender = 20_000;
        var checker = Sys.ActorOf(Props.Create(() => new OrderChecker(Senders, PerSender, TestActor)));

        var tasks = Enumerable.Range(0, Senders).Select(s => Task.Run(() =>
        {
            for (var i = 0; i < PerSender; i++)
            {
                checker.Tell(new Numbered(s, i), null);
            }
        })).ToArray();
        await Task.WhenAll(tasks);

        ExpectMsg("all received", TimeSpan.FromSeconds(20));
    }

    private sealed class ConcurrencyProbe : ReceiveActor
    {
        private int _inside;

        public ConcurrencyProbe(IActorRef probe, int expected)
        {
            var count = 0;
            ReceiveAny(_ =>
            {
                if (Interlocked.Increment(ref _inside) != 1)
                {
                    probe.Tell("concurrent!");
                }
                Thread.SpinWait(50);
                Interlocked.Decrement(ref _inside);
                if (++count == expected)
                {
                    probe.Tell("done");
                }
            });
        }
    }

    [Fact]
    public async Task Actor_ManyConcurrentSenders_ProcessesOneMessageAtATime()
    {
        var actor = Sys.ActorOf(Props.Create(() => new ConcurrencyProbe(TestActor, 4 * 5_000)).WithThroughput(5));

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                actor.Tell(i, null);
            }
        })));

        ExpectMsg("done", TimeSpan.FromSeconds(20));
    }

    private sealed class SelfStopper : ReceiveActor
    {
        public SelfStopper(IActorRef probe)
        {
            Receive<string>(s => s == "go", _ =>
            {
                Self.Tell("queued-user-message");
                Context.Stop(Self);
            });
            Receive<string>(s => probe.Tell("handled " + s));
        }
    }

    [Fact]
    public void Stop_IsSystemMessage_ProcessedAheadOfQueuedUserMessages()
    {
        var actor = Sys.ActorOf(Props.Create(() => new SelfStopper(TestActor)));
        Watch(actor);

        actor.Tell("go", TestActor);

        ExpectTerminated(actor);
        ExpectDeadLetter<string>(s => s == "queued-user-message");
    }

    private sealed class Blocker : ReceiveActor
    {
        public Blocker(ManualResetEventSlim gate, IActorRef probe)
        {
            Receive<string>(s => s == "block", _ =>
            {
                probe.Tell("blocked");
                gate.Wait(TimeSpan.FromSeconds(10));
            });
            Receive<int>(n => probe.Tell(n));
        }
    }

    [Fact]
    public void SystemMessage_QueuedBehindUserMessages_OvertakesThem()
    {
        using var gate = new ManualResetEventSlim(false);
        var actor = Sys.ActorOf(Props.Create(() => new Blocker(gate, TestActor)));
        Watch(actor);
        actor.Tell("block", TestActor);
        ExpectMsg("blocked");

        for (var i = 0; i < 10; i++)
        {
            actor.Tell(i, TestActor);
        }
        Sys.Stop(actor);
        gate.Set();

        // None of the ten user messages queued before the stop is handled.
        ExpectTerminated(actor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    private sealed class AsyncActor : ReceiveActor
    {
        public AsyncActor(IActorRef probe)
        {
            ReceiveAsync<TaskCompletionSource>(async tcs =>
            {
                probe.Tell("start");
                await tcs.Task;
                // After the await we are back on the actor: Sender and Self are intact.
                Sender.Tell("replied-after-await");
                probe.Tell("end");
            });
            ReceiveAsync<string>(async s =>
            {
                await Task.Yield();
                throw new InvalidOperationException("async failure " + s);
            }, s => s.StartsWith("fail", StringComparison.Ordinal));
            Receive<string>(s => probe.Tell("sync " + s));
        }
    }

    [Fact]
    public void ReceiveAsync_NextMessageWaitsUntilTaskCompletes()
    {
        var actor = Sys.ActorOf(Props.Create(() => new AsyncActor(TestActor)));
        var tcs = new TaskCompletionSource();
        var caller = CreateTestProbe();

        actor.Tell(tcs, caller.Ref);
        ExpectMsg("start");
        actor.Tell("next", TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        tcs.SetResult();

        ExpectMsg("end");
        ExpectMsg("sync next");
        caller.ExpectMsg("replied-after-await");
    }

    [Fact]
    public void ReceiveAsync_FaultedTask_FailsActorThroughSupervision()
    {
        var actor = Sys.ActorOf(Props.Create(() => new AsyncActor(TestActor)));

        EventFilter.Error<InvalidOperationException>("async failure").ExpectOne(() => actor.Tell("fail-1", TestActor));

        actor.Tell("after", TestActor);
        ExpectMsg("sync after");
    }

    private sealed class Piper : ReceiveActor
    {
        public Piper(IActorRef probe)
        {
            Receive<Task<int>>(t => t.PipeTo(Self));
            Receive<int>(n => probe.Tell(n));
            Receive<Status.Failure>(f => probe.Tell(f.Cause.Message));
        }
    }

    [Fact]
    public void PipeTo_DeliversResultOrFailureAsMessage()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Piper(TestActor)));

        actor.Tell(Task.FromResult(7), TestActor);
        ExpectMsg(7);
        actor.Tell(Task.FromException<int>(new InvalidOperationException("piped failure")), TestActor);
        ExpectMsg("piped failure");
    }
}
