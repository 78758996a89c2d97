using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using KvCluster.Raft.Persistence;
using KvCluster.Raft.Serialization;

namespace KvCluster.Tests.Journal;

/// <summary>
/// The child process of <see cref="RaftJournalCrashSpecs"/>: an actor system on the Raft journal configuration
/// (<see cref="RaftJournalConfig"/>) in the data directory given as the first argument, with <see cref="Writers"/>
/// persistent actors persisting as fast as they can (even writers one event per write, odd ones
/// <see cref="OddBatch"/> events per PersistAll, one atomic write). Each prints "writer highestSeq" on stdout only from
/// its persist handler, i.e. after the journal acknowledged the write. Stops by itself after <see cref="MaxRun"/>.
/// </summary>
internal static class CrashWriterProgram
{
    public const int Writers = 8;
    public const int OddBatch = 3;
    public const int PayloadBytes = 200;
    public static readonly TimeSpan MaxRun = TimeSpan.FromSeconds(90);

    public static string PersistenceId(int writer) => $"crash-{writer}";

    public static byte[] Payload(int writer, long seq)
    {
        var payload = new byte[PayloadBytes];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((seq * 31) + (writer * 7) + i);
        }

        return payload;
    }

    public static int Run(string[] args)
    {
        var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING")
            .WithFallback(RaftJournalConfig.Build(args[0]))
            .WithFallback(RaftWireSerializer.Config);
        using var system = ActorSystem.Create("akkakv", config);
        for (var w = 0; w < Writers; w++)
        {
            var writer = w;
            system.ActorOf(Props.Create(() => new Writer(writer, output)), $"writer-{w}").Tell(Writer.Next.Instance);
        }

        Thread.Sleep(MaxRun); // a child process: the parent kills it long before
        return 0;
    }

    /// <summary>Persists in a loop and reports each acknowledged write.</summary>
    private sealed class Writer : ReceivePersistentActor
    {
        private readonly int _writer;

        public Writer(int writer, TextWriter output)
        {
            _writer = writer;
            var batch = writer % 2 == 0 ? 1 : OddBatch;
            Command<Next>(_ =>
            {
                var first = LastSequenceNr + 1;
                var events = Enumerable.Range(0, batch).Select(i => (object)Payload(_writer, first + i)).ToArray();
                var remaining = batch;
                PersistAll(events, _ =>
                {
                    if (--remaining == 0)
                    {
                        lock (output)
                        {
                            output.WriteLine($"{_writer} {LastSequenceNr}");
                        }

                        Self.Tell(Next.Instance);
                    }
                });
            });
        }

        public override string PersistenceId => CrashWriterProgram.PersistenceId(_writer);

        public sealed class Next
        {
            public static readonly Next Instance = new();
        }
    }
}
