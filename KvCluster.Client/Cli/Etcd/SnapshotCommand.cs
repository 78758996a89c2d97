using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Client.Snapshots;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// <c>kv snapshot save|status</c>, as etcdctl's: <c>save FILE</c> streams one node's state-machine snapshot (etcd's
/// Maintenance.Snapshot) into FILE (the image, then the SHA-256 of the stream, as <c>etcdctl snapshot save</c> writes
/// it: either tool's file serves); <c>status FILE</c> checks a saved file and prints its hash, revision, keys and size
/// (<c>-w json</c> for JSON); <c>restore FILE --data-dir DIR</c> seeds a new data directory with it (the node started on
/// DIR installs it as its first Raft snapshot: docs/OPERATIONS.md).
/// </summary>
internal static class SnapshotCommand
{
    /// <summary>The <c>snapshot</c> command with its subcommands.</summary>
    public static Command Create(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var command = new Command("snapshot", "Save one node's state-machine snapshot to a file, or check a saved one.");
        var file = new Argument<string>("file") { Description = "The snapshot file." };
        var save = new Command("save", "Stream the snapshot of the one endpoint given into FILE (written to FILE.part, synced, then renamed).") { file };
        save.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, session => SaveAsync(session, parse.GetValue(file)!, token), token));
        command.Subcommands.Add(save);

        var statusFile = new Argument<string>("file") { Description = "The snapshot file (from kv or etcdctl snapshot save)." };
        var status = new Command("status", "Check FILE's checksums and print its hash, revision, keys, size (-w json: JSON; -w table: a table).") { statusFile };
        status.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, session => Task.FromResult(Status(session, parse.GetValue(statusFile)!)), token));
        command.Subcommands.Add(status);

        var restoreFile = new Argument<string>("file") { Description = "The snapshot file (from kv or etcdctl snapshot save)." };
        var dataDir = new Option<string>("--data-dir") { Description = "The new node's data directory: must not exist or be empty.", Required = true, HelpName = "dir" };
        var nodeId = new Option<ulong>("--node-id") { Description = "The id the node will start with (its --node-id).", DefaultValueFactory = _ => 1, HelpName = "id" };
        var clusterName = new Option<string>("--cluster-name") { Description = "The node's --cluster-name.", DefaultValueFactory = _ => "akkakv", HelpName = "name" };
        var restore = new Command("restore", "Seed a new data directory from FILE: a node started on it (--node-id, --data-dir) forms a one-node cluster holding the snapshot's keys and history.")
        {
            restoreFile, dataDir, nodeId, clusterName,
        };
        restore.SetAction((parse, token) => EtcdSession.RunAsync(parse, globals, options, console, session =>
            Task.FromResult(Restore(session, parse.GetValue(restoreFile)!, parse.GetValue(dataDir)!, parse.GetValue(nodeId), parse.GetValue(clusterName)!)), token));
        command.Subcommands.Add(restore);
        return command;
    }

    /// <summary>The file a restored data directory holds until its node seeds its Raft state from it (the node renames it when done).</summary>
    public const string RestoreFileName = "restore.akvs";

    private static int Restore(EtcdSession session, string path, string dataDir, ulong nodeId, string clusterName)
    {
        if (nodeId < 1)
        {
            return CliSession.Fail(session.Console, "rejected", $"--node-id must be 1 or more, was {nodeId}", ExitCodes.Usage);
        }

        var directory = Path.GetFullPath(dataDir);
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            return CliSession.Fail(session.Console, "rejected", $"the data directory {directory} is not empty: a restore seeds only a new data directory (move the old one aside)", ExitCodes.Rejected);
        }

        SnapshotFileInfo info;
        byte[] image;
        try
        {
            var file = File.ReadAllBytes(path);
            info = Inspect(file);
            image = KvSnapshotEnvelope.Unwrap(file).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CliSession.Fail(session.Console, "rejected", $"cannot read {path}: {e.Message}", ExitCodes.Rejected);
        }
        catch (InvalidDataException e)
        {
            return CliSession.Fail(session.Console, "rejected", $"{path} is not a valid AkkaKv snapshot: {e.Message}", ExitCodes.Rejected);
        }

        Directory.CreateDirectory(directory);
        var target = Path.Combine(directory, RestoreFileName);
        using (var output = new FileStream(target + ".part", FileMode.CreateNew, FileAccess.Write))
        {
            output.Write(image);
            output.Flush(flushToDisk: true);
        }

        File.Move(target + ".part", target);

        // The identity file the node checks at start (NodeDataDirectory): the directory is this node's of this cluster.
        File.WriteAllText(Path.Combine(directory, "node.id"), string.Create(CultureInfo.InvariantCulture, $"cluster={clusterName}\nnode={nodeId}\n"));
        session.Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Restored {path} (revision {info.Header.Revision}, {info.LiveKeys} keys, applied index {info.Header.AppliedIndex}) into {directory}."));
        session.Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Start a one-node cluster on it: akkakv-node --node-id {nodeId} --cluster-name {clusterName} --data-dir {directory} (add members with --join)."));
        return ExitCodes.Success;
    }

    private static async Task<int> SaveAsync(EtcdSession session, string path, CancellationToken token)
    {
        if (session.Endpoints.Count != 1)
        {
            return CliSession.Fail(session.Console, "rejected",
                $"a snapshot must be requested from one endpoint, not {session.Endpoints.Count} ({string.Join(",", session.Endpoints)}): pass --endpoints host:port", ExitCodes.Usage);
        }

        var partial = path + ".part";
        long written;
        try
        {
            // No command deadline: a large snapshot streams for as long as it takes (etcdctl does the same).
            using var call = session.Channel(0).Maintenance.Snapshot(new SnapshotRequest(), new CallOptions(session.Headers(), cancellationToken: token));
            await using (var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await foreach (var chunk in call.ResponseStream.ReadAllAsync(token).ConfigureAwait(false))
                {
                    await output.WriteAsync(chunk.Blob.Memory, token).ConfigureAwait(false);
                }

                await output.FlushAsync(token).ConfigureAwait(false);
                output.Flush(flushToDisk: true);
                written = output.Length;
            }

            var check = Inspect(await File.ReadAllBytesAsync(partial, token).ConfigureAwait(false));
            if (!check.StreamDigest)
            {
                throw new InvalidDataException("the stream's last 32 bytes are not the SHA-256 of the image before them (the transfer was cut or altered)");
            }

            File.Move(partial, path, overwrite: true);
        }
        catch (InvalidDataException e)
        {
            File.Delete(partial);
            return CliSession.Fail(session.Console, "rejected", $"the snapshot received from {session.Endpoints[0]} is unusable: {e.Message}", ExitCodes.Rejected);
        }
        catch (Exception) when (File.Exists(partial))
        {
            File.Delete(partial);
            throw;
        }

        session.Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Snapshot saved at {path} ({written} bytes)"));
        return ExitCodes.Success;
    }

    private static int Status(EtcdSession session, string path)
    {
        SnapshotFileInfo info;
        try
        {
            info = Inspect(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CliSession.Fail(session.Console, "rejected", $"cannot read {path}: {e.Message}", ExitCodes.Rejected);
        }
        catch (InvalidDataException e)
        {
            return CliSession.Fail(session.Console, "rejected", $"{path} is not a valid AkkaKv snapshot: {e.Message}", ExitCodes.Rejected);
        }

        var output = session.Console.Out;
        if (session.Format == "json")
        {
            output.WriteLine(new JsonObject
            {
                ["hash"] = info.Hash,
                ["revision"] = info.Header.Revision,
                ["totalKey"] = info.LiveKeys,
                ["totalSize"] = info.FileBytes,
                ["appliedIndex"] = info.Header.AppliedIndex,
                ["compactRevision"] = info.Header.CompactRevision,
                ["storedKeys"] = info.StoredKeys,
                ["versions"] = info.Versions,
                ["format"] = info.Header.Format,
                ["checksumOk"] = true,
            }.ToJsonString());
            return ExitCodes.Success;
        }

        var row = new[]
        {
            info.Hash.ToString("x8", CultureInfo.InvariantCulture),
            info.Header.Revision.ToString(CultureInfo.InvariantCulture),
            info.LiveKeys.ToString(CultureInfo.InvariantCulture),
            KvSnapshotFigures.Size(info.FileBytes),
            info.Header.AppliedIndex.ToString(CultureInfo.InvariantCulture),
            "true",
        };
        new EtcdPrinter(output, session.Format == "simple" ? "table" : session.Format)
            .Rows(["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE", "APPLIED INDEX", "CHECKSUM OK"], [row]);
        return ExitCodes.Success;
    }

    /// <summary>
    /// Checks a saved file (the stream digest when there is one, the image's own digest) and walks the keys section.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a valid snapshot; the message says why.</exception>
    internal static SnapshotFileInfo Inspect(byte[] file)
    {
        var image = KvSnapshotEnvelope.Unwrap(file);
        var header = KvSnapshotEnvelope.Read(image.Span);
        var keys = header.Sections.FirstOrDefault(s => s.Type == (ulong)KvSnapshotSection.Keys);
        if (keys.Length == 0)
        {
            throw new InvalidDataException("it has no keys section");
        }

        var reader = new KvSnapshotReader(image.Span.Slice(keys.Offset, keys.Length));
        var stored = reader.ReadInt64("key count");
        long live = 0, versions = 0;
        for (long i = 0; i < stored; i++)
        {
            reader.ReadBytes($"key {i}");
            var count = reader.ReadInt64($"version count of key {i}");
            var lastIsPut = false;
            for (long v = 0; v < count; v++)
            {
                reader.ReadUInt64($"mod revision of key {i}");
                lastIsPut = reader.ReadByte($"version flag of key {i}") == 0;
                if (lastIsPut)
                {
                    reader.ReadUInt64($"create revision of key {i}");
                    reader.ReadUInt64($"version of key {i}");
                    reader.ReadUInt64($"lease of key {i}");
                    reader.ReadBytes($"value of key {i}");
                }
            }

            versions += count;
            live += lastIsPut ? 1 : 0;
        }

        var digest = image.Span[^KvSnapshotEnvelope.DigestBytes..];
        return new SnapshotFileInfo(header, BinaryPrimitives.ReadUInt32BigEndian(digest), stored, live, versions, file.Length, image.Length != file.Length);
    }
}

/// <summary>What <c>kv snapshot status</c> found in a file.</summary>
/// <param name="Header">The image's head and sections.</param>
/// <param name="Hash">The first 32 bits of the image's SHA-256 (etcdctl prints a 32-bit hash).</param>
/// <param name="StoredKeys">Keys stored, tombstoned ones included.</param>
/// <param name="LiveKeys">Keys that exist at the snapshot's revision.</param>
/// <param name="Versions">Key versions retained.</param>
/// <param name="FileBytes">The file's size.</param>
/// <param name="StreamDigest">True when the file ends with the SHA-256 of the stream (saved by kv or etcdctl).</param>
internal sealed record SnapshotFileInfo(KvSnapshotHeader Header, uint Hash, long StoredKeys, long LiveKeys, long Versions, long FileBytes, bool StreamDigest);
