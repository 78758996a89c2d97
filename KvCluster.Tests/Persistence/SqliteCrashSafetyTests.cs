using System.Collections.Concurrent;
using System.Diagnostics;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Snapshot;
using KvCluster.Actors.Persistence.Sqlite;
using Xunit.Abstractions;

namespace KvCluster.Tests.Persistence;

/// <summary>
/// Real crashes and damaged files: a child process SIGKILLed while persisting, corrupted and
/// truncated database files.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SqliteCrashSafetyTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new();
    private readonly ITestOutputHelper _output;

    public SqliteCrashSafetyTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Journal_WriterKilledWithSigkill_RecoversGapFreePrefixHoldingEveryAcknowledgedWrite()
    {
        var path = _directory.File("crash.db");
        var acknowledged = new ConcurrentDictionary<int, long>();
        var ackCount = 0;
        using var process = Process.Start(TestChildProcess.CreateStartInfo(typeof(CrashWriterProgram), path))!;
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

        // Kill mid-stream, once the writers are well under way.
        await Task.WhenAny(enoughAcks.Task, process.WaitForExitAsync(), Task.Delay(s_timeout));
        if (process.HasExited)
        {
            Assert.Fail($"the writer exited early with code {process.ExitCode}: {await stderr}");
        }
        Assert.True(enoughAcks.Task.IsCompleted, "the writer acknowledged fewer than 400 writes in time");
        var clock = Stopwatch.StartNew();
        process.Kill();
        await process.WaitForExitAsync();
        _output.WriteLine($"killed after {ackCount} acks; exit seen in {clock.ElapsedMilliseconds} ms");
        await stdout.WaitAsync(s_timeout);
        _output.WriteLine($"stdout drained in {clock.ElapsedMilliseconds} ms, {ackCount} acks in total");

        await using var journal = SqlitePersistence.OpenJournal(path);
        _output.WriteLine($"reopened in {clock.ElapsedMilliseconds} ms");
        for (var w = 0; w < CrashWriterProgram.Writers; w++)
        {
            var pid = CrashWriterProgram.PersistenceId(w);
            var recovered = new List<PersistentRepr>();
            await journal.ReplayMessagesAsync(pid, 1, long.MaxValue, long.MaxValue, recovered.Add);
            var acked = acknowledged.GetValueOrDefault(w);
            Assert.True(recovered.Count >= acked, $"{pid}: acknowledged up to {acked} but recovered only {recovered.Count}");
            for (var i = 0; i < recovered.Count; i++)
            {
                Assert.Equal(i + 1, recovered[i].SequenceNr);
                Assert.Equal(CrashWriterProgram.Payload(w, i + 1), recovered[i].Payload.ToArray());
            }
            if (w % 2 == 1)
            {
                // Atomic writes of three events survive whole or not at all.
                Assert.Equal(0, recovered.Count % CrashWriterProgram.OddBatch);
            }
            Assert.Equal(recovered.Count, await journal.ReadHighestSequenceNrAsync(pid));
        }
    }

    /// <summary>Writes a journal with enough rows to span many pages, then closes it (checkpointed, no WAL left).</summary>
    private static async Task<string> CreateJournalAsync(string path)
    {
        await using (var journal = SqlitePersistence.OpenJournal(path))
        {
            var writes = Enumerable.Range(1, 400)
                .Select(i => new AtomicWrite(new PersistentRepr("p", i, new byte[300], "e")))
                .ToList();
            await journal.WriteMessagesAsync(writes);
        }
        Assert.False(File.Exists(path + "-wal"));
        return path;
    }

    [Fact]
    public async Task OpenJournal_CorruptedPages_ReportedNamingFileAndFileNotReplaced()
    {
        var path = await CreateJournalAsync(_directory.File("corrupt.db"));
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            // Garbage over pages 3-6 (page size 4096): b-tree pages of the journal table.
            file.Position = 2 * 4096;
            var garbage = new byte[4 * 4096];
            new Random(42).NextBytes(garbage);
            await file.WriteAsync(garbage);
        }
        var damaged = await File.ReadAllBytesAsync(path);

        var ex = Assert.ThrowsAny<PersistenceStoreCorruptedException>(() => SqlitePersistence.OpenJournal(path));

        Assert.Equal(path, ex.FilePath);
        Assert.Contains(path, ex.Message);
        Assert.Equal(damaged, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task OpenJournal_TruncatedFile_ReportedNamingFileAndFileNotReplaced()
    {
        var path = await CreateJournalAsync(_directory.File("truncated.db"));
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(file.Length / 2);
        }
        var damaged = await File.ReadAllBytesAsync(path);

        var ex = Assert.ThrowsAny<PersistenceStoreCorruptedException>(() => SqlitePersistence.OpenJournal(path));

        Assert.Equal(path, ex.FilePath);
        Assert.Contains(path, ex.Message);
        Assert.Equal(damaged, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task OpenJournal_HeaderOverwritten_ReportedAsNotADatabase()
    {
        var path = await CreateJournalAsync(_directory.File("header.db"));
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            await file.WriteAsync(new byte[100]);
        }

        var ex = Assert.ThrowsAny<PersistenceStoreCorruptedException>(() => SqlitePersistence.OpenJournal(path));

        Assert.Contains(path, ex.Message);
        Assert.Equal(new byte[100], (await File.ReadAllBytesAsync(path))[..100]);
    }

    [Fact]
    public async Task OpenSnapshotStore_TruncatedFile_ReportedNamingFile()
    {
        var path = _directory.File("snapshots.db");
        await using (var store = SqlitePersistence.OpenSnapshotStore(path))
        {
            for (var i = 1; i <= 20; i++)
            {
                await store.SaveAsync(new SnapshotMetadata("p", i, DateTimeOffset.UnixEpoch), "s", new byte[3000]);
            }
        }
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(file.Length / 3);
        }

        var ex = Assert.ThrowsAny<PersistenceStoreCorruptedException>(() => SqlitePersistence.OpenSnapshotStore(path));

        Assert.Contains(path, ex.Message);
    }
}
