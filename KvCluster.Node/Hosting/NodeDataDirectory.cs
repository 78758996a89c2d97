using System.Globalization;
using Microsoft.Data.Sqlite;

namespace KvCluster.Node.Hosting;

/// <summary>
/// A node's claim on its data directory, held for the life of the node (issue 14). Scenarios:
/// <list type="number">
/// <item><see cref="Claim"/> creates the directory if needed and takes an exclusive lock on <see cref="LockFileName"/>
/// (an advisory <c>flock</c> on Linux, a share-none open on Windows; the kernel drops it when the process dies, so a
/// kill -9 leaves no stale lock). A second node, in this process or another, is refused with a
/// <see cref="NodeDataException"/> naming the directory and the pid in <see cref="PidFileName"/>.</item>
/// <item>The identity file (<see cref="IdentityFileName"/>) ties the directory to one node of one cluster: another
/// node's directory is refused and left untouched.</item>
/// <item>A journal written by the in-house runtime that AkkaKv ran on before Akka.NET (its <c>journal.db</c> with the
/// <c>journal_event</c> table) is recognised and refused with a message saying how to move the data; it is never opened
/// as if the directory were empty.</item>
/// <item><see cref="Dispose"/> releases the lock (the node's last step).</item>
/// </list>
/// </summary>
public sealed class NodeDataDirectory : IDisposable
{
    /// <summary>The file that ties a data directory to one node of one cluster.</summary>
    public const string IdentityFileName = "node.id";

    /// <summary>The file a running node holds locked.</summary>
    public const string LockFileName = "node.lock";

    /// <summary>The file that names the pid of the node holding the lock (informational: the lock is the truth).</summary>
    public const string PidFileName = "node.pid";

    /// <summary>The journal file of the in-house runtime (KvCluster.Actors.Persistence, before issue 14).</summary>
    public const string LegacyJournalFileName = "journal.db";

    /// <summary>A table only the in-house runtime's journal has (Akka.Persistence.Sql names its tables differently).</summary>
    private const string LegacyJournalTable = "journal_event";

    private FileStream? _lock;

    private NodeDataDirectory(string path, FileStream lockFile)
    {
        Path = path;
        _lock = lockFile;
    }

    /// <summary>The full path of the directory.</summary>
    public string Path { get; }

    /// <summary>Creates or checks the data directory of <paramref name="options"/> and locks it.</summary>
    /// <param name="options">The node's validated settings.</param>
    /// <exception cref="NodeDataException">The directory is unusable, held by another node, another node's, or old.</exception>
    public static NodeDataDirectory Claim(NodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var dataDir = System.IO.Path.GetFullPath(options.DataDir);
        try
        {
            Directory.CreateDirectory(dataDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeDataException($"The data directory {dataDir} cannot be created: {e.Message}", e);
        }

        var lockFile = Lock(dataDir);
        var claimed = new NodeDataDirectory(dataDir, lockFile);
        try
        {
            CheckIdentity(dataDir, options);
            RefuseLegacyJournal(dataDir);
            return claimed;
        }
        catch
        {
            claimed.Dispose();
            throw;
        }
    }

    /// <summary>True when <paramref name="file"/> is a journal of the in-house runtime.</summary>
    /// <param name="file">A SQLite file; opened read-only and immutable, so nothing in it or beside it changes.</param>
    public static bool IsLegacyJournal(string file)
    {
        if (!File.Exists(file))
        {
            return false;
        }

        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = new Uri(file).AbsoluteUri + "?immutable=1",
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        };
        try
        {
            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $name";
            command.Parameters.AddWithValue("$name", LegacyJournalTable);
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
        }
        catch (SqliteException)
        {
            // Not a database this check can read: the journal itself reports what is wrong when it opens it.
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var lockFile = Interlocked.Exchange(ref _lock, null);
        if (lockFile is null)
        {
            return;
        }

        try
        {
            File.Delete(System.IO.Path.Combine(Path, PidFileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The pid file is informational; the lock below is what a next node checks.
        }

        lockFile.Dispose();
    }

    private static FileStream Lock(string dataDir)
    {
        var lockPath = System.IO.Path.Combine(dataDir, LockFileName);
        var pidPath = System.IO.Path.Combine(dataDir, PidFileName);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new NodeDataException($"The data directory {dataDir} is not writable: {e.Message}", e);
        }
        catch (IOException e)
        {
            var holder = ReadPid(pidPath);
            throw new NodeDataException(
                $"The data directory {dataDir} is in use by another AkkaKv node (pid {holder}, holding {lockPath}). " +
                "Two nodes on one directory would lose acknowledged writes: stop that node first, or give this one another --data-dir.",
                e);
        }

        try
        {
            File.WriteAllText(pidPath, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lockFile.Dispose();
            throw new NodeDataException($"The data directory {dataDir} is not writable: {e.Message}", e);
        }

        return lockFile;
    }

    private static string ReadPid(string pidPath)
    {
        try
        {
            var text = File.ReadAllText(pidPath).Trim();
            return text.Length > 0 ? text : "unknown";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static void CheckIdentity(string dataDir, NodeOptions options)
    {
        var identity = $"cluster={options.ClusterName}\nnode={options.Id}\n";
        var file = System.IO.Path.Combine(dataDir, IdentityFileName);
        try
        {
            if (File.Exists(file))
            {
                var found = File.ReadAllText(file);
                if (found != identity)
                {
                    throw new NodeDataException(
                        $"The data directory {dataDir} belongs to another node ({file} says '{found.ReplaceLineEndings(" ").Trim()}', this node is '{identity.ReplaceLineEndings(" ").Trim()}'). Use that node's id, or another --data-dir.");
                }
            }
            else
            {
                File.WriteAllText(file, identity);
            }
        }
        catch (IOException e)
        {
            throw new NodeDataException($"The data directory {dataDir} is not usable: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new NodeDataException($"The data directory {dataDir} is not writable: {e.Message}", e);
        }
    }

    private static void RefuseLegacyJournal(string dataDir)
    {
        var file = System.IO.Path.Combine(dataDir, LegacyJournalFileName);
        if (IsLegacyJournal(file))
        {
            throw new NodeDataException(
                $"The data directory {dataDir} holds a journal of the in-house runtime AkkaKv ran on before Akka.NET ({file}, table {LegacyJournalTable}). " +
                "This version cannot read it and will not start on it as if it were empty; the file is left untouched. To move the data: " +
                "(1) in a cluster whose other members already run this version, remove this member on the leader (kv pbm <leader-pbm> raft remove-member <id>), " +
                "move the directory aside (mv), and start this node with a new --node-id, an empty --data-dir and --join: the leader adds it and it copies every committed write; " +
                "(2) otherwise start the previous AkkaKv release on this directory, export the keys (kv scan --output json), start this version on an empty --data-dir " +
                "and write them back with kv put. Keep the old directory until the data is checked. docs/OPERATIONS.md describes both.");
        }
    }
}

/// <summary>The node's data directory cannot be used; the message names the directory or file and why.</summary>
public sealed class NodeDataException : Exception
{
    /// <summary>Creates the error.</summary>
    public NodeDataException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
