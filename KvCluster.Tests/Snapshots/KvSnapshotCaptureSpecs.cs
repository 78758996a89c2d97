using Google.Protobuf;
using KvCluster.Client.Protocol;
using KvCluster.Client.Snapshots;
using KvCluster.Node.Kv;
using KvCluster.Tests.Kv;
using static KvCluster.Tests.Kv.EtcdCommands;
using static KvCluster.Tests.Kv.KvCommands;

namespace KvCluster.Tests.Snapshots;

/// <summary>
/// The cheap capture (issue 17): a capture taken on the owner's turn serializes to exactly the state at that point,
/// whatever the store did after it (puts, deletes, compaction), on the same thread or concurrently on another.
/// </summary>
public sealed class KvSnapshotCaptureSpecs
{
    [Fact]
    public void Capture_ThenWritesDeletesAndCompaction_SerializesTheCapturedState()
    {
        var store = KvSnapshotSpecs.Populated(seed: 11, commands: 400, out var next);
        var expected = store.Snapshot();
        var capture = store.CaptureSnapshot();

        foreach (var command in KvSnapshotSpecs.RandomCommands(seed: 12, count: 300))
        {
            store.Apply(next++, command);
        }

        store.Apply(next++, Compact(store.Revision));
        foreach (var command in KvSnapshotSpecs.RandomCommands(seed: 13, count: 100))
        {
            store.Apply(next++, command);
        }

        Assert.Equal(expected, capture.Serialize());
        Assert.NotEqual(expected, store.Snapshot());
    }

    [Fact]
    public void Capture_PartialCompactionOfLongHistories_KeepsTheCapturedVersions()
    {
        var store = new KvStateMachine();
        long index = 1;
        for (var i = 0; i < 50; i++)
        {
            store.Apply(index++, EPut($"k{i % 5}", $"v{i}"));
        }

        var expected = store.Snapshot();
        var capture = store.CaptureSnapshot();
        store.Apply(index++, Compact(store.Revision - 7));
        store.Apply(index++, EDelete("k", "l"));

        var restored = new KvStateMachine();
        restored.Restore(capture.Serialize());

        Assert.Equal(expected, restored.Snapshot());
        Assert.Equal(capture.AppliedIndex, restored.AppliedIndex);
        Assert.Equal(5, capture.LiveKeys);
    }

    [Fact]
    public async Task Capture_SerializedOnAnotherThreadWhileApplying_EqualsTheStateAtCapture()
    {
        var store = KvSnapshotSpecs.Populated(seed: 21, commands: 2000, out var next);
        var expected = store.Snapshot();
        var capture = store.CaptureSnapshot();
        using var start = new ManualResetEventSlim();
        var serializing = Task.Run(() =>
        {
            start.Wait();
            return Enumerable.Range(0, 5).Select(_ => capture.Serialize()).ToList();
        });

        start.Set();
        var commands = KvSnapshotSpecs.RandomCommands(seed: 22, count: 5000);
        for (var i = 0; i < commands.Count; i++)
        {
            store.Apply(next++, commands[i]);
            if (i % 500 == 499)
            {
                store.Apply(next++, Compact(store.Revision - 3));
            }
        }

        foreach (var image in await serializing)
        {
            Assert.Equal(expected, image);
        }
    }

    [Fact]
    public void Restore_RaisesRestoredWithTheNewState()
    {
        var source = KvSnapshotSpecs.Populated(seed: 31, commands: 100, out var next);
        source.Apply(next, Compact(source.Revision - 2));
        var target = new KvStateMachine();
        KvRestored? seen = null;
        target.Restored += r => seen = r;

        target.Restore(source.Snapshot());

        Assert.Equal(new KvRestored(source.AppliedIndex, source.Revision, source.CompactRevision), seen);
    }

    [Fact]
    public void Restore_Refused_RaisesNothing()
    {
        var image = KvSnapshotSpecs.Populated(seed: 32, commands: 20, out _).Snapshot();
        image[^1] ^= 1;
        var target = new KvStateMachine();
        var raised = false;
        target.Restored += _ => raised = true;

        Assert.Throws<KvSnapshotFormatException>(() => target.Restore(image));

        Assert.False(raised);
    }

    [Fact]
    public void RaftStateMachine_RestoreAtAnEarlierIndex_ThrowsInvalidDataNamingTheIndex()
    {
        var source = KvSnapshotSpecs.Populated(seed: 33, commands: 30, out _);
        var target = new KvRaftStateMachine(KvLimits.Default);

        var error = Assert.Throws<InvalidDataException>(() => target.RestoreSnapshot(source.AppliedIndex - 1, source.Snapshot()));

        Assert.Contains($"index {source.AppliedIndex - 1}", error.Message);
        Assert.Equal(0, target.Store.AppliedIndex);
    }

    [Fact]
    public void RaftStateMachine_CorruptImage_ThrowsInvalidDataNamingIndexAndProblem()
    {
        var image = KvSnapshotSpecs.Populated(seed: 34, commands: 30, out _).Snapshot();
        image[20] ^= 0x10;
        var target = new KvRaftStateMachine(KvLimits.Default);

        var error = Assert.Throws<InvalidDataException>(() => target.RestoreSnapshot(1000, image));

        Assert.Contains("index 1000", error.Message);
        Assert.Contains("corrupted", error.Message);
    }

    [Fact]
    public void RaftStateMachine_RestoreAtALaterIndex_AppliesTheNextEntries()
    {
        var source = KvSnapshotSpecs.Populated(seed: 35, commands: 30, out _);
        var target = new KvRaftStateMachine(KvLimits.Default);

        target.RestoreSnapshot(source.AppliedIndex + 5, source.Snapshot());
        var result = KvResult.Parser.ParseFrom(target.Apply(source.AppliedIndex + 6, Put("after", "x").ToByteArray()).Span);

        Assert.Equal(KvStatus.Ok, result.Status);
        Assert.Equal(source.Revision + 1, result.Revision);
    }

    [Fact]
    public void RaftStateMachine_CaptureQuery_LeavesACaptureInTheExchange()
    {
        var exchange = new KvSnapshotExchange();
        var machine = new KvRaftStateMachine(KvLimits.Default, exchange);
        machine.Apply(1, Put("a", "1").ToByteArray());
        var id = Guid.NewGuid();

        var reply = KvResult.Parser.ParseFrom(machine.Query(KvSnapshotExchange.Request(id)).Span);
        machine.Apply(2, Put("b", "2").ToByteArray());

        Assert.Equal(KvStatus.Ok, reply.Status);
        Assert.True(exchange.TryTake(id, out var capture));
        var restored = new KvStateMachine();
        restored.Restore(capture.Serialize());
        Assert.Equal(1, restored.Count);
        Assert.False(exchange.TryTake(id, out _));
    }

    [Fact]
    public void Unwrap_EtcdctlSavedFile_StripsTheStreamDigest()
    {
        var image = KvSnapshotSpecs.Populated(seed: 36, commands: 30, out _).Snapshot();
        var saved = image.Concat(System.Security.Cryptography.SHA256.HashData(image)).ToArray();

        Assert.Equal(image, KvSnapshotEnvelope.Unwrap(saved).ToArray());
        Assert.Equal(image, KvSnapshotEnvelope.Unwrap(image).ToArray());
    }

    [Fact]
    public void Unwrap_PaddedStream_GivesTheImageBack()
    {
        var image = KvSnapshotSpecs.Populated(seed: 38, commands: 30, out _).Snapshot();
        var (padded, digest) = KvSnapshotEnvelope.StreamLayout(image);
        var saved = image.Concat(new byte[padded - image.Length]).Concat(digest).ToArray();

        Assert.Equal(KvSnapshotEnvelope.DigestBytes, saved.Length % KvSnapshotEnvelope.StreamAlignment);
        Assert.Equal(image, KvSnapshotEnvelope.Unwrap(saved).ToArray());
    }

    [Fact]
    public void EnvelopeRead_GivesHeadAndSections()
    {
        var store = KvSnapshotSpecs.Populated(seed: 37, commands: 60, out _);
        var image = store.Snapshot();

        var header = KvSnapshotEnvelope.Read(image);

        Assert.Equal(KvSnapshotEnvelope.FormatVersion, header.Format);
        Assert.Equal(store.AppliedIndex, header.AppliedIndex);
        Assert.Equal(store.Revision, header.Revision);
        Assert.Equal(image.Length, header.Length);
        Assert.Equal((ulong)KvSnapshotSection.Keys, Assert.Single(header.Sections).Type);
    }
}
