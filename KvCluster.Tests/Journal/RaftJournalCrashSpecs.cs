using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using KvCluster.Raft.Persistence;
using KvCluster.Raft.Serialization;
using KvCluster.Tests.Persistence;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace KvCluster.Tests.Journal;

/// <summary>
/// Recovery after SIGKILL mid-write: a child process (<see cref="CrashWriterProgram"/>) persists in a loop through the
/// Raft journal configuration and is killed; a new actor system on the same file must replay, for every stream, a
/// gap-free prefix holding every write that was acknowledged, with atomic writes whole or absent.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RaftJournalCrashSpecs : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new();
    private readonly ITestOutputHelper _output;

    public RaftJournalCrashSpecs(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    [Fact]
    public async Task Journal_WriterKilledWithSigkill_RecoversGapFreePrefixHoldingEveryAcknowledgedWrite()
    {
        var acknowledged = new ConcurrentDictionary<int, long>();
        var ackCount = 0;
        using var process = Process.Start(TestChildProcess.CreateStartInfo(typeof(CrashWriterProgram), _directory.Path))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var enoughAcks = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stdout = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                var parts = line.Split(' ');
                acknowledged.AddOrUpdate(int.Parse(parts[0]), long.Parse(parts[1]), (_, old) => Math.Max(old, long.Parse(parts[1])));
                if (Interlocked.Increment(ref ackCount) == 400)
                {
                    enoughAcks.TrySetResult();
                }
            }
        });

        await Task.WhenAny(enoughAcks.Task, process.WaitForExitAsync(), Task.Delay(s_timeout));
        if (process.HasExited)
        {
            Assert.Fail($"the writer exited early with code {process.ExitCode}: {await stderr}");
        }

        Assert.True(enoughAcks.Task.IsCompleted, "the writer acknowledged fewer than 400 writes in time");
        process.Kill(); // SIGKILL on Unix: no flush, no shutdown hook
        await process.WaitForExitAsync();
        await stdout.WaitAsync(s_timeout);
        _output.WriteLine($"killed after {ackCount} acknowledged writes");

        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING")
            .WithFallback(RaftJournalConfig.Build(_directory.Path))
            .WithFallback(RaftWireSerializer.Config);
        var system = ActorSystem.Create("akkakv", config);
        try
        {
            for (var w = 0; w < CrashWriterProgram.Writers; w++)
            {
                var pid = CrashWriterProgram.PersistenceId(w);
                var recovered = await system.ActorOf(JournalProbeActor.Props(pid)).Ask<Recovered>(new GetRecovered(), s_timeout);
                var acked = acknowledged.GetValueOrDefault(w);
                Assert.True(recovered.Events.Count >= acked, $"{pid}: acknowledged up to {acked} but recovered only {recovered.Events.Count}");
                for (var i = 0; i < recovered.Events.Count; i++)
                {
                    Assert.Equal(i + 1, recovered.Events[i].SequenceNr);
                    Assert.Equal(CrashWriterProgram.Payload(w, i + 1), (byte[])recovered.Events[i].Event);
                }

                if (w % 2 == 1)
                {
                    // Atomic writes of three events survive whole or not at all.
                    Assert.Equal(0, recovered.Events.Count % CrashWriterProgram.OddBatch);
                }

                Assert.Equal(recovered.Events.Count, recovered.LastSequenceNr);
            }
        }
        finally
        {
            await system.Terminate().WaitAsync(s_timeout);
        }
    }
}
