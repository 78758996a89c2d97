using Akka.Actor;
using Akka.Persistence;
using KvCluster.Client.Snapshots;
using KvCluster.Node.Kv;
using KvCluster.Raft.Actor;
using Microsoft.Extensions.Logging;

namespace KvCluster.Node.Hosting;

/// <summary>
/// Installs a pending restore (<c>kv snapshot restore FILE --data-dir DIR</c> left the image in DIR/<see cref="FileName"/>)
/// as the node's first Raft snapshot, before its RaftActor starts: at index max(1, the image's applied index), term 1,
/// a configuration of this node alone. The RaftActor then recovers from it like from any snapshot (log empty, reset to
/// that index) and the node serves the image's keys and history as a one-node cluster. Scenarios:
/// <list type="number">
/// <item>No <see cref="FileName"/>: nothing happens (every ordinary start).</item>
/// <item>A fresh journal: the image is checked (digests, structure: restored into a scratch store), saved to the snapshot
/// store under the RaftActor's persistence id, and the file renamed <c>restore.akvs.installed</c>.</item>
/// <item>The journal already holds this node's events or a snapshot: refused with <see cref="NodeDataException"/>
/// (exit 3), nothing written: a restore seeds only a new data directory.</item>
/// <item>A damaged image: refused with <see cref="NodeDataException"/> naming the file and the problem.</item>
/// </list>
/// </summary>
internal static class NodeRestoreSeed
{
    /// <summary>The pending restore image in a data directory (as <c>kv snapshot restore</c> writes it).</summary>
    public const string FileName = "restore.akvs";

    /// <summary>Installs a pending restore image of <paramref name="dataDir"/>, if there is one; see the class scenarios.</summary>
    /// <exception cref="NodeDataException">The journal is not new, or the image is damaged.</exception>
    public static async Task SeedIfPendingAsync(ActorSystem system, NodeOptions options, string dataDir, ILogger log, CancellationToken cancellationToken)
    {
        var file = Path.Combine(dataDir, FileName);
        if (!File.Exists(file))
        {
            return;
        }

        // A saved file (image, padding, stream digest) or a bare image: both are accepted.
        var image = KvSnapshotEnvelope.Unwrap(await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false)).ToArray();
        KvSnapshotHeader header;
        try
        {
            header = KvSnapshotEnvelope.Read(image);
            new KvStateMachine().Restore(image);
        }
        catch (Exception e) when (e is InvalidDataException or KvSnapshotFormatException)
        {
            throw new NodeDataException($"The restore image {file} is not a valid AkkaKv snapshot: {e.Message}", e);
        }

        var index = Math.Max(1, header.AppliedIndex);
        var metadata = new KvCluster.Raft.Core.SnapshotMetadata(index, 1, new KvCluster.Raft.Core.Membership([options.Id], []), index);
        var envelope = RaftSnapshotEnvelope.Encode(metadata, DateTime.UtcNow, image);
        var persistenceId = $"raft-{options.Id}";
        var done = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var seeder = system.ActorOf(Props.Create(() => new Seeder(persistenceId, envelope, done)), "restore-seed");
        string? refusal;
        try
        {
            refusal = await done.Task.WaitAsync(TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await seeder.GracefulStop(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        if (refusal is not null)
        {
            throw new NodeDataException($"The data directory {dataDir} holds a restore image ({file}) but {refusal}; a restore seeds only a new data directory: move {FileName} or the directory aside.");
        }

        File.Move(file, file + ".installed", overwrite: true);
        log.LogWarning(
            "Node {NodeId}: restored {File} as the first Raft snapshot (index {Index}, revision {Revision}, {Bytes} bytes): a one-node cluster of this node; add members with --join.",
            options.Id, file, index, header.Revision, image.Length);
    }

    /// <summary>Recovers the RaftActor's stream to check it is empty, then saves the snapshot; reports a refusal or null.</summary>
    private sealed class Seeder : ReceivePersistentActor
    {
        private readonly byte[] _envelope;
        private readonly TaskCompletionSource<string?> _done;
        private bool _hadSnapshot;

        public Seeder(string persistenceId, byte[] envelope, TaskCompletionSource<string?> done)
        {
            PersistenceId = persistenceId;
            _envelope = envelope;
            _done = done;
            Recover<SnapshotOffer>(_ => _hadSnapshot = true);
            Recover<RecoveryCompleted>(_ => Seed());
            RecoverAny(_ => { });
            Command<SaveSnapshotSuccess>(_ => _done.TrySetResult(null));
            Command<SaveSnapshotFailure>(f => _done.TrySetException(new NodeDataException($"the restore snapshot could not be saved: {f.Cause.Message}", f.Cause)));
        }

        public override string PersistenceId { get; }

        private void Seed()
        {
            if (LastSequenceNr > 0 || _hadSnapshot)
            {
                _done.TrySetResult($"its journal already holds {LastSequenceNr} events{(_hadSnapshot ? " and a snapshot" : string.Empty)} of {PersistenceId}");
                return;
            }

            SaveSnapshot(_envelope);
        }

        protected override void OnRecoveryFailure(Exception reason, object? message = null)
        {
            _done.TrySetException(new NodeDataException($"the journal could not be read to check it is new: {reason.Message}", reason));
            base.OnRecoveryFailure(reason, message);
        }
    }
}
